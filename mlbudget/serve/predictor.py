"""Raw JSON rows in, the model's predictions out: the bundle's contract and input adapter, then its ONNX graph.

The request body is ``{"rows": [{feature: value, ...}, ...]}``; keys that are not
feature columns are ignored, a feature column no row has is an error, and a value
missing from some rows is null. Numbers are strict (finite JSON numbers, no
booleans); categorical (string) columns take strings, or numbers as their text.

Any bundle serves: the contract (``contract.json``, or the one derived from the
demo's ``features.json``) names the input adapter and what the outputs mean.

- ``feature_spec`` (the demo): the encoding of :meth:`FeatureSpec.transform`,
  computed from the dicts with numpy (a pandas frame per request would cost more
  than the model; tests check that both give the same tensor). Nulls become the
  reference mean, or no category;
- any other adapter (one named input per column of any element type, 2-D
  matrices): the rows become a typed frame (numbers float64, categories strings)
  that the adapter feeds the graph with, exactly as the cycle scores production rows.

Predictions have the model's task: class labels as their own type (integers or
strings) for classifiers, floats for regressors.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlbudget.errors import InputError

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from mlbudget.budget.model import HardwareProfile
    from mlbudget.models.features import FeatureSpec

MAX_ROWS = 10_000
"""Most rows one request may carry."""
MAX_INT_DIGITS = 30
"""Longer integer literals are refused (Python refuses past 4300 digits, with a ValueError)."""
EXPECTED_BODY = '{"rows": [{feature: value, ...}, ...]}'


class BadRequest(InputError):
    """The request cannot be scored; the message is the one line the client gets with HTTP 400."""


class Predictor:
    """One model bundle ready to score rows.

    Args:
        bundle_dir: folder with ``model.onnx`` and ``contract.json`` (or the demo's ``features.json``).
        hardware: the budget's hardware profile (provider, threads, graph optimisation);
            None uses the defaults (CPU, one intra-op and one inter-op thread).

    Raises:
        ModelFileError: the bundle is missing, incomplete, or ONNX Runtime cannot load it.
        DependencyError: the profile's execution provider is not available.
    """

    def __init__(self, bundle_dir: str | Path, hardware: HardwareProfile | None = None):
        import numpy as np

        from mlbudget.benchmark.runtime import OrtRuntime
        from mlbudget.models.bundle import ModelBundle

        bundle = ModelBundle(bundle_dir)
        bundle.check()
        self.bundle_dir = Path(bundle_dir)
        self.contract = bundle.contract()
        self.adapter = self.contract.build_adapter(bundle.root)
        self.sha256 = bundle.sha256()
        self.runtime = OrtRuntime(bundle.onnx_path, hardware)
        self.spec: FeatureSpec | None = None
        """The demo's feature spec, when the adapter is ``feature_spec`` (encoded with numpy); else None."""
        if self.adapter.name == "feature_spec":
            self.spec = self.adapter.spec
            self.classes = np.asarray(self.spec.classes, dtype=np.int64)
            numeric = self.spec.numeric
            self._means = np.array([f.mean for f in numeric], dtype=np.float64)
            self._stds = np.array([f.std or 1.0 for f in numeric], dtype=np.float64)
            self._category_index = [{c: i for i, c in enumerate(f.categories)} for f in self.spec.categorical]
        else:
            numeric = self.contract.numeric
        self._numeric_names = [f.name for f in numeric]
        self._plan = None if self.spec is not None else _feed_plan(self.adapter, self._numeric_names, self.categorical)

    @property
    def task(self) -> str:
        """``classification`` or ``regression``."""
        return self.contract.task

    @property
    def categorical(self) -> list[str]:
        """The feature columns that hold strings (categories)."""
        return [f.name for f in self.contract.categorical]

    @property
    def prediction_dtype(self) -> str:
        """The pandas dtype of predictions and labels in the request log: ``float64`` for regressors,
        ``Int64`` for integer classes, ``string`` for any other classes."""
        if self.task == "regression":
            return "float64"
        classes = self.contract.classes
        if classes and all(isinstance(c, int) and not isinstance(c, bool) for c in classes):
            return "Int64"
        return "string"

    @property
    def columns(self) -> list[str]:
        """The feature columns, numeric first."""
        return self.contract.columns

    def parse(self, body: bytes) -> list[dict[str, Any]]:
        """The request's rows.

        Raises:
            BadRequest: the body is not JSON of the expected shape, or a feature column is missing from every row.
        """
        rows = _rows_of(body)
        present: set[str] = set()
        for row in rows:
            present.update(row)
        missing = [c for c in self.columns if c not in present]
        if missing:
            raise BadRequest(f"rows lack feature columns {', '.join(missing)} (expected {', '.join(self.columns)})")
        return rows

    def encode(self, rows: list[dict[str, Any]]) -> np.ndarray | dict[str, np.ndarray]:
        """The model's input for ``rows``: the demo's encoded tensor (exactly what
        :meth:`FeatureSpec.transform` makes of ``pd.DataFrame(rows)``, built straight from the dicts),
        or the adapter's feeds of the typed rows.

        Raises:
            BadRequest: a numeric feature holds something that is not a number, or a categorical one
                something that is neither text nor a number.
            InputError: the adapter cannot feed the graph with these values (e.g. a null for an integer input).
        """
        import numpy as np

        if self.spec is None:
            if self._plan is None:
                return self.adapter.feeds(self._frame(rows))
            return self._fast_feeds(rows)
        out = np.zeros((len(rows), self.spec.input_width), dtype=np.float32)
        names = self._numeric_names
        block = self._numbers(rows)
        block = np.where(np.isnan(block), self._means, block)  # nulls: the reference mean, as transform does
        scaled = (block - self._means) / self._stds
        out[:, : len(names)] = _narrow(scaled, np.float32, names, self.spec.input_name, shown=block)
        offset = len(self.spec.numeric)
        for feature, index in zip(self.spec.categorical, self._category_index):
            for r, row in enumerate(rows):
                value = row.get(feature.name)
                code = index.get(value if isinstance(value, str) or value is None else str(value))
                if code is not None:
                    out[r, offset + code] = 1.0
            offset += len(feature.categories)
        return out

    def _numbers(self, rows: list[dict[str, Any]]) -> np.ndarray:
        """Rows x numeric features as float64, nulls NaN; a BadRequest for anything else than finite numbers."""
        import numpy as np

        names = self._numeric_names
        block = _number_block([[row.get(name) for name in names] for row in rows], names)
        if np.isinf(block).any():  # floats are parsed finite; a huge int can still overflow float64
            name = names[int(np.argwhere(np.isinf(block))[0][1])]
            raise BadRequest(f"feature {name}: out of the float64 range (expected finite numbers or null)")
        return block

    def _frame(self, rows: list[dict[str, Any]]) -> pd.DataFrame:
        """The rows as the adapters take them: numeric columns float64 (null NaN), categorical ones strings."""
        import pandas as pd

        block = self._numbers(rows)
        data: dict[str, Any] = {name: block[:, i] for i, name in enumerate(self._numeric_names)}
        for name in self.categorical:
            data[name] = pd.array([_text(row.get(name), name) for row in rows], dtype="string")
        return pd.DataFrame(data, columns=self.columns)

    def _fast_feeds(self, rows: list[dict[str, Any]]) -> dict[str, np.ndarray]:
        """What the ``columns`` or ``matrix`` adapter feeds for :meth:`_frame`, built straight from the dicts
        (a frame and the adapter cost about a millisecond per request; tests check both give the same feeds)."""
        import numpy as np

        block = self._numbers(rows)
        out = {}
        for item, index, text in self._plan:
            if text is not None:  # columns: one string input
                values = np.array([_text(row.get(text), text) or "" for row in rows], dtype=object)
            elif isinstance(index, list):  # matrix: numeric columns side by side
                names = [self._numeric_names[i] for i in index]
                out[item.name] = _narrow(block[:, index], item.numpy_dtype, names, item.name)
                continue
            else:  # columns: one numeric input
                values = block[:, index]
                if item.elem_type not in ("float", "double") and np.isnan(values).any():
                    raise InputError(
                        f"column {self._numeric_names[index]!r} cannot feed input {item.describe()} "
                        "(nulls cannot feed an integer input)"
                    )
                values = _narrow(values.reshape(-1, 1), item.numpy_dtype, [self._numeric_names[index]], item.name)
            out[item.name] = values.reshape(-1, 1) if item.rank == 2 else values.reshape(-1)
        return out

    def infer(self, x: np.ndarray | dict[str, np.ndarray]) -> np.ndarray:
        """Predictions for an encoded batch: classes (the demo's argmax, or the contract's label or scores
        output) or regression values.

        Raises:
            FloatingPointError: the model gave non-finite scores or values (never answered as a prediction).
        """
        import numpy as np

        if self.spec is None:
            outputs = dict(zip(self.runtime.output_names, self.runtime.run(x)))
            predictions, probabilities = self.contract.interpret(outputs)
            values = predictions if self.task == "regression" else probabilities
            if values is not None and not np.isfinite(values).all():
                raise FloatingPointError("the model produced non-finite outputs")
            return predictions
        logits = self.runtime.run({self.spec.input_name: x})[0]
        if not np.isfinite(logits).all():  # argmax of NaN logits is class 0: never answer that
            raise FloatingPointError("the model produced non-finite outputs")
        return self.classes[np.argmax(logits, axis=1)]


def _feed_plan(adapter: Any, numeric: list[str], categorical: list[str]) -> list | None:
    """For the built-in ``columns`` and ``matrix`` adapters on numeric and string inputs: per graph input,
    ``(input, numeric column indices, categorical column or None)``; None where only the adapter can tell."""
    from mlbudget.models.signature import NUMERIC_ELEM_TYPES

    if adapter.name not in ("columns", "matrix"):
        return None
    plan = []
    for item in adapter.signature.inputs:
        cols = adapter.settings.inputs.get(item.name, [])
        if not cols or item.rank not in (1, 2):
            return None
        if (adapter.name == "columns" and len(cols) != 1) or (adapter.name == "matrix" and item.rank != 2):
            return None
        if item.elem_type == "string" and adapter.name == "columns" and cols[0] in categorical:
            plan.append((item, [], cols[0]))
        elif item.elem_type in NUMERIC_ELEM_TYPES and all(c in numeric for c in cols):
            if adapter.name == "columns":
                plan.append((item, numeric.index(cols[0]), None))
            else:
                plan.append((item, [numeric.index(c) for c in cols], None))
        else:
            return None
    return plan


def _narrow(
    values: np.ndarray, dtype: Any, names: list[str], input_name: str, shown: np.ndarray | None = None
) -> np.ndarray:
    """``values`` (rows x ``names``, float64) as the graph input's ``dtype``; a BadRequest where a finite
    value does not fit it (1e39 is a float64 but overflows float32 to inf; 1e20 is no int64). ``shown``:
    the request's values, where ``values`` are derived from them (standardised), for the message."""
    import numpy as np

    dtype = np.dtype(dtype)
    if dtype.kind == "f" and dtype.itemsize < values.dtype.itemsize:
        limit = float(np.finfo(dtype).max)
        bad = np.abs(values) > limit
    elif dtype.kind in "iu":
        info = np.iinfo(dtype)
        limit = float(info.max)
        bad = (values < info.min) | (values > info.max)
    else:
        return values.astype(dtype)
    if bad.any():
        row, col = (int(i) for i in np.argwhere(bad)[0])
        value = (values if shown is None else shown)[row, col]
        raise BadRequest(
            f"feature {names[col]}: {value:.6g} is out of the range of input {input_name!r} "
            f"({dtype.name}: at most {limit:.6g})"
        )
    return values.astype(dtype)


def _text(value: Any, name: str) -> str | None:
    """A categorical value: text as is, numbers as their text, null as null."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    raise BadRequest(f"feature {name}: {value!r} is not a category (expected text, a number or null)")


def _no_constant(name: str) -> float:
    raise BadRequest(f"{name} is not a number JSON allows (expected finite numbers or null)")


def _finite_float(text: str) -> float:
    import math

    value = float(text)
    if not math.isfinite(value):
        raise BadRequest(f"{text[:40]} is not a finite number (expected finite numbers or null)")
    return value


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise BadRequest(f"an integer of {len(text.lstrip('-'))} digits (at most {MAX_INT_DIGITS})")
    return int(text)


def _rows_of(body: bytes) -> list[dict[str, Any]]:
    """The ``rows`` list of a request body, each row an object; strict JSON (no NaN/Infinity, finite numbers)."""
    try:
        document = json.loads(body, parse_constant=_no_constant, parse_float=_finite_float, parse_int=_bounded_int)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadRequest(f"request body is not valid JSON ({exc}); expected {EXPECTED_BODY}") from None
    except RecursionError:
        raise BadRequest(f"request body is nested too deeply; expected {EXPECTED_BODY}") from None
    if not isinstance(document, dict) or not isinstance(document.get("rows"), list):
        got = "an object without a rows list" if isinstance(document, dict) else f"a JSON {type(document).__name__}"
        raise BadRequest(f"request body is {got}; expected {EXPECTED_BODY}")
    rows = document["rows"]
    if not 1 <= len(rows) <= MAX_ROWS:
        raise BadRequest(f"rows holds {len(rows)} rows (expected 1 to {MAX_ROWS})")
    for i, row in enumerate(rows):
        if not isinstance(row, dict):
            raise BadRequest(f"rows[{i}] is a JSON {type(row).__name__} (expected an object {{feature: value}})")
    return rows


def _number_block(values: list[list[Any]], names: list[str]) -> np.ndarray:
    """Rows x numeric features as float64 (null -> NaN), or a BadRequest naming the first bad value."""
    import numpy as np

    try:
        block = np.array(values, dtype=np.float64).reshape(len(values), len(names))
        for row in values:  # strict types: JSON true/false is not a number (numpy would read 1.0/0.0)
            for name, value in zip(names, row):
                if value is True or value is False:
                    raise BadRequest(f"feature {name}: {value!r} is not a number (expected numbers or null)")
        return block
    except (TypeError, ValueError):
        for row in values:
            for name, value in zip(names, row):
                try:
                    float(value if value is not None else "nan")
                except (TypeError, ValueError):
                    raise BadRequest(f"feature {name}: {value!r} is not a number (expected numbers or null)") from None
        raise
