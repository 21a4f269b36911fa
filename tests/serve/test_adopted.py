"""`mlbudget serve` on adopted bundles: rows through the contract's input adapter, predictions of the
model's task, and a request log whose types the request_log source reads back.

Three real scikit-learn models through skl2onnx, adopted with the adoption library (no MLflow):

- ``sk_pipeline`` (tests/adoption/conftest.py): one named input per column (five ``double`` inputs and a
  ``string`` one), integer classes 0/1;
- ``named_classes`` (here): the same kind of pipeline with string classes ``benign``/``malignant``;
- ``gbr`` (tests/adoption/conftest.py): a GradientBoostingRegressor on one 2-D ``float`` input.

Expected predictions come from a plain ONNX Runtime session fed by hand, not through the adapters.
"""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pandas as pd
import pytest

from mlbudget.adoption.adopt import build_adopted_bundle
from mlbudget.serve.http import ModelServer, PredictService
from mlbudget.serve.log_writer import FILE_PATTERN, RequestLogWriter
from mlbudget.serve.metrics import ServerMetrics
from mlbudget.serve.predictor import Predictor
from mlbudget.sources.request_log import RequestLogSource
from tests.adoption.conftest import SK_NUMERIC, Foreign, _breast_cancer, foreign_budget
from tests.serve.test_server import metrics, post, rows_body

MODEL = "adopted"
ROWS = 25


@pytest.fixture(scope="session")
def named_classes(tmp_path_factory) -> Foreign:
    """Breast cancer through a skl2onnx pipeline (five float64 columns and a string one) with string classes."""
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import DoubleTensorType, StringTensorType
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    frame = _breast_cancer().sample(frac=1.0, random_state=1).reset_index(drop=True)
    frame["diagnosis"] = np.where(frame.pop("label") == 1, "benign", "malignant")
    train, rest = frame.iloc[:350], frame.iloc[350:].reset_index(drop=True)
    prep = ColumnTransformer(
        [("num", StandardScaler(), SK_NUMERIC), ("cat", OneHotEncoder(handle_unknown="ignore"), ["size_band"])]
    )
    pipe = Pipeline([("prep", prep), ("clf", LogisticRegression(max_iter=500))])
    pipe.fit(train.drop(columns="diagnosis"), train["diagnosis"])
    types = [(c, DoubleTensorType([None, 1])) for c in SK_NUMERIC] + [("size_band", StringTensorType([None, 1]))]
    onx = convert_sklearn(pipe, initial_types=types, target_opset={"": 17, "ai.onnx.ml": 3}, options={"zipmap": False})
    out = tmp_path_factory.mktemp("named_classes")
    (out / "model.onnx").write_bytes(onx.SerializeToString())
    train.to_parquet(out / "reference.parquet", index=False)
    return Foreign(out / "model.onnx", out / "reference.parquet", rest, "diagnosis", {"minimum": 0.8, "max_drop": 0.05})


def adopt_bundle(foreign: Foreign, root: Path) -> Path:
    """The bundle `mlbudget adopt` registers, written by the adoption library (contract.json, reference ...)."""
    root.mkdir(parents=True)
    shutil.copy(foreign.onnx, root / "model.onnx")
    reference = pd.read_parquet(foreign.reference)
    build_adopted_bundle(root, foreign_budget(MODEL, foreign.accuracy), reference, foreign.label, str(foreign.onnx))
    return root


def direct_predictions(onnx_path: Path, rows: list[dict], task: str) -> list:
    """Plain ONNX Runtime, fed by hand from the graph's own inputs: a 2-D float input takes every feature
    column in the rows' order; otherwise one (rows, 1) input per column of the input's type."""
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    inputs = session.get_inputs()
    if len(inputs) == 1 and inputs[0].type == "tensor(float)" and inputs[0].shape[1] != 1:
        feeds = {inputs[0].name: np.array([list(row.values()) for row in rows], dtype=np.float32)}
    else:
        dtypes = {"tensor(double)": np.float64, "tensor(float)": np.float32, "tensor(string)": object}
        feeds = {i.name: np.array([[row[i.name]] for row in rows], dtype=dtypes[i.type]) for i in inputs}
    first = session.run(None, feeds)[0]  # skl2onnx: the predicted label (classifiers), the value (regressors)
    if task == "regression":
        return [float(v) for v in np.asarray(first, dtype=np.float64).reshape(-1)]
    return np.asarray(first).reshape(-1).tolist()


