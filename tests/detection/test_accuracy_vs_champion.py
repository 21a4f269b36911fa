"""Production quality against the champion's own level on its reference holdout, not only the floor."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from mlbudget.budget.model import Budget
from mlbudget.detection.accuracy import check_accuracy
from mlbudget.models.quality import ReferenceQuality, read_reference_quality, write_reference_quality

LEVEL = ReferenceQuality(metric="accuracy", value=0.90, rows=4000, measured_on="the training holdout")


def budget(max_drop: float = 0.02) -> Budget:
    limits = {"accuracy": {"metric": "accuracy", "minimum": 0.70, "max_drop": max_drop}}
    return Budget.model_validate({"name": "m", "version": "1.0.0", "owner": "t", "limits": limits})


def window(correct: int, total: int = 1000) -> pd.DataFrame:
    return pd.DataFrame({"prediction": [1] * total, "label": [1] * correct + [0] * (total - correct)})


def test_five_point_drop_from_the_champion_level_is_a_violation_above_the_floor():
    floor, versus = check_accuracy(window(850), budget(), LEVEL)  # 0.85: well above the 0.70 floor
    assert floor.status == "ok"
    assert versus.kind == "accuracy" and versus.status == "violation"
    assert versus.actual == pytest.approx(0.05) and versus.limit == 0.02
    assert versus.message.startswith("accuracy drop 0.050 > 0.020 (max_drop) against the champion's own level")
    assert "0.850 in production vs 0.900 on the training holdout" in versus.message


def test_drop_within_max_drop_is_ok_and_a_gain_is_ok():
    assert check_accuracy(window(890), budget(), LEVEL)[1].status == "ok"  # 0.010 of 0.020 allowed
    assert check_accuracy(window(950), budget(), LEVEL)[1].status == "ok"
    assert check_accuracy(window(881), budget(), LEVEL)[1].status == "warn"  # 0.019: within 10 % of the 0.020


def test_without_a_stored_level_only_the_floor_is_checked():
    assert [f.metric for f in check_accuracy(window(850), budget())] == ["accuracy"]


def test_level_read_from_quality_json_or_the_lineage(tmp_path):
    assert read_reference_quality(tmp_path, "accuracy") is None
    (tmp_path / "lineage.json").write_text(json.dumps({"config": {"holdout_accuracy": 0.91, "holdout_rows": 4000}}))
    assert read_reference_quality(tmp_path, "accuracy").value == 0.91
    assert read_reference_quality(tmp_path, "f1_macro") is None
    write_reference_quality(tmp_path, LEVEL)
    assert read_reference_quality(tmp_path, "accuracy") == LEVEL
