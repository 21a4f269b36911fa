from mlbudget.budget.model import Budget
from mlbudget.detection.budget_checks import check_model_size as model_size_finding


def _budget(limit):
    return Budget(name="m", version="1.0.0", owner="t", limits={"max_model_size_mb": limit}, warn_margin=0.1)


def test_model_size_finding_statuses():
    assert model_size_finding(6.5, _budget(4.0)).status == "violation"
    assert model_size_finding(6.5, _budget(4.0)).message == "model size 6.50 MB > 4.00 MB"
    assert model_size_finding(3.8, _budget(4.0)).status == "warn"
    assert model_size_finding(1.7, _budget(4.0)).status == "ok"
    unset = Budget(name="m", version="1.0.0", owner="t", limits={})
    assert model_size_finding(1.7, unset).status == "info"
