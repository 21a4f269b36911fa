"""``mlbudget serve``: the instrumented HTTP model server for one bundle.

Registered with ``app.command("serve")(serve_command)``. Runs until SIGINT or
SIGTERM, then stops accepting requests and writes the request log's last rows.
"""

from __future__ import annotations

from pathlib import Path

import typer

from mlbudget.cli.common import err_console, handle_errors


def serve_command(
    bundle: Path | None = typer.Option(
        None,
        "--bundle",
        help="Bundle folder to serve (model.onnx + contract.json, or the demo's features.json). "
        "Default: the budget's champion.",
    ),
    budget: Path | None = typer.Option(
        None,
        "--budget",
        "-b",
        help="Budget document: names the model (the `model` label), sets ONNX Runtime threads from its "
        "hardware profile, and without --bundle its MLflow champion is served.",
    ),
    model_name: str | None = typer.Option(
        None, "--model-name", help="Value of the `model` label (default: the budget's name, else the bundle folder)."
    ),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to bind (0.0.0.0 in a container)."),
    port: int = typer.Option(8000, "--port", help="Port to bind (0: a free one)."),
    log_dir: Path | None = typer.Option(
        None,
        "--log-dir",
        help="Request log folder: hourly Parquet part files requests-*.parquet for a `request_log` source "
        "(default: no log).",
    ),
    flush_seconds: float = typer.Option(10.0, "--flush-seconds", min=0.1, help="Write the log at least this often."),
    flush_rows: int = typer.Option(5000, "--flush-rows", min=1, help="Write the log once this many rows wait."),
    tracking_uri: str | None = typer.Option(
        None,
        "--tracking-uri",
        envvar="MLFLOW_TRACKING_URI",
        help="MLflow tracking URI for the champion (default sqlite:///<workdir>/mlflow.db).",
    ),
    workdir: Path = typer.Option(Path(".mlbudget"), "--workdir", help="Local state (for the default MLflow store)."),
    fallback_bundle: Path | None = typer.Option(
        None,
        "--fallback-bundle",
        help="A lighter bundle to answer from while the champion is overloaded (needs a budget with a `fallback` "
        "section). Default, serving the champion: the registry's `fallback` alias when it is set.",
    ),
    no_fallback: bool = typer.Option(False, "--no-fallback", help="Serve the champion alone."),
) -> None:
    """Serve one model: POST /predict, GET /metrics (Prometheus), GET /health; log every row."""
    import tempfile

    with handle_errors(), tempfile.TemporaryDirectory(prefix="mlbudget-serve-") as tmp:
        from mlbudget.serve.resolve import resolve_model

        uri = tracking_uri or f"sqlite:///{workdir.resolve() / 'mlflow.db'}"
        served = resolve_model(
            bundle,
            budget,
            model_name=model_name,
            tracking_uri=uri,
            download_dir=Path(tmp),
            fallback_bundle=fallback_bundle,
            use_fallback=not no_fallback,
        )
        server = _build_server(served, host, port, log_dir, flush_seconds, flush_rows)
        _serve_until_signalled(server, served, log_dir)


def _build_server(served, host: str, port: int, log_dir: Path | None, flush_seconds: float, flush_rows: int):
    from mlbudget.serve.http import ModelServer, PredictService
    from mlbudget.serve.log_writer import RequestLogWriter
    from mlbudget.serve.metrics import ServerMetrics, latency_buckets
    from mlbudget.serve.predictor import Predictor
    from mlbudget.serve.router import FallbackRouter

    predictor = Predictor(served.bundle_dir, served.hardware)
    fallback = Predictor(served.fallback_dir, served.hardware) if served.fallback_dir is not None else None
    if fallback is not None and fallback.columns != predictor.columns:
        from mlbudget.errors import ConfigError

        raise ConfigError(
            f"fallback {served.fallback_dir} takes columns {fallback.columns}, the champion {predictor.columns} "
            "(expected the champion's signature)"
        )
    router = FallbackRouter(served.router) if fallback is not None else None
    metrics = ServerMetrics(served.model_name, latency_buckets(served.limits_ms))
    writer = None
    if log_dir is not None:
        writer = RequestLogWriter(
            log_dir,
            predictor.columns,
            predictor.categorical,
            prediction_dtype=predictor.prediction_dtype,
            flush_rows=flush_rows,
            flush_seconds=flush_seconds,
            served_by=fallback is not None,
        )
    return ModelServer(PredictService(predictor, metrics, writer, fallback, router), host, port)


def _serve_until_signalled(server, served, log_dir: Path | None) -> None:
    import signal
    import threading

    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    server.start()
    version = f" version {served.version}" if served.version else ""
    if served.fallback_dir is not None:
        fallback_version = f" version {served.fallback_version}" if served.fallback_version else ""
        version += f", fallback{fallback_version} ({served.fallback_dir}) above {served.router.warn_ms:.3g} ms"
    err_console.print(
        f"serving {served.model_name}{version} ({served.bundle_dir}) on {server.url}: "
        f"POST /predict, GET /metrics, GET /health; request log: {log_dir or 'off'}",
        highlight=False,
        markup=False,
        soft_wrap=True,
    )
    try:
        while not stop.wait(0.5):
            pass
    finally:
        server.stop()
        writer = server.service.log_writer
        if writer is not None:
            err_console.print(
                f"stopped; {writer.rows_written} rows in {len(writer.files_written)} files under {log_dir}",
                highlight=False,
                markup=False,
                soft_wrap=True,
            )
