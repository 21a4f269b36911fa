"""Registry name ``matrix``: 2-D numeric inputs filled with feature columns in a declared order.

Without ``inputs``, the numeric feature columns of the reference (label left
out) are taken in their order and split across the graph inputs by width: a
single ``(batch, 30)`` input takes 30 columns; inputs of widths 8 and 2 take the
first 8 and the next 2::

    adapter:
      name: matrix
      inputs: {input: [age, income, score]}
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from mlbudget.adapters.base import InputAdapter
from mlbudget.budget.model import AdapterSettings
from mlbudget.errors import InputError
from mlbudget.models.signature import NUMERIC_ELEM_TYPES, GraphSignature

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd


class MatrixAdapter(InputAdapter):
    """Numeric columns stacked into 2-D float or integer inputs."""

    name: ClassVar[str] = "matrix"

    @classmethod
    def propose(
        cls, signature: GraphSignature, reference: pd.DataFrame, features: list[str], bundle_root: Path | None
    ) -> AdapterSettings | None:
        import pandas as pd

        numeric = [c for c in features if pd.api.types.is_numeric_dtype(reference[c].dtype)]
        widths = []
        for item in signature.inputs:
            if item.rank != 2 or item.elem_type not in NUMERIC_ELEM_TYPES or not isinstance(item.shape[1], int):
                return None
            widths.append(item.shape[1])
        if not widths or sum(widths) != len(numeric):
            return None
        inputs, start = {}, 0
        for item, width in zip(signature.inputs, widths):
            inputs[item.name] = numeric[start : start + width]
            start += width
        return AdapterSettings(name=cls.name, inputs=inputs)

    def check(self, frame: pd.DataFrame) -> None:
        super().check(frame)
        for item in self.signature.inputs:
            width = item.shape[1] if item.rank == 2 and len(item.shape) > 1 else None
            cols = self.settings.inputs[item.name]
            if isinstance(width, int) and width > 0 and len(cols) != width:
                raise InputError(
                    f"adapter matrix: input {item.name!r} is {width} wide but {len(cols)} columns are declared"
                )

    def feeds(self, frame: pd.DataFrame) -> dict[str, np.ndarray]:
        import numpy as np
        import pandas as pd

        self.check(frame)
        out = {}
        for item in self.signature.inputs:
            cols = self.settings.inputs[item.name]
            try:
                block = frame[cols].apply(pd.to_numeric, errors="raise").to_numpy(dtype=np.float64)
            except (TypeError, ValueError) as exc:
                raise InputError(f"columns {cols} cannot feed numeric input {item.describe()} ({exc})") from exc
            out[item.name] = block.astype(item.numpy_dtype)
        return out
