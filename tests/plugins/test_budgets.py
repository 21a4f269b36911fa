"""Budget discovery at DAG-parse time."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

from mlbudget_airflow.budgets import config_dir, discover

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "configs" / "budgets"


def test_config_dir_defaults_to_configs_next_to_the_dags_folder(monkeypatch, tmp_path):
    monkeypatch.delenv("MLBUDGET_CONFIG_DIR", raising=False)
    assert config_dir(ROOT / "dags") == SHIPPED
    monkeypatch.setenv("MLBUDGET_CONFIG_DIR", str(tmp_path))
    assert config_dir(ROOT / "dags") == tmp_path.resolve()


def test_discover_reads_schedule_and_queue_of_each_budget():
    entries = {e.stem: e for e in discover(SHIPPED)}
    assert set(entries) == {p.stem for p in SHIPPED.glob("*.yaml")}
    assert entries["demo"].schedule == "@daily" and entries["demo"].queue == "cpu"
    assert entries["demo"].model_name == "demo-classifier"


class _Records(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def test_invalid_and_duplicate_documents_are_left_out(tmp_path):
    shutil.copy(SHIPPED / "demo.yaml", tmp_path / "demo.yaml")
    shutil.copy(SHIPPED / "demo.yaml", tmp_path / "demo.yml")
    (tmp_path / "typo.yaml").write_text("name: x\nversion: 1.0.0\nowner: me\nlimitz: {}\n")
    (tmp_path / "notes.txt").write_text("not a budget")
    records = _Records()
    logger = logging.getLogger("mlbudget_airflow.budgets")
    logger.addHandler(records)
    try:
        assert [e.stem for e in discover(tmp_path)] == ["demo"]
    finally:
        logger.removeHandler(records)
    messages = "\n".join(records.messages)
    assert "demo.yml" in messages and "already uses the id 'demo'" in messages
    assert "typo.yaml" in messages and "limitz" in messages


def test_a_missing_directory_gives_no_budgets(tmp_path):
    assert discover(tmp_path / "nope") == []
