"""Registry name ``columns``: one graph input per feature column (skl2onnx pipelines).

Each graph input is named like a column and gets that column's values as a
``(rows, 1)`` tensor (or ``(rows,)`` for a rank-1 input) of the input's element
type: strings for ``string`` inputs, ``float64`` for ``double`` ones::

    adapter: {name: columns}
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from mlbudget.adapters.base import InputAdapter
from mlbudget.budget.model import AdapterSettings
from mlbudget.errors import InputError
from mlbudget.models.signature import NUMERIC_ELEM_TYPES, GraphSignature, TensorSignature

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd


class ColumnInputsAdapter(InputAdapter):
    """One named input per column, any element type."""

    name: ClassVar[str] = "columns"

    @classmethod
    def propose(
        cls, signature: GraphSignature, reference: pd.DataFrame, features: list[str], bundle_root: Path | None
    ) -> AdapterSettings | None:
        import pandas as pd

        available = set(features)
        inputs = {}
        for item in signature.inputs:
            if item.name not in available or item.rank not in (1, 2):
                return None
            if item.rank == 2 and item.shape[1:] not in ([1], [None]) and not isinstance(item.shape[1], str):
                return None
            numeric_column = pd.api.types.is_numeric_dtype(reference[item.name].dtype)
            if item.elem_type in NUMERIC_ELEM_TYPES and not numeric_column:
                return None
            if item.elem_type not in NUMERIC_ELEM_TYPES | {"string", "bool"}:
                return None
            inputs[item.name] = [item.name]
        return AdapterSettings(name=cls.name, inputs=inputs)

    def check(self, frame: pd.DataFrame) -> None:
        super().check(frame)
        for name, cols in self.settings.inputs.items():
            if len(cols) != 1:
                raise InputError(f"adapter columns: input {name!r} must take exactly one column (got {cols})")

    def feeds(self, frame: pd.DataFrame) -> dict[str, np.ndarray]:
        self.check(frame)
        return {i.name: column_tensor(frame[self.settings.inputs[i.name][0]], i) for i in self.signature.inputs}


def column_tensor(series: pd.Series, item: TensorSignature) -> np.ndarray:
    """One column as the input's tensor.

    Raises:
        InputError: the values cannot take the input's element type (text for a number, nulls for an integer).
    """
    import numpy as np
    import pandas as pd

    try:
        if item.elem_type == "string":
            values = series.astype("string").fillna("").to_numpy(dtype=object)
        else:
            values = pd.to_numeric(series, errors="raise").to_numpy(dtype=np.float64)
            if item.elem_type != "float" and item.elem_type != "double" and np.isnan(values).any():
                raise ValueError("nulls cannot feed an integer input")
            values = values.astype(item.numpy_dtype)
    except (TypeError, ValueError) as exc:
        raise InputError(f"column {series.name!r} cannot feed input {item.describe()} ({exc})") from exc
    return values.reshape(-1, 1) if item.rank == 2 else values.reshape(-1)
