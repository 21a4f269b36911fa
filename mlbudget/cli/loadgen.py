"""``mlbudget loadgen``: open-loop Poisson load on a model server's POST /predict.

Registered with ``app.command("loadgen")(loadgen_command)``. With ``--json``
stdout holds only the :class:`~mlbudget.serve.loadgen.LoadResult` document.
"""

from __future__ import annotations

import typer

from mlbudget.cli.common import EXIT_DEPENDENCY, JSON_OPTION, emit_json, handle_errors, out_console


def loadgen_command(
    url: str = typer.Option("http://127.0.0.1:8000/predict", "--url", help="The server's predict endpoint."),
    rps: float = typer.Option(50.0, "--rps", help="Mean arrival rate, requests per second (Poisson)."),
    duration: float | None = typer.Option(
        None, "--duration", help="Seconds to send for (default 10 unless --requests is given)."
    ),
    requests: int | None = typer.Option(None, "--requests", "-n", help="Stop after this many arrivals."),
    batch_size: int = typer.Option(32, "--batch-size", help="Rows per request."),
    senders: int = typer.Option(4, "--senders", help="Concurrent connections sending requests."),
    feature_shift: float = typer.Option(
        0.0, "--feature-shift", help="Drift the generated rows: mean shift of a third of the numeric features, in std."
    ),
    rows: str | None = typer.Option(
        None,
        "--rows",
        help="Parquet or CSV rows to send, in order and cycled (default: rows made from the server's GET /features).",
    ),
    error_share: float = typer.Option(
        0.0, "--error-share", help="Share of requests sent without a feature column (answered 400)."
    ),
    seed: int = typer.Option(0, "--seed", help="Seed of the rows and of the arrival times."),
    timeout: float = typer.Option(10.0, "--timeout", help="Seconds to wait for one answer."),
    json_output: bool = JSON_OPTION,
) -> None:
    """Send rows to POST /predict at --rps for --duration s (or --requests N); print counts and p50/p95.

    Rows come from --rows FILE, else they are made from the served model's features (GET /features).

    Exits 3 when no request got an answer (the server is down or unreachable).
    """
    from mlbudget.serve.loadgen import load_settings, run_load

    with handle_errors():
        settings = load_settings(
            url=url,
            rps=rps,
            duration_s=duration if duration is not None or requests is not None else 10.0,
            requests=requests,
            batch_size=batch_size,
            senders=senders,
            feature_shift=feature_shift,
            rows_path=rows,
            error_share=error_share,
            seed=seed,
            timeout_s=timeout,
        )
        result = run_load(settings)
    if json_output:
        emit_json(result)
    else:
        out_console.print(
            f"{result.url}: sent {result.sent} in {result.duration_s:.1f} s ({result.achieved_rps:.1f}/s), "
            f"ok {result.ok}, error {result.error}, no answer {result.failed}, skipped {result.skipped}; "
            f"client p50 {_ms(result.p50_ms)}, p95 {_ms(result.p95_ms)}, p99 {_ms(result.p99_ms)}",
            highlight=False,
            markup=False,
            soft_wrap=True,
        )
    if result.sent and result.failed == result.sent:
        raise typer.Exit(EXIT_DEPENDENCY)


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f} ms"