def kind_of(column: pd.Series) -> str:
    """The column's dtype, any string dtype (``string``, pandas 3's ``str``) named ``string``."""
    return "string" if pd.api.types.is_string_dtype(column.dtype) else str(column.dtype)


CASES = {
    # fixture: (task, prediction dtype in the log, Python type of each prediction)
    "sk_pipeline": ("classification", "Int64", int),
    "named_classes": ("classification", "string", str),
    "gbr": ("regression", "float64", float),
}


@pytest.mark.slow  # skl2onnx and scikit-learn take seconds to import on a loaded 2-core machine
@pytest.mark.parametrize("name", list(CASES))
def test_adopted_bundle_serves_its_task_and_logs_typed_rows(name, request, tmp_path):
    task, dtype, kind = CASES[name]
    foreign: Foreign = request.getfixturevalue(name)
    bundle = adopt_bundle(foreign, tmp_path / "bundle")
    predictor = Predictor(bundle)
    assert predictor.spec is None and predictor.task == task and predictor.prediction_dtype == dtype
    columns = predictor.columns
    log_dir = tmp_path / "log"
    writer = RequestLogWriter(log_dir, columns, predictor.categorical, prediction_dtype=dtype, flush_seconds=0.2)
    server = ModelServer(PredictService(predictor, ServerMetrics(MODEL), writer), "127.0.0.1", 0).start()
    rows = foreign.rows[columns].iloc[:ROWS].to_dict("records")
    try:
        code, answer = post(server.url + "/predict", rows_body([{**row, "unused": [1]} for row in rows]))
        bad_code, bad = post(server.url + "/predict", rows_body([{**rows[0], columns[0]: "abc"}]))
        counts = metrics(server.url)
    finally:
        server.stop()  # writes the log's last rows

    assert code == 200, answer
    predictions = answer["predictions"]
    assert predictions == direct_predictions(foreign.onnx, rows, task)
    assert all(type(p) is kind for p in predictions)
    assert bad_code == 400 and bad["error"] == f"feature {columns[0]}: 'abc' is not a number (expected numbers or null)"
    assert counts[("mlbudget_requests_total", (("model", MODEL), ("status", "error")))] == 1

    now = datetime.now(UTC)
    source = RequestLogSource({"path": str(log_dir / FILE_PATTERN)})
    window = source.fetch(now - timedelta(hours=1), now + timedelta(minutes=1), tmp_path / "window", columns)
    logged = pd.read_parquet(window.path)
    assert window.rows == len(logged) == ROWS + 1 and window.labelled_rows == 0
    assert kind_of(logged["prediction"]) == kind_of(logged["label"]) == dtype
    ok = logged[logged["status"] == "ok"].reset_index(drop=True)
    assert ok["prediction"].tolist() == predictions and logged["label"].isna().all()
    assert logged.loc[logged["status"] == "error", "prediction"].isna().all()
    for column in columns:
        expected = "string" if column in predictor.categorical else "float64"
        assert kind_of(logged[column]) == expected, column
        assert ok[column].tolist() == [row[column] for row in rows], column
    # The cycle scores window rows through the same contract: the logged rows give the logged predictions.
    again, _ = predictor.contract.predict(
        predictor.runtime.run, predictor.runtime.output_names, ok[columns], predictor.adapter, None
    )
    assert again.tolist() == predictions


def test_a_category_that_is_not_text_is_a_400(sk_pipeline, tmp_path):
    predictor = Predictor(adopt_bundle(sk_pipeline, tmp_path / "bundle"))
    row = sk_pipeline.rows[predictor.columns].iloc[0].to_dict()
    server = ModelServer(PredictService(predictor, ServerMetrics(MODEL)), "127.0.0.1", 0).start()
    try:
        answers = [
            post(server.url + "/predict", rows_body([{**row, "size_band": value}])) for value in ({"a": 1}, True)
        ]
        numeric_text = post(server.url + "/predict", rows_body([{**row, "size_band": 3}]))
        nan = post(server.url + "/predict", json.dumps({"rows": [row]}).replace("0.", "NaN0.", 1).encode())
    finally:
        server.stop()
    assert [code for code, _ in answers] == [400, 400]
    assert answers[0][1]["error"] == "feature size_band: {'a': 1} is not a category (expected text, a number or null)"
    assert numeric_text[0] == 200  # an unseen category, as its text: the one-hot encoder ignores it
    assert nan[0] == 400


