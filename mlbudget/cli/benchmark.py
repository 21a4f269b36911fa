"""``mlbudget benchmark``: latency, throughput, memory and accuracy of one ONNX model.

The lead registers it with ``app.command("benchmark")(benchmark_command)``.
With ``--json`` stdout holds only the :class:`BenchmarkReport` JSON document.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mlbudget.cli.common import JSON_OPTION, emit_json, handle_errors, out_console, progress
from mlbudget.errors import InputError


def _parse_levels(text: str) -> list[int]:
    try:
        levels = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise InputError(f"--concurrency must be a comma list of integers, got {text!r}") from None
    if not levels:
        raise InputError("--concurrency needs at least one level")
    return levels


def _profiles(levels, threads, batch_size, provider, graph_opt, mode, target_rps, tdp_watts=None):
    from pydantic import ValidationError

    from mlbudget.budget.model import HardwareProfile, LoadProfile

    try:
        hardware = HardwareProfile(
            provider=provider,
            intra_op_threads=threads,
            inter_op_threads=1,
            graph_optimization=graph_opt,
            tdp_watts=tdp_watts,
        )
        load = LoadProfile(concurrency=levels, batch_size=batch_size, mode=mode, target_rps=target_rps)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise InputError(f"invalid benchmark options: {problems}") from None
    return hardware, load


def benchmark_command(
    model: Annotated[Path, typer.Argument(help="The ONNX model file.")],
    concurrency: Annotated[str, typer.Option("--concurrency", "-c", help="Comma list of levels, e.g. 1,2,4.")] = "1",
    threads: Annotated[int, typer.Option("--threads", help="ONNX Runtime intra-op threads.")] = 1,
    batch_size: Annotated[int, typer.Option("--batch-size", help="Rows per inference call.")] = 1,
    provider: Annotated[
        str, typer.Option("--provider", help="ONNX Runtime execution provider.")
    ] = "CPUExecutionProvider",
    graph_optimization: Annotated[str, typer.Option(help="disable, basic, extended or all.")] = "all",
    duration: Annotated[float, typer.Option("--duration", help="Seconds per measurement window.")] = 0.5,
    warmup: Annotated[int, typer.Option("--warmup", help="Warm-up calls per worker, discarded.")] = 200,
    max_windows: Annotated[int, typer.Option(help="Give up on stability after this many windows.")] = 10,
    min_samples: Annotated[int, typer.Option(help="Samples the reported windows must hold.")] = 662,
    repetitions: Annotated[int, typer.Option(help="Fresh worker processes; the median is reported.")] = 1,
    mode: Annotated[str, typer.Option(help="closed (back to back) or open (Poisson arrivals).")] = "closed",
    target_rps: Annotated[float | None, typer.Option(help="Arrival rate for --mode open.")] = None,
    holdout: Annotated[Path | None, typer.Option(help="Labelled Parquet rows for accuracy.")] = None,
    features: Annotated[Path | None, typer.Option(help="features.json that encodes the holdout.")] = None,
    metric: Annotated[str, typer.Option(help="accuracy, balanced_accuracy or f1_macro.")] = "accuracy",
    tdp_watts: Annotated[
        float | None,
        typer.Option("--tdp-watts", help="CPU package TDP: estimates energy per inference where RAPL is unreadable."),
    ] = None,
    json_output: bool = JSON_OPTION,
) -> None:
    """Benchmark one ONNX model in a fresh process: latency per concurrency, throughput, RSS, size."""
    from pydantic import ValidationError

    from mlbudget.benchmark.runner import BenchmarkSettings, benchmark_model

    with handle_errors():
        hardware, load = _profiles(
            _parse_levels(concurrency), threads, batch_size, provider, graph_optimization, mode, target_rps, tdp_watts
        )
        if holdout is not None and features is None:
            raise InputError("--holdout needs --features (the feature spec that encodes its rows)")
        try:
            settings = BenchmarkSettings(
                window_seconds=duration,
                warmup_calls=warmup,
                max_windows=max_windows,
                min_samples=min_samples,
                repetitions=repetitions,
            )
        except ValidationError as exc:
            raise InputError(f"invalid benchmark settings: {exc.errors()[0]['msg']}") from None
        with progress() as bar:
            task = bar.add_task(f"benchmark {model.name}", total=len(load.concurrency) * repetitions)

            def on_progress(message: str) -> None:
                if ": concurrency " in message:
                    bar.advance(task)
                bar.update(task, description=message)

            report = benchmark_model(
                model,
                hardware,
                load,
                holdout_path=holdout,
                features_path=features,
                accuracy_metric=metric,  # type: ignore[arg-type]
                settings=settings,
                on_progress=on_progress,
            )
    if json_output:
        emit_json(report)
    else:
        _print_table(report)


def _ms(value: float) -> str:
    return f"{value:.3g}"


def _print_table(report) -> None:
    from rich import box
    from rich.table import Table

    table = Table(
        title=f"{report.model_path} ({report.size_mb:.2f} MB, sha256 {report.sha256[:12]}); latency in ms",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        collapse_padding=True,
    )
    for col in ("conc", "p50", "p95", "p95 CI", "p99", "mean", "rps", "n", "stable"):
        table.add_column(col, justify="right", no_wrap=True)
    for r in report.results:
        ci = f"{_ms(r.p95_ci_ms[0])}-{_ms(r.p95_ci_ms[1])}" if r.p95_ci_ms else "-"
        table.add_row(
            str(r.concurrency),
            _ms(r.p50_ms),
            _ms(r.p95_ms),
            ci,
            _ms(r.p99_ms),
            _ms(r.mean_ms),
            f"{r.throughput_rps:.0f}",
            str(r.samples),
            "yes" if r.stable else "no",
        )
    out_console.print(table)
    hw = report.hardware
    out_console.print(
        f"cold start {report.cold_start_ms:.1f} ms, peak RSS {report.peak_rss_mb:.1f} MB; "
        f"{hw.cpu_model} ({hw.cores_physical} physical / {hw.cores_logical} logical cores, "
        f"{' '.join(hw.cpu_flags)}), onnxruntime {hw.ort_version} {hw.provider}, "
        f"{hw.intra_op_threads} intra / {hw.inter_op_threads} inter threads, "
        f"graph optimisation {hw.graph_optimization}",
        highlight=False,
    )
    if report.energy is not None:
        out_console.print(
            f"energy {report.energy.label} per inference, amortised over {report.energy.inferences:,} inferences "
            f"in {report.energy.seconds:.1f} s",
            highlight=False,
        )
    if report.accuracy is not None:
        out_console.print(f"{report.accuracy_metric} {report.accuracy:.4f} on {report.accuracy_rows} rows")
    for note in report.notes:
        out_console.print(f"note: {note}", highlight=False)
