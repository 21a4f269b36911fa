"""The pytest plugin, loaded through its ``pytest11`` entry point in a separate pytest process (pytester):
the ``--mlbudget-*`` options add a ``mlbudget-gate`` test, and the ``mlbudget_gate`` fixture fails a test with
the breaches."""

from __future__ import annotations

import pytest

from tests.gate.conftest import write_budget

pytest_plugins = ["pytester"]

pytestmark = pytest.mark.slow


def test_options_add_a_gate_test_and_the_fixture_fails_with_the_breaches(pytester, gate_models, tmp_path):
    fits = write_budget(tmp_path / "fits.yaml", latency={"p95_ms": 50.0}, accuracy={"minimum": 0.9, "max_drop": 0.05})
    too_small = write_budget(tmp_path / "small.yaml", max_model_size_mb=0.0001)
    pytester.makepyfile(
        test_project=f"""
        def test_fixture_gate(mlbudget_gate):
            result = mlbudget_gate(rounds=1)
            assert result.passed and result.report.accuracy == 1.0

        def test_fixture_check_fails(mlbudget_gate):
            mlbudget_gate.check(budget={str(too_small)!r}, reference=None, rounds=1)
        """
    )
    result = pytester.runpytest_subprocess(
        "-p",
        "no:cacheprovider",
        "-rA",
        f"--mlbudget-budget={fits}",
        f"--mlbudget-model={gate_models.fast}",
        f"--mlbudget-reference={gate_models.reference}",
        "--mlbudget-rounds=1",
        "--mlbudget-fast",
        timeout=300,
    )
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(["PASSED*mlbudget-gate*", "FAILED test_project.py::test_fixture_check_fails*"])
    result.stdout.fnmatch_lines(["*breaks budget gated 1.0.0:*", "*  size * MB > * MB*"])


def test_without_options_the_plugin_adds_nothing(pytester):
    pytester.makepyfile("def test_one():\n    assert True\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--help")
    result.stdout.fnmatch_lines(["*--mlbudget-budget*", "*--mlbudget-tracking-uri*"])
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
