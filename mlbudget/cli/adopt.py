"""`mlbudget adopt`: bring an existing ONNX model under a budget as its champion."""

from __future__ import annotations

from pathlib import Path

import typer

from mlbudget.cli.common import JSON_OPTION, emit_json, err_console, handle_errors, out_console


def adopt_command(
    budget: Path = typer.Option(
        ..., "--budget", "-b", help="Budget document (YAML); its name is the registered model."
    ),
    model: str = typer.Option(
        ...,
        "--model",
        help="ONNX file, or an MLflow model URI (models:/name/3, runs:/<id>/model) of an mlflow.onnx model.",
    ),
    reference: str = typer.Option(
        ..., "--reference", help="Reference rows (features + label), Parquet or CSV, local or an fsspec URL."
    ),
    label: str = typer.Option("label", "--label", help="Label column of the reference data."),
    program: Path | None = typer.Option(
        None,
        "--program",
        help="The model's torch.export program (torch.export.save, with a dynamic batch axis), kept as "
        "model.pt2: it lets Intel Neural Compressor tune the model. It must take the ONNX graph's inputs and "
        "return its outputs, in order.",
    ),
    tracking_uri: str | None = typer.Option(
        None,
        "--tracking-uri",
        envvar="MLFLOW_TRACKING_URI",
        help="MLflow tracking URI (default sqlite:///<workdir>/mlflow.db).",
    ),
    workdir: Path = typer.Option(Path(".mlbudget"), "--workdir", help="Local state (for the default MLflow store)."),
    reason: str | None = typer.Option(None, "--reason", help="Why this model is adopted (into the audit ledger)."),
    json_output: bool = JSON_OPTION,
) -> None:
    """Register MODEL under BUDGET's name as `champion`, with its reference data, input adapter and task.

    Idempotent: the same graph gives the same version; adopting it again exits 0. Bad input (graph inputs the
    reference cannot feed, a missing label, a file ONNX Runtime cannot load) exits 2, an unreachable MLflow 3;
    nothing is registered then.
    """
    from mlbudget.adoption import adopt_model
    from mlbudget.budget.loader import load_budget
    from mlbudget.cycle.context import CycleContext
    from mlbudget.registry.store import MlflowRegistry

    with handle_errors():
        spec = load_budget(budget)
        uri = CycleContext(
            budget_path=str(budget), workdir=str(workdir), tracking_uri=tracking_uri
        ).resolved_tracking_uri()
        if tracking_uri is None:
            workdir.mkdir(parents=True, exist_ok=True)
        err_console.print(f"adopting {model} as {spec.name} ...", highlight=False, markup=False)
        result = adopt_model(
            spec,
            model,
            reference,
            label=label,
            registry=MlflowRegistry(uri),
            reason=reason,
            budget_path=budget,
            program=program,
        )
    if json_output:
        emit_json(result)
        return
    state = "registered" if result.created else "already registered"
    quality = (
        f"; {result.metric} {result.reference_quality:.4g} on {result.reference_rows:,} reference rows"
        if result.reference_quality is not None
        else ""
    )
    out_console.print(
        f"{result.model} version {result.version} {state}, champion ({result.task}, adapter {result.adapter}, "
        f"sha256 {result.sha256[:12]}{quality})",
        highlight=False,
        markup=False,
    )
