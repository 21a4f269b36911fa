# One image for the whole stack: Airflow 3 (api-server, scheduler, dag-processor, triggerer,
# Celery workers), the MLflow server and the mlbudget CLI, with the project installed.
#
#   docker build -t mlbudget:latest .
#   docker compose up -d            # see docker-compose.yml and docs/airflow.md
#
# dags/, plugins/ and configs/ are copied in (so the image runs on its own, e.g. under the
# KubernetesExecutor) and bind-mounted over by docker-compose.yml for local editing.

ARG AIRFLOW_VERSION=3.3.2
ARG PYTHON_VERSION=3.11
FROM apache/airflow:${AIRFLOW_VERSION}-python${PYTHON_VERSION}

ARG AIRFLOW_VERSION
ARG TORCH_VERSION=2.13.0

USER root
# libgomp: OpenMP runtime for onnxruntime and torch on CPU; curl: health checks; gcc and libc6-dev:
# setup.py builds drift counting's one-pass C kernel (without them drift counts with numpy).
RUN apt-get update \
 && apt-get install -y --no-install-recommends libgomp1 curl gcc libc6-dev \
 && apt-get clean && rm -rf /var/lib/apt/lists/*
RUN mkdir -p /opt/mlbudget /data/mlbudget && chown -R airflow:0 /opt/mlbudget /data/mlbudget
USER airflow
WORKDIR /opt/mlbudget

# The CPU build of torch from the PyTorch CPU index first: the default index would pull CUDA wheels.
RUN pip install --no-cache-dir --index-url https://download.pytorch.org/whl/cpu "torch==${TORCH_VERSION}"

# Dependencies before the code, so editing mlbudget/ does not reinstall them.
# The airflow extra pins Airflow itself and adds asyncpg (Airflow's async Postgres driver) and the
# celery provider (the workers); docs/airflow.md says why each pin is there.
COPY --chown=airflow:0 pyproject.toml setup.py README.md ./
COPY --chown=airflow:0 mlbudget ./mlbudget
RUN pip install --no-cache-dir \
      "apache-airflow[celery,postgres]==${AIRFLOW_VERSION}" \
      ".[airflow]"

COPY --chown=airflow:0 dags ./dags
COPY --chown=airflow:0 plugins ./plugins
COPY --chown=airflow:0 configs ./configs

ENV AIRFLOW__CORE__DAGS_FOLDER=/opt/mlbudget/dags \
    AIRFLOW__CORE__PLUGINS_FOLDER=/opt/mlbudget/plugins \
    AIRFLOW__CORE__LOAD_EXAMPLES=False \
    MLBUDGET_CONFIG_DIR=/opt/mlbudget/configs/budgets \
    MLBUDGET_WORKDIR=/data/mlbudget
