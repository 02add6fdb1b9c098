"""``python -m uvrpc.bench.micro --validation``: a server's decode and check of
flat parameters, beside what building their model in Python costs."""

from __future__ import annotations

import msgpack
import pytest

from uvrpc.bench import micro
from uvrpc.wire.codec import unpack


def test_the_model_built_in_python_is_the_one_pydantic_returns() -> None:
    for _, method, args in micro._SHAPES:
        checked = method.check_params(unpack(msgpack.packb(args), ()))
        built = micro._built_in_python(method.params, dict(checked))()
        assert built == checked
        assert type(built) is type(checked)
        assert built.model_fields_set == checked.model_fields_set
        assert built.__pydantic_extra__ == checked.__pydantic_extra__


def test_one_row_per_shape_with_each_stage_timed() -> None:
    rows = micro.validation_cost(rounds=2, number=5)
    assert [row[0] for row in rows] == [shape[0] for shape in micro._SHAPES]
    assert all(time > 0 for row in rows for time in row[1:])


def test_the_option_prints_only_the_validation_table(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    cost = micro.validation_cost
    monkeypatch.setattr(
        micro, "validation_cost", lambda rounds: cost(rounds=rounds, number=5)
    )
    assert micro.main(["--validation", "1"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "least of 1 alternating rounds" in lines[0]
    assert lines[1].split()[-3:] == ["decode", "check", "build"]
    assert len(lines) == 2 + len(micro._SHAPES)
