#!/usr/bin/env bash
# Airflow on this machine, without Docker, wired to mlbudget's DAGs, plugins and budgets.
#
#   deploy/airflow-local.sh                     # airflow standalone: UI and REST API on http://localhost:8080
#   deploy/airflow-local.sh dags test mlbudget_on_demand -c '{"budget": "demo", "reason": "try it"}'
#   deploy/airflow-local.sh dags list           # any other airflow command, same environment
#   eval "$(deploy/airflow-local.sh env)"       # export the environment into your shell, then run `airflow ...`
#
# State stays in the repository's ignored folders: AIRFLOW_HOME=airflow_home/ (SQLite metadata,
# logs, the generated admin password) and MLBUDGET_WORKDIR=.mlbudget/ (cycle directories and,
# unless MLFLOW_TRACKING_URI or the mlflow_default connection says otherwise, the MLflow store
# .mlbudget/mlflow.db, the same one `mlbudget run` uses). Any variable already set wins.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${MLBUDGET_VENV:-$ROOT/.venv}"
AIRFLOW="$VENV/bin/airflow"

export AIRFLOW_HOME="${AIRFLOW_HOME:-$ROOT/airflow_home}"
export AIRFLOW__CORE__DAGS_FOLDER="${AIRFLOW__CORE__DAGS_FOLDER:-$ROOT/dags}"
export AIRFLOW__CORE__PLUGINS_FOLDER="${AIRFLOW__CORE__PLUGINS_FOLDER:-$ROOT/plugins}"
export AIRFLOW__CORE__LOAD_EXAMPLES="${AIRFLOW__CORE__LOAD_EXAMPLES:-False}"
# Task processes report to the api-server's Execution API: follow the port when it is moved.
export AIRFLOW__API__PORT="${AIRFLOW__API__PORT:-8080}"
export AIRFLOW__CORE__EXECUTION_API_SERVER_URL="${AIRFLOW__CORE__EXECUTION_API_SERVER_URL:-http://localhost:${AIRFLOW__API__PORT}/execution/}"
export AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION="${AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION:-True}"
# Two cores are enough for one cycle at a time; benchmarks run one candidate at a time anyway.
export AIRFLOW__CORE__PARALLELISM="${AIRFLOW__CORE__PARALLELISM:-4}"
export MLBUDGET_CONFIG_DIR="${MLBUDGET_CONFIG_DIR:-$ROOT/configs/budgets}"
export MLBUDGET_WORKDIR="${MLBUDGET_WORKDIR:-$ROOT/.mlbudget}"
# MLBUDGET_FAST=1 gives the tiny demo model and short benchmarks (smoke runs); unset for real figures.

if [[ "${1:-}" == "env" ]]; then
  for name in AIRFLOW_HOME AIRFLOW__CORE__DAGS_FOLDER AIRFLOW__CORE__PLUGINS_FOLDER AIRFLOW__CORE__LOAD_EXAMPLES \
              AIRFLOW__API__PORT AIRFLOW__CORE__EXECUTION_API_SERVER_URL AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION AIRFLOW__CORE__PARALLELISM MLBUDGET_CONFIG_DIR MLBUDGET_WORKDIR; do
    printf 'export %s=%q\n' "$name" "${!name}"
  done
  printf 'export PATH=%q:"$PATH"\n' "$VENV/bin"
  exit 0
fi

if [[ ! -x "$AIRFLOW" ]]; then
  echo "no airflow at $AIRFLOW: pip install -e '.[airflow]' into $VENV (or set MLBUDGET_VENV)" >&2
  exit 2
fi

# `airflow standalone` starts its components as `airflow ...` from PATH.
export PATH="$VENV/bin:$PATH"
mkdir -p "$AIRFLOW_HOME" "$MLBUDGET_WORKDIR"
# A fresh metadata database: migrate it, and create the one-slot pool of the tasks that write to
# the registry (docs/airflow.md, "Registry writes never interleave").
if [[ "${1:-}" != "db" && ! -f "$AIRFLOW_HOME/airflow.db" ]]; then
  "$AIRFLOW" db migrate >/dev/null
  "$AIRFLOW" pools set mlbudget_registry 1 "mlbudget registry writes, one at a time" >/dev/null
fi

if [[ $# -eq 0 ]]; then
  set -- standalone
fi
exec "$AIRFLOW" "$@"
