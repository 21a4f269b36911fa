import json

import pytest

from mlbudget.cycle.context import CycleContext
from mlbudget.cycle.layout import read_json, write_json
from mlbudget.errors import InputError


def test_write_json_is_atomic_and_leaves_no_temp_files(tmp_path):
    path = tmp_path / "sub" / "out.json"
    write_json(path, {"a": 1})
    write_json(path, {"a": 2})
    assert json.loads(path.read_text()) == {"a": 2}
    assert [p.name for p in path.parent.iterdir()] == ["out.json"]


def test_read_json_names_the_missing_file(tmp_path):
    with pytest.raises(InputError, match=r"decision.json: missing"):
        read_json(tmp_path / "decision.json")
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(InputError, match=r"bad.json: not valid JSON"):
        read_json(tmp_path / "bad.json")


def test_cycle_key_depends_on_every_input_that_decides_the_outcome():
    base = CycleContext(budget_path="b.yaml", window_end="2026-11-01T00:00:00Z")
    key = base.cycle_key("abc")
    assert base.cycle_key("abc") == key
    assert base.model_copy(update={"reason": "other words"}).cycle_key("abc") == key
    assert base.cycle_key("abd") != key
    assert base.model_copy(update={"dry_run": True}).cycle_key("abc") != key
    assert base.model_copy(update={"actions": ["retrain"]}).cycle_key("abc") != key
    later = CycleContext(budget_path="b.yaml", window_end="2026-11-02T00:00:00Z")
    assert later.cycle_key("abc") != key


def test_naive_window_end_is_taken_as_utc():
    ctx = CycleContext(budget_path="b.yaml", window_end="2026-11-01T00:00:00")
    assert ctx.window_end.utcoffset().total_seconds() == 0
