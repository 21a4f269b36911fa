"""Input adapters: production rows (a data frame of feature columns) -> the ONNX graph's input feeds.

One plug-in kind (:class:`InputAdapter`), registered by subclassing. Built-ins:

- ``columns``: one graph input per feature column, of any element type (strings, float64 ...),
  as scikit-learn pipelines converted by skl2onnx have;
- ``matrix``: 2-D numeric inputs, each filled with feature columns in a declared order (most
  exporters: torch.onnx.export, onnxmltools, skl2onnx on a bare estimator);
- ``feature_spec``: the demo's encoded features (``features.json``: standardised numbers, one-hot
  categories).

``mlbudget adopt`` picks the first one that can feed every input from the reference data; a budget
overrides the choice::

    adapter:
      name: matrix
      inputs: {numeric: [age, income], flags: [f1, f2]}
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from mlbudget.budget.model import AdapterSettings
from mlbudget.errors import InputError
from mlbudget.models.signature import GraphSignature
from mlbudget.plugin import Plugin

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

AUTO_ORDER = ("feature_spec", "columns", "matrix")
"""Built-ins in the order :func:`choose_adapter` tries them."""


class InputAdapter(Plugin, ABC):
    """Feeds an ONNX graph from raw feature columns.

    Args:
        settings: the adapter's name and its input -> columns map.
        signature: the graph's signature (input names, element types, ranks).
        bundle_root: the model bundle folder (for adapters that keep files there).
    """

    plugin_kind: ClassVar[str] = "input adapter"

    def __init__(self, settings: AdapterSettings, signature: GraphSignature, bundle_root: str | Path | None = None):
        self.settings = settings
        self.signature = signature
        self.bundle_root = None if bundle_root is None else Path(bundle_root)

    @classmethod
    @abstractmethod
    def propose(
        cls, signature: GraphSignature, reference: pd.DataFrame, features: list[str], bundle_root: Path | None
    ) -> AdapterSettings | None:
        """Settings with which this adapter feeds every graph input from ``features``, or None.

        Args:
            signature: the graph's signature.
            reference: reference rows (to see the columns' types).
            features: candidate feature columns, in order (the label left out).
            bundle_root: the bundle folder, when one exists.
        """

    @property
    def columns(self) -> list[str]:
        """Feature columns this adapter reads, in order, each once."""
        return list(dict.fromkeys(c for cols in self.settings.inputs.values() for c in cols))

    def check(self, frame: pd.DataFrame) -> None:
        """Raise InputError unless ``frame`` can feed every graph input.

        Raises:
            InputError: a graph input has no columns, or a column is missing.
        """
        unfed = [i.name for i in self.signature.inputs if i.name not in self.settings.inputs]
        if unfed:
            raise InputError(
                f"graph inputs {unfed} are fed by no column (adapter {self.name}; "
                f"inputs: {', '.join(i.describe() for i in self.signature.inputs)})"
            )
        unknown = sorted(set(self.settings.inputs) - {i.name for i in self.signature.inputs})
        if unknown:
            raise InputError(f"adapter {self.name}: {unknown} are not graph inputs")
        missing = [c for c in self.columns if c not in frame.columns]
        if missing:
            raise InputError(
                f"feature columns missing: {', '.join(missing)} (adapter {self.name} needs {self.columns})"
            )

    @abstractmethod
    def feeds(self, frame: pd.DataFrame) -> dict[str, np.ndarray]:
        """The feed dict for ``session.run`` from ``frame``'s rows.

        Raises:
            InputError: a column is missing or its values cannot take the input's type.
        """


def build_adapter(
    settings: AdapterSettings, signature: GraphSignature, bundle_root: str | Path | None = None
) -> InputAdapter:
    """The adapter ``settings`` names, built for this graph.

    Raises:
        UnknownPluginError: no adapter has that name.
    """
    _register_builtins()
    return InputAdapter.lookup(settings.name)(settings, signature, bundle_root)


def choose_adapter(
    signature: GraphSignature,
    reference: pd.DataFrame,
    features: list[str],
    bundle_root: Path | None = None,
    override: AdapterSettings | None = None,
) -> InputAdapter:
    """The adapter that feeds this graph from the reference's feature columns.

    Args:
        signature: the graph's signature.
        reference: reference rows.
        features: feature columns in order (label left out).
        bundle_root: bundle folder (``feature_spec`` looks for features.json there).
        override: the budget's ``adapter`` section; its ``inputs`` may be empty (then proposed).

    Raises:
        InputError: no adapter can feed every graph input from these columns (or the override cannot).
    """
    _register_builtins()
    known = InputAdapter.registered()
    if override is not None:
        cls = InputAdapter.lookup(override.name)
        settings = override if override.inputs else cls.propose(signature, reference, features, bundle_root)
        if settings is None:
            raise InputError(
                f"adapter {override.name!r} (from the budget) cannot feed {_inputs(signature)} "
                f"from the columns {features}"
            )
        adapter = cls(settings, signature, bundle_root)
        adapter.check(reference)
        return adapter
    order = [*AUTO_ORDER, *sorted(set(known) - set(AUTO_ORDER))]
    for name in order:
        settings = known[name].propose(signature, reference, features, bundle_root)
        if settings is not None:
            adapter = known[name](settings, signature, bundle_root)
            adapter.check(reference)
            return adapter
    raise InputError(
        f"the reference columns {features} cannot feed the graph inputs {_inputs(signature)} "
        "(expected one input per column with matching types, or 2-D numeric inputs whose widths "
        "add up to the number of numeric columns)"
    )


def _inputs(signature: GraphSignature) -> str:
    return "[" + ", ".join(i.describe() + (f" shape {i.shape}" if i.shape else "") for i in signature.inputs) + "]"


def _register_builtins() -> None:
    from mlbudget.adapters import columns, feature_spec, matrix  # noqa: F401  (registers)
