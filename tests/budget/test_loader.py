"""Loading budget documents: every refusal names the problem in one line, no traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlbudget.budget.loader import field_path, load_budget, load_budget_text
from mlbudget.budget.model import Budget
from mlbudget.errors import BudgetError, ConfigError

REPO = Path(__file__).resolve().parents[2]
SHIPPED = sorted((REPO / "configs" / "budgets").glob("*.yaml"))

MINIMAL = """\
name: tiny
version: 0.1.0
owner: team-a
limits:
  latency: {p50_ms: 1.0, p95_ms: 2.0, p99_ms: 4.0}
"""


def refuse(text: str) -> list[str]:
    with pytest.raises(BudgetError) as info:
        load_budget_text(text, source="b.yaml")
    assert info.value.path == "b.yaml"
    return info.value.problems


def test_shipped_budgets_exist():
    assert {p.name for p in SHIPPED} >= {"demo.yaml", "fraud-scoring.yaml"}


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_shipped_budgets_validate(path):
    budget = load_budget(path)
    assert isinstance(budget, Budget)
    assert budget.limits.latency.concurrency in budget.load.concurrency


def test_demo_budget_values():
    demo = load_budget(REPO / "configs" / "budgets" / "demo.yaml")
    assert demo.name == "demo-classifier"
    assert (demo.limits.latency.p50_ms, demo.limits.latency.p95_ms, demo.limits.latency.p99_ms) == (0.8, 1.0, 2.0)
    assert demo.load.concurrency == [1, 2]
    assert demo.load.batch_size == 32
    assert demo.hardware.queue == "cpu"
    assert demo.limits.accuracy is not None and demo.limits.accuracy.minimum == 0.70
    assert demo.schedule == "@daily"


def test_minimal_document_fills_defaults():
    budget = load_budget_text(MINIMAL)
    assert budget.schema_version == 1
    assert budget.hardware.provider == "CPUExecutionProvider"
    assert budget.limits.min_throughput_rps is None


def test_budget_error_is_a_config_error_with_exit_code_2():
    with pytest.raises(ConfigError) as info:
        load_budget_text("")
    assert info.value.exit_code == 2


def test_missing_file(tmp_path):
    with pytest.raises(BudgetError, match=r"nope\.yaml: file not found"):
        load_budget(tmp_path / "nope.yaml")


def test_directory_is_not_a_file(tmp_path):
    with pytest.raises(BudgetError, match="not a file"):
        load_budget(tmp_path)


def test_not_utf8(tmp_path):
    path = tmp_path / "b.yaml"
    path.write_bytes(b"name: \xff\xfe\n")
    with pytest.raises(BudgetError, match="cannot read file"):
        load_budget(path)


@pytest.mark.parametrize("text", ["", "   \n\n"])
def test_empty_file(text):
    with pytest.raises(BudgetError, match="b.yaml: file is empty"):
        load_budget_text(text, source="b.yaml")


def test_only_comments():
    with pytest.raises(BudgetError, match="document is empty"):
        load_budget_text("# nothing here\n")


def test_not_yaml_says_the_line():
    with pytest.raises(BudgetError, match=r"not valid YAML at line 3, column 9: mapping values are not allowed here"):
        load_budget_text("name: x\nversion: 1.0.0\nowner: a: b\n")


def test_two_documents_refused():
    with pytest.raises(BudgetError, match="expected a single document"):
        load_budget_text(MINIMAL + "---\nname: other\n")


def test_list_instead_of_mapping():
    with pytest.raises(BudgetError, match="expected a mapping at the top level, got a list"):
        load_budget_text("- name: x\n- version: 1.0.0\n")


def test_scalar_instead_of_mapping():
    with pytest.raises(BudgetError, match=r"expected a mapping at the top level, got a scalar \(str 'hello'\)"):
        load_budget_text("hello\n")


@pytest.mark.parametrize("value", ["7", "2", "'1'", "true", "1.0"])
def test_unsupported_schema_version_checked_before_fields(value):
    # The rest of the document is invalid too: only the version is reported.
    problems = refuse(f"schema_version: {value}\nlimits: {{latencyy: 1}}\n")
    assert len(problems) == 1
    assert problems[0].startswith("schema_version: unsupported value ")
    assert problems[0].endswith("(this release reads 1)")


def test_unsupported_schema_version_message():
    with pytest.raises(BudgetError, match=r"schema_version: unsupported value 7 \(this release reads 1\)"):
        load_budget_text("schema_version: 7\n" + MINIMAL)


def test_alias_bomb_refused():
    bomb = "\n".join(
        ["a: &a [x, x, x, x, x, x, x, x, x]"]
        + [f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]" for i in range(8)]
    )
    with pytest.raises(BudgetError, match="YAML anchors and aliases are not allowed"):
        load_budget_text(bomb)


def test_alias_without_anchor_refused():
    with pytest.raises(BudgetError, match=r"YAML aliases are not allowed \(line 1\)"):
        load_budget_text("x: *a\n")


def test_merge_key_refused():
    with pytest.raises(BudgetError, match="aliases are not allowed"):
        load_budget_text("base: &b {p50_ms: 1}\nlimits:\n  latency:\n    <<: *b\n")


def test_duplicate_key_refused():
    text = MINIMAL + "owner: team-b\n"
    with pytest.raises(BudgetError, match=r"duplicate key 'owner' \(line 6\)"):
        load_budget_text(text)


def test_python_tags_refused():
    with pytest.raises(BudgetError, match="not valid YAML"):
        load_budget_text("name: !!python/object/apply:os.system ['true']\n")


def test_unknown_key_typo_suggests_the_field():
    problems = refuse(MINIMAL.replace("  latency:", "  latencyy:"))
    assert problems == [
        (
            "limits.latencyy: unknown field, did you mean 'latency'? "
            "(allowed: latency, stages, min_throughput_rps, max_peak_rss_mb, max_model_size_mb, max_error_rate, "
            "max_energy_mj_per_inference, accuracy)"
        )
    ]


def test_unknown_key_inside_dict_of_models():
    text = MINIMAL + "monitoring:\n  drift:\n    per_feature:\n      age: {ignor: true}\n"
    with pytest.raises(
        BudgetError, match=r"monitoring\.drift\.per_feature\.age\.ignor: unknown field, did you mean 'ignore'"
    ):
        load_budget_text(text)


def test_p50_above_p95():
    with pytest.raises(BudgetError, match=r"limits\.latency: p50_ms \(3\) must be <= p95_ms \(2\)"):
        load_budget_text(MINIMAL.replace("p50_ms: 1.0", "p50_ms: 3"))


def test_latency_concurrency_not_in_load():
    text = MINIMAL.replace("  latency: {", "  latency: {concurrency: 4, ") + "load: {concurrency: [1, 2]}\n"
    with pytest.raises(
        BudgetError, match=r"limits\.latency\.concurrency: must be one of load\.concurrency \[1, 2\] \(got 4\)"
    ):
        load_budget_text(text)


def test_missing_required_fields():
    problems = refuse("limits: {}\n")
    assert problems == [
        "name: required field missing",
        "version: required field missing",
        "owner: required field missing",
    ]


@pytest.mark.parametrize(
    ("patch", "expected"),
    [
        ("p95_ms: 2.0", "limits.latency.p95_ms: must be > 0 (got -1)"),
        ("p95_ms: 2.0", "limits.latency.p95_ms: must be a number (got 'fast')"),
    ],
    ids=["greater_than", "float_parsing"],
)
def test_latency_value_messages(patch, expected):
    bad = expected.split("got ")[1].rstrip(")").strip("'")
    problems = refuse(MINIMAL.replace(patch, f"p95_ms: {bad}"))
    assert expected in problems


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (
            "hardware: {graph_optimization: full}",
            "hardware.graph_optimization: must be one of 'disable', 'basic', 'extended', 'all' (got 'full')",
        ),
        ("hardware: {intra_op_threads: many}", "hardware.intra_op_threads: must be an integer (got 'many')"),
        ("hardware: {intra_op_threads: 0}", "hardware.intra_op_threads: must be >= 1 (got 0)"),
        ("hardware: {intra_op_threads: 1000}", "hardware.intra_op_threads: must be <= 256 (got 1000)"),
        ("warn_margin: 1", "warn_margin: must be < 1 (got 1)"),
        ("load: {concurrency: [1, 1]}", "load.concurrency: concurrency levels must be unique"),
        ("load: {concurrency: []}", "load.concurrency: must have at least 1 item(s)"),
        ("load: 5", "load: must be a mapping (got 5)"),
        ("load: {mode: open}", "load: target_rps is required when mode is 'open'"),
        (
            "monitoring: {window: 3x}",
            "monitoring.window: expected a duration such as '90s', '15m', '1h' or '7d', got '3x'",
        ),
        (
            "policy: {rules: [{when: [driftt], actions: [retrain]}]}",
            (
                "policy.rules[0].when[0]: must be one of 'latency', 'throughput', 'memory', 'model_size', "
                "'error_rate', 'latency_creep', 'drift', 'prediction_drift', 'accuracy', 'preprocess_latency', "
                "'inference_latency', 'postprocess_latency' (got 'driftt')"
            ),
        ),
        ("promotion: {auto_promote: maybe}", "promotion.auto_promote: must be true or false (got 'maybe')"),
        ("schedule: [1]", "schedule: must be a string (got [1])"),
    ],
)
def test_field_messages(extra, expected):
    assert expected in refuse(MINIMAL + extra + "\n")


def test_pattern_messages():
    problems = refuse(MINIMAL.replace("name: tiny", "name: -bad name").replace("version: 0.1.0", "version: '1'"))
    assert (
        "name: must be 1-100 letters, digits, '_', '.' or '-', starting with a letter or digit (got '-bad name')"
        in problems
    )
    assert "version: must be a semantic version such as 1.2.0 (got '1')" in problems


def test_empty_owner():
    assert "owner: must not be empty" in refuse(MINIMAL.replace("owner: team-a", "owner: ''"))


def test_accuracy_bounds():
    problems = refuse(MINIMAL + "  accuracy: {minimum: 1.5}\n")
    assert problems == ["limits.accuracy.minimum: must be <= 1 (got 1.5)"]


def test_every_problem_is_reported_once_per_line():
    text = MINIMAL.replace("owner: team-a", "owner: ''") + "hardware: {queue: 3, gpu: true}\n"
    problems = refuse(text)
    assert len(problems) == len(set(problems)) == 3
    assert all("\n" not in p for p in problems)


@pytest.mark.parametrize(
    ("loc", "path"),
    [((), ""), (("name",), "name"), (("policy", "rules", 0, "when", 1), "policy.rules[0].when[1]")],
)
def test_field_path(loc, path):
    assert field_path(loc) == path
