"""Registers mlbudget with Airflow's plugin manager (shows in ``airflow plugins``).

The adapters themselves live in the ``mlbudget_airflow`` package next to this
file; Airflow puts the plugins folder on ``sys.path``, so DAG files import it
as ``mlbudget_airflow``.
"""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin


class MlbudgetPlugin(AirflowPlugin):
    """mlbudget's Airflow adapters: the MLflow hook and the cycle task builders."""

    name = "mlbudget"
