"""The deadline wheel: never early, at most a slot late, forgets completed calls."""

from __future__ import annotations

import asyncio

from uvrpc.deadlines import RESOLUTION, DeadlineWheel


def test_deadlines_fire_in_order_never_early() -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        fired: dict[int, float] = {}

        def expired(call_id: int) -> None:
            fired[call_id] = loop.time()

        wheel = DeadlineWheel(loop, expired)
        start = loop.time()
        for call_id, timeout in ((1, 0.05), (2, 0.0), (3, 0.12), (4, 0.051)):
            wheel.add(call_id, timeout)
        await asyncio.sleep(0.2)
        assert sorted(fired, key=fired.__getitem__) == [2, 1, 4, 3]
        for call_id, timeout in ((1, 0.05), (2, 0.0), (3, 0.12), (4, 0.051)):
            late = fired[call_id] - (start + timeout)
            assert 0 <= late, (call_id, late)
        wheel.close()

    asyncio.run(main())


def test_removed_calls_never_expire_and_close_cancels_timers() -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        fired: list[int] = []
        wheel = DeadlineWheel(loop, fired.append)
        slot = wheel.add(1, 0.02)
        wheel.add(2, 0.02)  # same slot
        wheel.remove(1, slot)
        later = wheel.add(3, 0.5)
        assert later > slot
        await asyncio.sleep(0.02 + 2 * RESOLUTION)
        assert fired == [2]
        wheel.close()  # call 3 is still registered: closing cancels its timer
        await asyncio.sleep(0.5 + 2 * RESOLUTION)
        assert fired == [2]

    asyncio.run(main())
