-- Runs once, when the Postgres volume is created (docker-entrypoint-initdb.d).
-- Airflow's metadata lives in the database POSTGRES_DB (airflow); MLflow gets its own.
CREATE USER mlflow WITH PASSWORD 'mlflow';
CREATE DATABASE mlflow OWNER mlflow;
