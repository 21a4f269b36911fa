"""Trainers: plug-ins that train a new model from rows and a parent, and write ``model.onnx``.

Importing this package registers the built-ins (their heavy imports happen inside methods):
``command`` (a user's program, run as an argv list in its own process with a timeout),
``demo_mlp`` (mlbudget's own MLP, for bundles with ``features.json``), ``sklearn_pipeline``
(a scikit-learn estimator built by a factory, refit, then converted with skl2onnx).
Third parties add trainers by subclassing :class:`Trainer` in a module named by an entry
point in the ``mlbudget.plugins`` group. The ``train`` candidate generator runs the trainer
the budget declares (``candidates.generators.train.trainer``).
"""

from mlbudget.trainers import command, demo_mlp, sklearn_pipeline  # noqa: F401
from mlbudget.trainers.base import Trainer, TrainerConfig, TrainingError, TrainingJob

__all__ = ["Trainer", "TrainerConfig", "TrainingError", "TrainingJob"]