@pytest.mark.parametrize("name", ["sk_pipeline", "gbr"])
def test_fast_feeds_are_the_adapters_feeds(name, request, tmp_path):
    """The server builds the columns/matrix feeds straight from the dicts; they equal the adapter's on a frame."""
    foreign: Foreign = request.getfixturevalue(name)
    predictor = Predictor(adopt_bundle(foreign, tmp_path / "bundle"))
    assert predictor._plan is not None and predictor.adapter.name == {"sk_pipeline": "columns", "gbr": "matrix"}[name]
    rows = foreign.rows[predictor.columns].iloc[:6].to_dict("records")
    first = predictor.columns[0]
    rows[0][first] = None  # a null number: NaN for a float input
    del rows[1][predictor.columns[-1]]  # missing from one row
    rows[2][first] = 3  # an int
    if predictor.categorical:
        rows[3]["size_band"] = 7  # a number as a category: its text
        rows[4]["size_band"] = None
    fast = predictor.encode(rows)
    slow = predictor.adapter.feeds(predictor._frame(rows))
    assert fast.keys() == slow.keys()
    for key in slow:
        assert fast[key].dtype == slow[key].dtype and fast[key].shape == slow[key].shape, key
        if slow[key].dtype == object:
            assert fast[key].tolist() == slow[key].tolist(), key
        else:
            np.testing.assert_array_equal(fast[key], slow[key])


@pytest.mark.slow  # skl2onnx and scikit-learn take seconds to import on a loaded 2-core machine
def test_a_float64_value_beyond_a_float32_input_is_a_bad_request(gbr, tmp_path):
    """1e39 parses as a finite float64 and would reach the float32 matrix input as inf: refused, named."""
    from mlbudget.serve.predictor import BadRequest

    predictor = Predictor(adopt_bundle(gbr, tmp_path / "bundle"))
    row = gbr.rows[predictor.columns].iloc[0].to_dict()
    assert predictor.encode([row])  # the row itself feeds the graph
    column = predictor.columns[2]
    with pytest.raises(BadRequest, match=rf"feature {column}: 1e\+39 is out of the range of input .*float32"):
        predictor.encode([row, {**row, column: 1e39}])


def test_loadgen_sends_the_users_own_rows_to_an_adopted_model(sk_pipeline, tmp_path):
    """`mlbudget loadgen --rows FILE`: the file's rows, in order and cycled, answered 200 by a foreign model."""
    from mlbudget.serve.loadgen import load_settings, run_load

    bundle = adopt_bundle(sk_pipeline, tmp_path / "bundle")
    predictor = Predictor(bundle)
    columns = predictor.columns
    rows_file = tmp_path / "rows.csv"
    sk_pipeline.rows[columns].iloc[:7].to_csv(rows_file, index=False)
    log_dir = tmp_path / "log"
    writer = RequestLogWriter(log_dir, columns, predictor.categorical, prediction_dtype="Int64", flush_seconds=0.2)
    server = ModelServer(PredictService(predictor, ServerMetrics(MODEL), writer), "127.0.0.1", 0).start()
    try:
        settings = load_settings(
            url=server.url + "/predict", rps=20, requests=4, batch_size=5, senders=2, rows_path=str(rows_file)
        )
        result = run_load(settings)
    finally:
        server.stop()
    # An arrival that finds both senders busy is skipped (a loaded machine), never sent late.
    assert result.sent + result.skipped == 4 and result.sent >= 1
    assert (result.ok, result.error, result.failed) == (result.sent, 0, 0)
    now = datetime.now(UTC)
    source = RequestLogSource({"path": str(log_dir / FILE_PATTERN)})
    logged = pd.read_parquet(source.fetch(now - timedelta(hours=1), now, tmp_path / "window", columns).path)
    sent = pd.read_csv(rows_file)
    assert len(logged) == 5 * result.sent  # 5 rows a request, the file's 7 rows cycled
    assert set(logged[columns[0]]) <= set(sent[columns[0]])
    if result.skipped == 0:
        expected = [sent.iloc[i % 7][columns[0]] for i in range(20)]
        assert sorted(logged[columns[0]].tolist()) == sorted(expected)


