"""Registry name ``feature_spec``: the demo's encoded features (``features.json`` in the bundle).

Numeric columns standardised, categorical ones one-hot encoded into one float
matrix (:class:`mlbudget.models.features.FeatureSpec`)::

    adapter: {name: feature_spec}
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from mlbudget.adapters.base import InputAdapter
from mlbudget.budget.model import AdapterSettings
from mlbudget.errors import ModelFileError
from mlbudget.models.signature import GraphSignature

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from mlbudget.models.features import FeatureSpec


class FeatureSpecAdapter(InputAdapter):
    """The demo's FeatureSpec encoding into a single float input."""

    name: ClassVar[str] = "feature_spec"

    @classmethod
    def propose(
        cls, signature: GraphSignature, reference: pd.DataFrame, features: list[str], bundle_root: Path | None
    ) -> AdapterSettings | None:
        from mlbudget.models.bundle import FEATURES_FILE
        from mlbudget.models.features import FeatureSpec

        if bundle_root is None or not (Path(bundle_root) / FEATURES_FILE).is_file():
            return None
        spec = FeatureSpec.load(Path(bundle_root) / FEATURES_FILE)
        if [i.name for i in signature.inputs] != [spec.input_name]:
            return None
        return AdapterSettings(name=cls.name, inputs={spec.input_name: spec.columns})

    @property
    def spec(self) -> FeatureSpec:
        from mlbudget.models.bundle import FEATURES_FILE
        from mlbudget.models.features import FeatureSpec

        if self.bundle_root is None or not (self.bundle_root / FEATURES_FILE).is_file():
            raise ModelFileError(f"{self.bundle_root}: adapter feature_spec needs {FEATURES_FILE} in the bundle")
        return FeatureSpec.load(self.bundle_root / FEATURES_FILE)

    def feeds(self, frame: pd.DataFrame) -> dict[str, np.ndarray]:
        spec = self.spec
        return {spec.input_name: spec.transform(frame)}
