"""Airflow adapters for mlbudget: the MLflow hook and the recalibration-cycle task graph.

Only adapters live here; every decision is taken in ``mlbudget``. This package
imports ``mlbudget`` (never the reverse) and keeps heavy imports (mlflow,
torch, onnxruntime, pandas) inside functions that run in task bodies, so DAG
files that import it stay cheap to parse.

The modules use absolute imports only: Airflow puts the plugins folder on
``sys.path`` and the package is imported as ``mlbudget_airflow``.
"""
