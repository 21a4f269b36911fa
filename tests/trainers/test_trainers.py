"""Trainers and the ``train`` generator: a user's command, a scikit-learn pipeline refit, the demo MLP.

Real parts: skl2onnx pipelines adopted with the adoption code, real subprocesses for the command
trainer (a script that fails, hangs or writes nothing), the cycle's own ``compete.generate`` on a
cycle directory the test writes in the shape ``prepare`` leaves (context, state, budget, champion,
data): observing and detecting a window are not what is tested here.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from mlbudget.budget.model import Budget
from mlbudget.candidates import Candidate, CandidateGenerator, GenerationData
from mlbudget.errors import BudgetError
from mlbudget.models.bundle import ModelBundle
from mlbudget.models.signature import read_signature, signature_mismatch
from mlbudget.trainers import TrainingError

NUMERIC = ["a", "b", "c"]
PY = sys.executable

FACTORY = """
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler


def make():
    prep = ColumnTransformer([("num", StandardScaler(), ["a", "b", "c"]), ("cat", OneHotEncoder(), ["band"])])
    return Pipeline([("prep", prep), ("clf", LogisticRegression(max_iter=300, C=0.5))])
"""


def _budget_doc(trainer: dict | None = None) -> dict:
    doc = {
        "name": "tiny-pipeline",
        "version": "1.0.0",
        "owner": "tests",
        "limits": {"latency": {"p95_ms": 50.0}, "accuracy": {"minimum": 0.6, "max_drop": 0.1}},
    }
    if trainer is not None:
        doc["candidates"] = {"generators": {"train": {"trainer": trainer}}}
    return doc


@pytest.fixture(scope="module")
def factory_module(tmp_path_factory):
    root = tmp_path_factory.mktemp("factory")
    (root / "tiny_factory.py").write_text(FACTORY)
    sys.path.insert(0, str(root))
    yield "tiny_factory:make"
    sys.path.remove(str(root))


@pytest.fixture(scope="module")
def champion(tmp_path_factory, factory_module):
    """A skl2onnx pipeline (double and string inputs, plain probability tensor) adopted as champion."""
    import importlib

    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import DoubleTensorType, StringTensorType

    from mlbudget.adoption.adopt import build_adopted_bundle

    rng = np.random.default_rng(0)
    n = 600
    frame = pd.DataFrame(rng.normal(size=(n, 3)), columns=NUMERIC)
    frame["band"] = np.where(frame["a"] > 0.3, "high", "low")
    frame["label"] = (frame["a"] + 0.5 * frame["b"] + rng.normal(0, 0.5, n) > 0).astype("int64")
    train, rest = frame.iloc[:400].reset_index(drop=True), frame.iloc[400:].reset_index(drop=True)
    pipe = importlib.import_module("tiny_factory").make().fit(train.drop(columns="label"), train["label"])
    types = [(c, DoubleTensorType([None, 1])) for c in NUMERIC] + [("band", StringTensorType([None, 1]))]
    onx = convert_sklearn(pipe, initial_types=types, target_opset={"": 17, "ai.onnx.ml": 3}, options={"zipmap": False})
    root = tmp_path_factory.mktemp("champion") / "bundle"
    root.mkdir()
    (root / "model.onnx").write_bytes(onx.SerializeToString())
    build_adopted_bundle(root, Budget.model_validate(_budget_doc()), train, "label", "test")
    bundle = ModelBundle(root)
    candidate = Candidate(
        name="champion",
        bundle_dir=str(root),
        generator="champion",
        sha256=bundle.sha256(),
        size_mb=bundle.size_mb(),
        lineage=bundle.lineage(),
        is_champion=True,
    )
    return candidate, rest


def _script(tmp_path: Path, body: str) -> str:
    path = tmp_path / "train_script.py"
    path.write_text("import sys, shutil, time\nargs = dict(zip(sys.argv[1::2], sys.argv[2::2]))\n" + body)
    return str(path)


def _argv(script: str) -> list[str]:
    return [PY, script, "--data", "{data}", "--parent", "{parent}", "--out", "{output_dir}", "--label", "{label}"]


def _generate(champion, tmp_path, trainer: dict, fresh: pd.DataFrame | None = None):
    candidate, _ = champion
    budget = Budget.model_validate(_budget_doc(trainer))
    data = GenerationData()
    if fresh is not None:
        fresh.to_parquet(tmp_path / "fresh.parquet", index=False)
        data = GenerationData(fresh_labelled_path=str(tmp_path / "fresh.parquet"))
    config = budget.candidates.generators["train"]
    return CandidateGenerator.lookup("train")(config).generate(candidate, data, budget, tmp_path / "out")


def test_command_trainer_gets_the_rows_and_its_log_is_kept(champion, tmp_path):
    script = _script(
        tmp_path,
        "import pandas as pd\n"
        "rows = pd.read_parquet(args['--data'])\n"
        "print('rows', len(rows), 'label', args['--label'], 'columns', ','.join(rows.columns))\n"
        "shutil.copyfile(args['--parent'], args['--out'] + '/model.onnx')\n",
    )
    _, rest = champion
    [made] = _generate(champion, tmp_path, {"name": "command", "argv": _argv(script), "timeout_s": 60}, fresh=rest)
    log = (Path(made.bundle_dir) / "train.log").read_text()
    assert "rows 600 label label columns a,b,c,band,label" in log  # 400 reference + 200 fresh rows
    assert made.lineage.generator == "train" and made.lineage.config["training_rows"] == 600
    assert made.lineage.config["trainer"]["name"] == "command"


@pytest.mark.parametrize(
    ("body", "timeout", "message"),
    [
        ("print('loading data'); print('out of memory', file=sys.stderr); sys.exit(3)\n", 60, "exit status 3"),
        ("print('epoch 1', flush=True); time.sleep(60)\n", 1.5, "ran past its timeout of 1.5 s and was killed"),
        ("print('done, but forgot to save')\n", 60, "wrote no model.onnx"),
    ],
    ids=["non-zero-exit", "timeout", "no-model"],
)
def test_command_trainer_failures_are_training_errors_with_the_log(champion, tmp_path, body, timeout, message):
    script = _script(tmp_path, body)
    with pytest.raises(TrainingError) as err:
        _generate(champion, tmp_path, {"name": "command", "argv": _argv(script), "timeout_s": timeout})
    text = str(err.value)
    assert message in text
    assert "train.log" in text and "last line:" in text
    log = next((tmp_path / "out").glob("*.work/output/train.log"))
    assert log.is_file()


def test_sklearn_pipeline_trainer_refits_and_keeps_the_signature(champion, tmp_path, factory_module):
    candidate, rest = champion
    [made] = _generate(champion, tmp_path, {"name": "sklearn_pipeline", "factory": factory_module}, fresh=rest)
    old = read_signature(ModelBundle(candidate.bundle_dir).onnx_path)
    new = read_signature(ModelBundle(made.bundle_dir).onnx_path)
    assert signature_mismatch(old, new) is None
    assert made.sha256 != candidate.sha256  # refit on 600 rows instead of 400: a different model


@pytest.mark.parametrize(
    ("trainer", "message"),
    [
        ({"name": "command", "argv": ["python", "{dataset}"]}, "unknown placeholder {dataset}"),
        ({"name": "command"}, "trainer command: argv"),
        ({"name": "commando", "argv": ["x"]}, "unknown trainer 'commando'"),
        ({"name": "command", "argv": ["x"], "timeout": 5}, "timeout: unknown field"),
        ({"name": "sklearn_pipeline", "factory": "no colon"}, "trainer sklearn_pipeline: factory"),
    ],
)
def test_trainer_declarations_are_checked_when_the_budget_loads(trainer, message):
    from mlbudget.budget.loader import load_budget_text

    with pytest.raises(BudgetError) as err:
        load_budget_text(yaml.safe_dump(_budget_doc(trainer)))
    assert message in str(err.value)


def _cycle_dir(root: Path, champion, trainer: dict) -> Path:
    """A cycle directory as ``prepare`` leaves it (context, state, budget, champion, data)."""
    import shutil

    from mlbudget.cycle.context import CycleContext
    from mlbudget.cycle.layout import CycleLayout, write_json
    from mlbudget.cycle.state import CycleState

    candidate, rest = champion
    layout = CycleLayout(root / "cycle")
    layout.root.mkdir(parents=True)
    layout.budget.write_text(yaml.safe_dump(_budget_doc(trainer)))
    write_json(layout.context, CycleContext(budget_path=str(layout.budget), workdir=str(root), fast=True))
    state = CycleState(
        cycle_key="k",
        budget_name="tiny-pipeline",
        budget_version="1.0.0",
        budget_sha256="0" * 64,
        tracking_uri=f"sqlite:///{root / 'mlflow.db'}",
        champion_sha256=candidate.sha256,
        window_start="2026-10-31T00:00:00+00:00",
        window_end="2026-11-01T00:00:00+00:00",
    )
    write_json(layout.state, state)
    shutil.copytree(candidate.bundle_dir, layout.champion)
    layout.data.mkdir()
    rest.drop(columns="label").to_parquet(layout.data / "calibration.parquet", index=False)
    rest.to_parquet(layout.data / "fresh.parquet", index=False)
    champ = candidate.model_copy(update={"bundle_dir": str(layout.champion)})
    write_json(layout.candidates / "champion.json", champ)
    return layout.root


@pytest.mark.parametrize(
    ("body", "timeout", "message"),
    [
        ("sys.exit(2)\n", 60, "exit status 2"),
        ("time.sleep(60)\n", 1.0, "ran past its timeout"),
        ("pass\n", 60, "wrote no model.onnx"),
    ],
    ids=["non-zero-exit", "timeout", "no-model"],
)
def test_a_failing_trainer_is_a_recorded_generator_failure_and_the_cycle_goes_on(
    champion, tmp_path, body, timeout, message
):
    from mlbudget.cycle import compete
    from mlbudget.cycle.state import open_cycle

    script = _script(tmp_path, body)
    cycle_dir = _cycle_dir(tmp_path, champion, {"name": "command", "argv": _argv(script), "timeout_s": timeout})
    assert compete.generate(str(cycle_dir), "train") == []
    errors = compete.generation_errors(open_cycle(cycle_dir))
    assert message in errors["train@champion"] and errors["train@champion"].startswith("TrainingError")
    assert compete.generate(str(cycle_dir), "float32") == ["float32@champion"]  # the next generator still runs
    assert compete.candidate_names(str(cycle_dir)) == ["champion", "float32@champion"]


@pytest.mark.slow
def test_demo_mlp_trainer_trains_the_demo_model(tmp_path):
    from mlbudget.demo.data import make_dataset
    from mlbudget.demo.model import train_demo_champion

    parent = train_demo_champion(tmp_path / "champion", rows=600, seed=0, hidden=(16,), epochs=1)
    fresh = make_dataset(300, seed=5)
    fresh.to_parquet(tmp_path / "fresh.parquet", index=False)
    budget = Budget.model_validate(_budget_doc({"name": "demo_mlp", "epochs": 1}))
    data = GenerationData(fresh_labelled_path=str(tmp_path / "fresh.parquet"))
    gen = CandidateGenerator.lookup("train")(budget.candidates.generators["train"])
    [made] = gen.generate(parent, data, budget, tmp_path / "out")
    assert (
        signature_mismatch(
            read_signature(parent.bundle_dir + "/model.onnx"), read_signature(made.bundle_dir + "/model.onnx")
        )
        is None
    )
    assert (Path(made.bundle_dir) / "torch.pt").is_file()  # the trained program, not the parent's
    assert (Path(made.bundle_dir) / "torch.pt").read_bytes() != (Path(parent.bundle_dir) / "torch.pt").read_bytes()
