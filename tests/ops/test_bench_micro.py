"""``python -m uvrpc.bench.micro --validation``: a server's reading of requests
into the handler's keyword arguments, through the parameters model and quickly."""

from __future__ import annotations

import timeit

import msgpack
import pytest

from uvrpc.bench import micro


def test_both_ways_read_the_same_arguments_and_the_flat_shapes_are_quick() -> None:
    for name, method, args in micro._SHAPES:
        body = msgpack.packb(args, use_bin_type=True)
        assert method.read_kwargs(body, ()) == method.read_params(body, ()).__dict__
        flat = method.read_kwargs != method.read_kwargs_by_model
        assert flat == ("not flat" not in name), name


def test_one_row_per_shape_with_each_stage_timed() -> None:
    rows = micro.validation_cost(rounds=2, number=5)
    assert [row[0] for row in rows] == [shape[0] for shape in micro._SHAPES]
    assert all(len(runs) == 2 for row in rows for runs in row[2:])
    assert all(time > 0 for row in rows for runs in row[2:] for time in runs)


def test_the_server_stage_restores_the_quick_reading(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    model, quick = micro.server_validation_cost(rounds=2, number=5)
    assert len(model) == len(quick) == 2
    echo = micro._SHAPES[0][1]
    chosen = echo.read_kwargs
    assert chosen != echo.read_kwargs_by_model

    class Interrupted(timeit.Timer):
        def timeit(self, number: int = 0) -> float:
            raise KeyboardInterrupt

    # Stopped while the model's reading is set, the stage still puts the
    # quick one back.
    monkeypatch.setattr(timeit, "Timer", Interrupted)
    with pytest.raises(KeyboardInterrupt):
        micro.server_validation_cost(rounds=1, number=1)
    assert echo.read_kwargs == chosen


def test_the_option_prints_only_the_validation_table(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("validation_cost", "server_validation_cost"):
        cost = getattr(micro, name)
        monkeypatch.setattr(
            micro, name, lambda rounds, cost=cost: cost(rounds=rounds, number=5)
        )
    assert micro.main(["--validation", "1"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "median of 1 alternating rounds" in lines[0]
    assert lines[1].split()[-4:] == ["decode", "model", "quick", "ratio"]
    assert len(lines) == 2 + len(micro._SHAPES) + 1
    assert lines[-1].startswith("server: decode + validate request")
