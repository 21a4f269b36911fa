"""The mlbudget error hierarchy.

Verdicts (a budget violated, a window that fails validation) are data; these
exceptions are for faults: bad configuration, unreadable input, a dependency
that is down. Each carries the exit code the CLI uses for it.
"""

from __future__ import annotations


class MlbudgetError(Exception):
    """Root of every error mlbudget raises on purpose."""

    exit_code: int = 2


class ConfigError(MlbudgetError):
    """A configuration document (budget, source config, plug-in config) is invalid."""


class BudgetError(ConfigError):
    """A budget document failed to load or validate.

    Attributes:
        path: the file, when there is one.
        problems: one line per problem, each naming the field path.
    """

    def __init__(self, path: str | None, problems: list[str]):
        self.path = path
        self.problems = list(problems)
        where = f"{path}: " if path else ""
        super().__init__("\n".join(f"{where}{p}" for p in self.problems) or f"{where}invalid budget")


class InputError(MlbudgetError):
    """Input data is missing, empty, corrupt or of the wrong shape."""


class ModelFileError(InputError):
    """A model file is missing, corrupt, or not what was expected."""


class UnknownPluginError(ConfigError):
    """A plug-in name is not registered."""


class DependencyError(MlbudgetError):
    """A service mlbudget depends on (MLflow, Prometheus) failed or is unreachable."""

    exit_code = 3