def test_loadgen_rows_errors_name_the_file(tmp_path):
    from mlbudget.errors import ConfigError, InputError
    from mlbudget.serve.loadgen import load_settings, run_load

    url = "http://127.0.0.1:9/predict"
    with pytest.raises(InputError, match=r"missing\.parquet: no such rows file"):
        run_load(load_settings(url=url, requests=1, rows_path=str(tmp_path / "missing.parquet")))
    (tmp_path / "empty.csv").write_text("a,b\n")
    with pytest.raises(InputError, match=r"empty\.csv: no rows to send"):
        run_load(load_settings(url=url, requests=1, rows_path=str(tmp_path / "empty.csv")))
    with pytest.raises(ConfigError, match="feature_shift drifts the generated rows"):
        load_settings(url=url, requests=1, rows_path="x.csv", feature_shift=1.0)


def test_loadgen_without_rows_makes_rows_for_the_served_model(named_classes, tmp_path):
    """No --rows: rows come from the server's GET /features (numeric and string columns), answered 200;
    --feature-shift moves the first third of the numeric columns by that many reference stds."""
    from mlbudget.serve.loadgen import load_settings, run_load

    bundle = adopt_bundle(named_classes, tmp_path / "bundle")
    predictor = Predictor(bundle)
    columns = predictor.columns
    log_dir = tmp_path / "log"
    writer = RequestLogWriter(
        log_dir, columns, predictor.categorical, prediction_dtype=predictor.prediction_dtype, flush_seconds=0.2
    )
    server = ModelServer(PredictService(predictor, ServerMetrics(MODEL), writer), "127.0.0.1", 0).start()
    try:
        features = json.loads(_get(server.url + "/features"))
        plain = run_load(load_settings(url=server.url + "/predict", rps=50, requests=6, batch_size=50, senders=1))
        shifted = run_load(
            load_settings(url=server.url + "/predict", rps=50, requests=6, batch_size=50, senders=1, feature_shift=3.0)
        )
    finally:
        server.stop()
    contract = predictor.contract
    assert [f["name"] for f in features["numeric"]] == [f.name for f in contract.numeric]
    assert features["categorical"] == [f.model_dump(mode="json") for f in contract.categorical]
    for result in (plain, shifted):
        assert result.sent >= 1 and (result.ok, result.error, result.failed) == (result.sent, 0, 0)
    now = datetime.now(UTC)
    logged = pd.read_parquet(
        RequestLogSource({"path": str(log_dir / FILE_PATTERN)}).fetch(
            now - timedelta(hours=1), now, tmp_path / "window", columns
        ).path
    )
    assert len(logged) == 50 * (plain.sent + shifted.sent)
    (category,) = contract.categorical
    assert set(logged[category.name]) <= set(category.categories)
    first = contract.numeric[0]
    before, after = logged[first.name].iloc[: 50 * plain.sent], logged[first.name].iloc[50 * plain.sent :]
    assert abs(before.mean() - first.mean) < 0.5 * first.std  # around the reference mean
    assert abs(after.mean() - (first.mean + 3.0 * first.std)) < 0.5 * first.std  # moved by 3 stds
    untouched = contract.numeric[-1]  # past the first third: not moved
    assert abs(logged[untouched.name].iloc[50 * plain.sent :].mean() - untouched.mean) < 0.5 * untouched.std


def test_loadgen_without_rows_needs_a_server_that_lists_its_features(tmp_path):
    """Down: exit-3 error naming the URL. A server with no /features (not an mlbudget server): says to give rows."""
    import http.server
    import threading

    from mlbudget.errors import DependencyError
    from mlbudget.serve.loadgen import load_settings, run_load

    with pytest.raises(DependencyError, match=r"http://127\.0\.0\.1:9/features unreachable"):
        run_load(load_settings(url="http://127.0.0.1:9/predict", requests=1))
    other = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.SimpleHTTPRequestHandler)
    threading.Thread(target=other.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{other.server_address[1]}/predict"
        with pytest.raises(DependencyError, match=r"/features answered HTTP 404.*--rows FILE") as raised:
            run_load(load_settings(url=url, requests=1))
        assert raised.value.exit_code == 3
    finally:
        other.shutdown()
        other.server_close()


def _get(url: str) -> bytes:
    import urllib.request

    with urllib.request.urlopen(url, timeout=10) as response:
        return response.read()
