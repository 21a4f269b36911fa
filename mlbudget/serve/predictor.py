"""Raw JSON rows in, predicted classes out: the bundle's FeatureSpec, then its ONNX graph.

The request body is ``{"rows": [{feature: value, ...}, ...]}``; keys that are not
feature columns are ignored, a feature column no row has is an error, and a value
missing from some rows is encoded the way :meth:`FeatureSpec.transform` encodes
nulls (the reference mean, or no category). The encoding is the spec's, computed
from the dicts with numpy: a pandas frame per request would cost more than the
model (tests check that both give the same tensor).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlbudget.errors import InputError

if TYPE_CHECKING:
    import numpy as np

    from mlbudget.budget.model import HardwareProfile

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
        bundle_dir: folder with ``model.onnx`` and ``features.json``.
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
        self.spec = bundle.features()
        self.sha256 = bundle.sha256()
        self.runtime = OrtRuntime(bundle.onnx_path, hardware)
        self.classes = np.asarray(self.spec.classes, dtype=np.int64)
        self._numeric_names = [f.name for f in self.spec.numeric]
        self._means = np.array([f.mean for f in self.spec.numeric], dtype=np.float64)
        self._stds = np.array([f.std or 1.0 for f in self.spec.numeric], dtype=np.float64)
        self._category_index = [{c: i for i, c in enumerate(f.categories)} for f in self.spec.categorical]

    @property
    def columns(self) -> list[str]:
        """The feature columns, numeric first."""
        return self.spec.columns

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

    def encode(self, rows: list[dict[str, Any]]) -> np.ndarray:
        """The model's input tensor for ``rows``: exactly what :meth:`FeatureSpec.transform` makes of
        ``pd.DataFrame(rows)``, built straight from the dicts (pandas costs milliseconds per request).

        Raises:
            BadRequest: a numeric feature holds something that is not a number.
        """
        import numpy as np

        out = np.zeros((len(rows), self.spec.input_width), dtype=np.float32)
        names = self._numeric_names
        block = _number_block([[row.get(name) for name in names] for row in rows], names)
        if np.isinf(block).any():  # floats are parsed finite; a huge int can still overflow float64
            name = names[int(np.argwhere(np.isinf(block))[0][1])]
            raise BadRequest(f"feature {name}: out of the float64 range (expected finite numbers or null)")
        block = np.where(np.isnan(block), self._means, block)  # nulls: the reference mean, as transform does
        out[:, : len(names)] = (block - self._means) / self._stds
        offset = len(self.spec.numeric)
        for feature, index in zip(self.spec.categorical, self._category_index):
            for r, row in enumerate(rows):
                value = row.get(feature.name)
                code = index.get(value if isinstance(value, str) or value is None else str(value))
                if code is not None:
                    out[r, offset + code] = 1.0
            offset += len(feature.categories)
        return out

    def infer(self, x: np.ndarray) -> np.ndarray:
        """Predicted classes for an encoded batch (argmax of the model's output)."""
        import numpy as np

        logits = self.runtime.run({self.spec.input_name: x})[0]
        if not np.isfinite(logits).all():  # argmax of NaN logits is class 0: never answer that
            raise FloatingPointError("the model produced non-finite outputs")
        return self.classes[np.argmax(logits, axis=1)]


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
