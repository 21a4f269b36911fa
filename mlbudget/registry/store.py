"""MLflow as mlbudget's registry: cycle runs, idempotent registration, aliases, audit ledger.

Layout in MLflow:

- experiment ``mlbudget/<budget name>``; one parent run per cycle, found again
  by tag ``mlbudget.cycle_key``; one nested run per candidate, found again by
  ``mlbudget.candidate_sha256`` within its parent;
- registered model ``<budget name>``; a version is created once per content
  hash (tag ``mlbudget.content_sha256``), with every tag set in the same call
  that creates it; aliases ``champion``, ``previous-champion``, ``challenger``;
- the audit ledger as registered-model tags (see :mod:`mlbudget.registry.ledger`); every
  alias move is announced in it first and completed by a re-run (:mod:`mlbudget.registry.moves`).

Every MLflow failure surfaces as :class:`~mlbudget.errors.DependencyError`
saying what was being done.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from mlbudget.benchmark.result import BenchmarkReport
from mlbudget.budget.model import Budget
from mlbudget.candidates.base import Candidate
from mlbudget.registry import compliance, connection, moves, runs
from mlbudget.registry import tags as T
from mlbudget.registry.bundle_io import download_bundle
from mlbudget.registry.connection import RegistryStateError
from mlbudget.registry.ledger import LedgerRead, read_ledger, read_ledger_checked
from mlbudget.registry.versions import VersionStore
from mlbudget.selection.decision import CandidateVerdict

__all__ = ["MlflowRegistry", "RegistryStateError"]


def quiet_mlflow() -> None:
    """No artifact progress bars or INFO chatter from MLflow, and bounded HTTP retries: our stderr is for
    our progress, and a dead tracking server fails a call in under 30 s."""
    import logging
    import os

    from mlbudget.registry.connection import bound_retries

    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    for name in ("mlflow", "alembic"):
        logging.getLogger(name).setLevel(logging.WARNING)
    bound_retries()


class MlflowRegistry:
    """mlbudget's view of one MLflow tracking server and model registry.

    Args:
        tracking_uri: ``http://host:port``, ``sqlite:///path/mlflow.db``, ``postgresql://...``
            (a bare ``postgresql://`` gets the psycopg2 driver when psycopg 3 is absent).
        registry_uri: model registry URI when it differs from the tracking URI.
        artifact_root: where new experiments keep artifacts. None: beside the database
            (``<db folder>/mlartifacts``) for a ``sqlite:///`` store, else the server's choice.
            (MLflow's own default for a SQL store is ``./mlruns`` under the working directory.)
    """

    def __init__(self, tracking_uri: str, registry_uri: str | None = None, *, artifact_root: str | None = None):
        self.tracking_uri = connection.normalize_uri(tracking_uri)
        self.registry_uri = connection.normalize_uri(registry_uri)
        self.artifact_root = artifact_root or connection.default_artifact_root(self.tracking_uri)
        self._client_obj: Any = None

    @property
    def client(self) -> Any:
        """The MlflowClient (built on first use)."""
        if self._client_obj is None:
            quiet_mlflow()
            from mlflow import MlflowClient

            self._client_obj = MlflowClient(self.tracking_uri, self.registry_uri)
        return self._client_obj

    @contextmanager
    def _doing(self, what: str) -> Iterator[Any]:
        with (
            connection.fluent_uris(self.tracking_uri, self.registry_uri),
            connection.mlflow_errors(what, self.tracking_uri),
        ):
            yield self.client

    def _versions(self) -> VersionStore:
        return VersionStore(self.client)

    def check_reachable(self) -> None:
        """Fail fast (no retries, short timeout) unless the tracking store answers.

        Raises:
            DependencyError: naming the URI.
        """
        connection.check_sql_store(self.tracking_uri)  # before MLflow is imported: its import takes seconds
        with connection.fluent_uris(self.tracking_uri, self.registry_uri):
            connection.check_reachable(lambda: self.client, self.tracking_uri)

    # -- cycle runs ---------------------------------------------------------------------------

    def start_cycle(
        self,
        budget: Budget,
        budget_path: str | Path | None,
        budget_sha256: str,
        cycle_key: str,
        tags: dict[str, str] | None = None,
    ) -> str:
        """Open (or find again) the parent run of one cycle and stamp the budget on it.

        Args:
            budget: the budget; its name names the experiment ``mlbudget/<name>``.
            budget_path: the budget document, logged under ``budget/`` (None logs only its JSON).
            budget_sha256: content hash of the budget document.
            cycle_key: idempotency key, e.g. the data interval; the same key gives the same run.
            tags: extra run tags.

        Returns:
            The run id.

        Raises:
            DependencyError: MLflow failed.
        """
        with self._doing(f"starting the cycle run {cycle_key!r} of budget {budget.name}") as client:
            exp = runs.ensure_experiment(client, budget.name, self.artifact_root)
            run_tags = {**(tags or {}), **T.budget_tags(budget, budget_sha256)}
            run_id = runs.open_cycle_run(client, exp, cycle_key, run_tags)
            runs.log_budget(client, run_id, budget, budget_path, budget_sha256)
            if self._versions().exists(budget.name):  # the ledger lives on the registered model
                compliance.record_budget_change(self._versions(), budget.name, budget, budget_sha256)
            return run_id

    def end_cycle(self, run_id: str, status: str = "FINISHED") -> None:
        """Mark the cycle run FINISHED (or FAILED, KILLED)."""
        with self._doing(f"ending cycle run {run_id}") as client:
            client.set_terminated(run_id, status=status)

    def set_cycle_status(self, run_id: str, status: str, message: str) -> None:
        """Stamp the cycle's outcome on its run (tags ``mlbudget.status`` and ``mlbudget.outcome``) and end it.

        A run whose window failed validation ends FAILED; every other outcome FINISHED.
        """
        with self._doing(f"recording status {status!r} on cycle run {run_id}") as client:
            client.set_tag(run_id, "mlbudget.status", status)
            client.set_tag(run_id, "mlbudget.outcome", message[:4900])
            client.set_terminated(run_id, status="FAILED" if status == "invalid_window" else "FINISHED")

    def log_cycle_artifact(self, run_id: str, path_or_json: Any, artifact_path: str) -> None:
        """Log a file or folder under the folder ``artifact_path``, or a JSON-able object
        (dict, list, pydantic model) as the file ``artifact_path`` (e.g. ``selection/decision.json``)."""
        with self._doing(f"logging artifact {artifact_path!r} to run {run_id}") as client:
            runs.log_json_or_path(client, run_id, path_or_json, artifact_path)

    def log_candidate(
        self,
        parent_run_id: str,
        candidate: Candidate,
        report: BenchmarkReport | None,
        verdict: CandidateVerdict | None,
    ) -> str:
        """Log one candidate as a nested run (once: a logged run is found again and left alone).

        Returns:
            The nested run id.
        """
        with self._doing(f"logging candidate {candidate.name} under run {parent_run_id}") as client:
            run = runs.candidate_run(client, parent_run_id, candidate)
            if run.data.tags.get(T.LOGGED) != "true":
                runs.log_candidate_run(client, run, candidate, report, verdict)
            return run.info.run_id

    # -- versions -----------------------------------------------------------------------------

    def find_version(self, model_name: str, content_sha256: str) -> str | None:
        """The version of ``model_name`` registered with this content hash, or None."""
        with self._doing(f"looking up {model_name} versions by content hash"):
            return self._versions().find(model_name, content_sha256)

    def register(
        self, candidate: Candidate, budget: Budget, budget_sha256: str, reason: str, cycle_run_id: str | None
    ) -> str:
        """Register ``candidate`` as a version of ``budget.name``, once per content hash.

        The registry is checked first: identical content returns the existing version and
        writes nothing. Otherwise the bundle is logged into the candidate's nested run and a
        version is created with all its tags in one call. Two writers racing on the same
        content converge on the lowest version number (the other deletes its own).

        Returns:
            The version (a string, as MLflow reports it).

        Raises:
            DependencyError: MLflow failed.
            ModelFileError: the bundle is incomplete.
        """
        with self._doing(f"registering {candidate.name} ({candidate.sha256[:12]}) as {budget.name}") as client:
            found = self._versions().find(budget.name, candidate.sha256)
            if found is not None:
                return found
        if cycle_run_id is None:
            cycle_run_id = self.start_cycle(budget, None, budget_sha256, f"register-{candidate.sha256[:16]}")
        with self._doing(f"registering {candidate.name} ({candidate.sha256[:12]}) as {budget.name}") as client:
            run = runs.candidate_run(client, cycle_run_id, candidate)
            version_tags = T.version_tags(candidate, budget, budget_sha256, reason)
            return self._versions().create(budget.name, candidate, run.info.run_id, version_tags)

    def register_initial(
        self,
        bundle_dir: str | Path,
        budget: Budget,
        budget_sha256: str,
        reason: str = "initial champion",
        *,
        budget_path: str | Path | None = None,
        at: datetime | None = None,
    ) -> str:
        """Register a first model and make it champion (register + promote).

        Returns:
            The version.
        """
        from mlbudget.registry.versions import candidate_from_bundle

        candidate = candidate_from_bundle(bundle_dir, name="initial", generator="initial")
        run_id = self.start_cycle(budget, budget_path, budget_sha256, f"initial-{candidate.sha256[:16]}")
        version = self.register(candidate, budget, budget_sha256, reason, run_id)
        self.promote(budget.name, version, reason, budget_sha256=budget_sha256, at=at)
        self.end_cycle(run_id)
        return version

    # -- aliases and ledger ---------------------------------------------------------------------

    def champion(self, model_name: str, dest_dir: str | Path | None = None) -> tuple[str, Path] | None:
        """Resolve alias ``champion`` and download its bundle.

        Args:
            model_name: registered model name.
            dest_dir: where to put the bundle; None makes a fresh temporary folder.

        Returns:
            (version, bundle folder), or None when the model or the alias does not exist.

        An alias move left half-done by a killed process is completed first.
        """
        import tempfile

        self.recover_moves(model_name)
        dest = Path(dest_dir) if dest_dir is not None else Path(tempfile.mkdtemp(prefix="mlbudget-champion-"))
        return self._download_alias(model_name, T.CHAMPION, dest)

    def fallback(self, model_name: str, dest_dir: str | Path) -> tuple[str, Path] | None:
        """Resolve alias ``fallback`` and download its bundle: (version, folder), or None without the alias."""
        return self._download_alias(model_name, T.FALLBACK, Path(dest_dir))

    def _download_alias(self, model_name: str, alias: str, dest: Path) -> tuple[str, Path] | None:
        """(version, bundle folder) of the version ``alias`` points at, its content hash checked; None without it."""
        with self._doing(f"downloading the {alias} of {model_name}") as client:
            version = self._versions().aliases(model_name).get(alias)
            if version is None:
                return None
            sha = client.get_model_version(model_name, version).tags.get(T.CONTENT_SHA)
            return version, download_bundle(model_name, version, dest, sha)

    def set_fallback(
        self, model_name: str, version: str | None, reason: str, *, budget_sha256: str | None = None, **fields: Any
    ) -> bool:
        """Point alias ``fallback`` at ``version`` (None removes it) and write a ``fallback`` ledger entry.

        Nothing is written when the alias already is where it should be, so a re-run adds no entry.

        Returns:
            True when the alias moved.
        """
        from mlbudget.registry.ledger import append_entry, make_entry

        with self._doing(f"setting the fallback of {model_name} to version {version}") as client:
            before = self._versions().aliases(model_name).get(T.FALLBACK)
            if before == (None if version is None else str(version)):
                return False
            if version is None:
                client.delete_registered_model_alias(model_name, T.FALLBACK)
            else:
                client.set_registered_model_alias(model_name, T.FALLBACK, str(version))
            entry = make_entry(
                "fallback",
                version,
                before,
                reason[:1000],
                budget_sha256,
                None,
                aliases_before={T.FALLBACK: before} if before else {},
                aliases_after={T.FALLBACK: None if version is None else str(version)},
                **fields,
            )
            append_entry(client, model_name, entry)
            return True

    def download_champion(self, model_name: str, dest_dir: str | Path) -> Candidate | None:
        """The champion as a Candidate (``name="champion"``, ``is_champion=True``), or None."""
        from mlbudget.registry.versions import champion_candidate

        found = self.champion(model_name, dest_dir)
        if found is None:
            return None
        version, path = found
        with self._doing(f"reading tags of {model_name} version {version}") as client:
            mv_tags = client.get_model_version(model_name, version).tags
        return champion_candidate(model_name, version, path, mv_tags)

    def promote(
        self,
        model_name: str,
        version: str,
        reason: str,
        *,
        budget_sha256: str | None = None,
        at: datetime | None = None,
        **fields: Any,
    ) -> bool:
        """Point ``champion`` at ``version`` and ``previous-champion`` at the one it replaced.

        A no-op when ``version`` already is champion and the ledger records it. The move is
        announced in the ledger first, then the aliases move, then the entry is marked done;
        a re-run after a kill anywhere in between completes it (:mod:`mlbudget.registry.moves`).

        Args:
            fields: more ledger fields (``actor``, ``run_id``, ``budget_name``, ``budget_version``, ``detail``).

        Returns:
            True when an alias moved or a missing ledger entry was written.
        """
        version = str(version)
        with self._doing(f"promoting {model_name} version {version} to champion"):
            entry = moves.promote(
                self._versions(), model_name, version, reason, budget_sha256=budget_sha256, at=at, **fields
            )
            return entry is not None and entry["previous"] != version

    def approve(self, model_name: str, version: str, reason: str, *, approver: str, **fields: Any) -> bool:
        """A person approved ``version``: promote it, recorded as ``approve`` by ``approver``."""
        with self._doing(f"approving {model_name} version {version}"):
            entry = moves.approve(self._versions(), model_name, str(version), reason, actor=approver, **fields)
            return entry is not None

    def reject(self, model_name: str, version: str, reason: str, *, approver: str, **fields: Any) -> dict[str, Any]:
        """A person rejected ``version``: the champion stays; recorded as ``reject`` by ``approver``."""
        with self._doing(f"recording the rejection of {model_name} version {version}"):
            return moves.reject(self._versions(), model_name, str(version), reason, actor=approver, **fields)

    def recover_moves(self, model_name: str) -> list[dict[str, Any]]:
        """Complete any alias move of ``model_name`` a killed process left pending; returns those entries."""
        with self._doing(f"completing pending alias moves of {model_name}"):
            return moves.recover_moves(self._versions(), model_name)

    def set_challenger(self, model_name: str, version: str) -> None:
        """Point alias ``challenger`` at ``version`` (used when ``auto_promote`` is false)."""
        with self._doing(f"setting the challenger of {model_name} to version {version}") as client:
            client.set_registered_model_alias(model_name, T.CHALLENGER, str(version))

    def rollback(
        self,
        model_name: str,
        reason: str,
        *,
        to: str | None = None,
        budget_sha256: str | None = None,
        at: datetime | None = None,
        **fields: Any,
    ) -> str:
        """Move ``champion`` to ``to``, or swap it with ``previous-champion``; recorded in the ledger.

        Recoverable like :meth:`promote`: a re-run of an interrupted rollback (same reason)
        completes it and moves nothing more.

        Returns:
            The version that is champion now.

        Raises:
            RegistryStateError: there is no previous champion (or no version ``to``) to return to.
            InputError: the reason is empty or too long (nothing written).
        """
        with self._doing(f"rolling back the champion of {model_name}"):
            return moves.rollback(
                self._versions(), model_name, reason, to=to, budget_sha256=budget_sha256, at=at, **fields
            )

    def record_production_verdict(
        self, model_name: str, version: str, compliant: bool, evidence: dict[str, Any], at: datetime
    ) -> None:
        """Stamp ``version`` with its production verdict (``mlbudget.production.compliant``) and the evidence."""
        with self._doing(f"recording the production verdict of {model_name} version {version}"):
            compliance.record_production_verdict(self._versions(), model_name, version, compliant, evidence, at)

    def record_environment(
        self, model_name: str, version: str, fingerprint: dict[str, Any], figures: dict[str, Any]
    ) -> None:
        """Stamp ``version`` with the environment it was benchmarked in and the figures measured there."""
        from mlbudget.registry.environment import record_environment

        with self._doing(f"recording the environment of {model_name} version {version}"):
            record_environment(self._versions(), model_name, version, fingerprint, figures)

    def environment(self, model_name: str, version: str) -> tuple[dict | None, dict | None]:
        """(fingerprint, figures) stored on ``version`` (None each when not stored)."""
        from mlbudget.registry.environment import read_environment

        with self._doing(f"reading the environment of {model_name} version {version}"):
            return read_environment(self._versions(), model_name, version)

    def last_compliant_version(self, model_name: str) -> str | None:
        """The most recent earlier champion whose production verdict was compliant (None if none)."""
        with self._doing(f"looking for the last compliant version of {model_name}"):
            return compliance.last_compliant_version(self._versions(), model_name)

    def rollback_to_last_compliant(
        self, model_name: str, reason: str, evidence: dict[str, Any] | None = None, **fields: Any
    ) -> str:
        """Move ``champion`` to the last compliant version, the evidence in the ledger; returns it.

        Raises:
            RegistryStateError: no earlier champion was compliant in production.
        """
        with self._doing(f"rolling {model_name} back to its last compliant version"):
            return compliance.rollback_to_last_compliant(self._versions(), model_name, reason, evidence, **fields)

    def ledger(self, model_name: str) -> list[dict[str, Any]]:
        """Valid ledger entries of ``model_name``, oldest first (empty for an unknown model)."""
        with self._doing(f"reading the ledger of {model_name}") as client:
            if not self._versions().exists(model_name):
                return []
            return read_ledger(client, model_name)

    def ledger_checked(self, model_name: str) -> LedgerRead:
        """The ledger with its malformed tags listed in ``skipped`` (each skipped, never a crash)."""
        with self._doing(f"reading the ledger of {model_name}") as client:
            if not self._versions().exists(model_name):
                return LedgerRead()
            return read_ledger_checked(client, model_name)
