"""Adopting foreign models into real MLflow (SQLite): what is registered, idempotence, the ledger,
MLflow model URIs as the source, and bad input that registers nothing."""

from __future__ import annotations

import json

import mlflow
import pytest
from typer.testing import CliRunner

from mlbudget.adoption import adopt_model
from mlbudget.cli.main import app
from mlbudget.detection.drift.profile import ReferenceProfile
from mlbudget.models.bundle import ModelBundle
from mlbudget.models.quality import read_reference_quality
from mlbudget.registry.store import MlflowRegistry

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return f"sqlite:///{tmp_path_factory.mktemp('mlflow') / 'mlflow.db'}"


@pytest.fixture(scope="module")
def adopted(sk_pipeline, make_budget, store):
    budget = make_budget("bc-pipeline", sk_pipeline.accuracy)
    first = adopt_model(
        budget, sk_pipeline.onnx, sk_pipeline.reference, tracking_uri=store, reason="first model", who="alice"
    )
    again = adopt_model(budget, sk_pipeline.onnx, sk_pipeline.reference, tracking_uri=store, who="bob")
    return budget, first, again


def test_registers_the_champion_with_its_contract_and_reference(adopted, store, tmp_path):
    budget, first, _ = adopted
    assert (first.version, first.created, first.promoted) == ("1", True, True)
    assert (first.task, first.adapter, first.classes) == ("classification", "columns", [0, 1])
    assert first.reference_quality > 0.9  # accuracy of the pipeline on its own training rows
    client = mlflow.MlflowClient(store)
    assert {k: str(v) for k, v in client.get_registered_model("bc-pipeline").aliases.items()} == {"champion": "1"}
    tags = client.get_model_version("bc-pipeline", "1").tags
    assert tags["mlbudget.budget.name"] == "bc-pipeline" and tags["mlbudget.content_sha256"] == first.sha256
    _, folder = MlflowRegistry(store).champion("bc-pipeline", tmp_path / "champion")
    bundle = ModelBundle(folder)
    contract = bundle.contract()
    assert [i.elem_type for i in contract.signature.inputs] == ["double"] * 5 + ["string"]
    assert (contract.outputs.label, contract.outputs.scores, contract.outputs.scores_kind) == (
        "label",
        "probabilities",
        "probabilities",
    )
    assert [f.name for f in contract.categorical] == ["size_band"]
    profile = ReferenceProfile.load(bundle.profile_path)
    assert profile.rows == 350 and set(profile.columns) == set(contract.columns)
    # the champion's own level travels with it: production quality is compared with it
    level = read_reference_quality(folder, budget.limits.accuracy.metric)
    assert level is not None and level.value == pytest.approx(first.reference_quality) and level.rows == 350


def test_adopting_again_is_a_no_op_with_one_ledger_entry(adopted, store):
    _, first, again = adopted
    assert (again.version, again.created, again.promoted, again.sha256) == ("1", False, False, first.sha256)
    entries = MlflowRegistry(store).ledger("bc-pipeline")
    adoptions = [e for e in entries if e["action"] == "adopt"]
    assert len(adoptions) == 1
    assert (adoptions[0]["actor"], adoptions[0]["reason"], adoptions[0]["version"]) == ("alice", "first model", "1")
    assert len(mlflow.MlflowClient(store).search_model_versions("name='bc-pipeline'")) == 1


def test_an_mlflow_model_uri_is_a_source(adopted, make_budget, sk_pipeline, store):
    _, first, _ = adopted
    budget = make_budget("bc-copy", sk_pipeline.accuracy)
    copy = adopt_model(budget, "models:/bc-pipeline/1", sk_pipeline.reference, tracking_uri=store)
    assert copy.sha256 == first.sha256 and copy.version == "1"  # the graph travels byte for byte


def _cli(*args):
    return CliRunner().invoke(app, ["adopt", *map(str, args)])


@pytest.fixture()
def budget_file(tmp_path, make_budget, sk_pipeline):
    import yaml

    path = tmp_path / "bc.yaml"
    doc = make_budget("bc-cli", sk_pipeline.accuracy).model_dump(mode="json", exclude_none=True)
    path.write_text(yaml.safe_dump(doc))
    return path


def test_cli_adopts_and_re_adopts_with_exit_0(budget_file, sk_pipeline, tmp_path):
    uri = f"sqlite:///{tmp_path / 'cli.db'}"
    args = ["--budget", budget_file, "--model", sk_pipeline.onnx, "--reference", sk_pipeline.reference]
    first = _cli(*args, "--tracking-uri", uri, "--json")
    assert first.exit_code == 0, first.output
    assert json.loads(first.stdout)["version"] == "1"
    again = _cli(*args, "--tracking-uri", uri)
    assert again.exit_code == 0 and "version 1 already registered, champion" in again.stdout


@pytest.mark.parametrize(
    ("case", "code", "message"),
    [
        ("no_label", 2, "reference data has no label column 'outcome'"),
        ("bad_onnx", 2, "not a valid ONNX model"),
        ("unfed", 2, "cannot feed the graph inputs"),
        ("unreachable", 3, "MLflow tracking server at http://127.0.0.1:9 unreachable"),
    ],
)
def test_cli_bad_input_registers_nothing(case, code, message, budget_file, sk_pipeline, gbr, tmp_path):
    uri = f"sqlite:///{tmp_path / 'bad.db'}"
    model, reference, extra = sk_pipeline.onnx, sk_pipeline.reference, []
    if case == "no_label":
        extra = ["--label", "outcome"]
    elif case == "bad_onnx":
        model = tmp_path / "broken.onnx"
        model.write_bytes(sk_pipeline.onnx.read_bytes()[:200])
    elif case == "unfed":
        reference = gbr.reference
        extra = ["--label", "progression"]
    elif case == "unreachable":
        uri = "http://127.0.0.1:9"
    result = _cli("--budget", budget_file, "--model", model, "--reference", reference, "--tracking-uri", uri, *extra)
    assert result.exit_code == code, result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and message in errors[0] and "Traceback" not in result.output
    if case != "unreachable":
        assert mlflow.MlflowClient(uri).search_registered_models() == []


def test_cli_adopts_a_pytorch_models_program_and_refuses_one_that_does_not_match(make_budget, torch_two, tmp_path):
    """``--program`` keeps the torch.export program as model.pt2, so INC becomes applicable; a program with the
    wrong inputs exits 2 naming the file, and nothing is registered."""
    import yaml

    from mlbudget.candidates import CandidateGenerator

    path = tmp_path / "digits.yaml"
    path.write_text(
        yaml.safe_dump(make_budget("digits", torch_two.accuracy).model_dump(mode="json", exclude_none=True))
    )
    uri = f"sqlite:///{tmp_path / 'torch.db'}"
    args = ["--budget", path, "--model", torch_two.onnx, "--reference", torch_two.reference, "--label", "digit"]
    wrong = tmp_path / "wrong.pt2"
    wrong.write_bytes(b"not a program")
    refused = _cli(*args, "--program", wrong, "--tracking-uri", uri)
    assert refused.exit_code == 2 and f"{wrong}: not a torch.export program" in refused.stderr, refused.output
    assert mlflow.MlflowClient(uri).search_registered_models() == []
    adopted = _cli(*args, "--program", torch_two.program, "--tracking-uri", uri)
    assert adopted.exit_code == 0, adopted.output
    _, folder = MlflowRegistry(uri).champion("digits", tmp_path / "champion")
    bundle = ModelBundle(folder)
    assert bundle.program_path is not None
    assert CandidateGenerator.lookup("inc_static_int8").not_applicable(bundle) is None
