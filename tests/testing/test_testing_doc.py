"""``docs/testing.md``'s examples pass as written: its conftest and test files run
in a real inner pytest with the plugin, warnings as errors."""

from __future__ import annotations

import pytest
from conftest import ROOT
from docblocks import blocks

TESTING = ROOT / "docs" / "testing.md"


def test_the_examples_pass(pytester: pytest.Pytester) -> None:
    memory, conftest, tests = blocks(TESTING, "python")
    assert conftest.text.startswith("# conftest.py\n"), conftest
    assert tests.text.startswith("# test_calculator.py\n"), tests
    pytester.makeconftest(conftest.text)
    # The inner run is in this process, so its modules are named apart from
    # the suite's own (tests/wire/test_memory.py is already imported).
    pytester.makepyfile(test_doc_calculator=tests.text, test_doc_memory=memory.text)
    result = pytester.runpytest(
        "-p", "no:uvrpc", "-p", "uvrpc.pytest_plugin", "-W", "error"
    )
    result.assert_outcomes(passed=5, warnings=0)
