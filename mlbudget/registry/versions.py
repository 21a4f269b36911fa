"""Registered model versions keyed by content hash, and candidates built from bundles."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mlbudget.candidates.base import Candidate
from mlbudget.models.bundle import LINEAGE_FILE, Lineage, ModelBundle
from mlbudget.registry import tags as T
from mlbudget.registry.bundle_io import log_bundle


def _missing(exc: Exception) -> bool:
    return getattr(exc, "error_code", None) == "RESOURCE_DOES_NOT_EXIST"


class VersionStore:
    """Version look-ups and creation on one MlflowClient (global URIs must point at it)."""

    def __init__(self, client: Any):
        self.client = client

    def exists(self, model_name: str) -> bool:
        from mlflow.exceptions import MlflowException

        try:
            self.client.get_registered_model(model_name)
        except MlflowException as exc:
            if _missing(exc):
                return False
            raise
        return True

    def aliases(self, model_name: str) -> dict[str, str]:
        """Alias -> version of ``model_name``; empty when the model does not exist."""
        from mlflow.exceptions import MlflowException

        try:
            return {k: str(v) for k, v in self.client.get_registered_model(model_name).aliases.items()}
        except MlflowException as exc:
            if _missing(exc):
                return {}
            raise

    def version_exists(self, model_name: str, version: str) -> bool:
        from mlflow.exceptions import MlflowException

        try:
            self.client.get_model_version(model_name, str(version))
        except MlflowException as exc:
            if _missing(exc) or getattr(exc, "error_code", None) == "INVALID_PARAMETER_VALUE":
                return False
            raise
        return True

    def tag(self, model_name: str, version: str, key: str) -> str | None:
        return self.client.get_model_version(model_name, version).tags.get(key)

    def versions_with(self, model_name: str, content_sha256: str) -> list[str]:
        """Versions (ascending) whose content hash tag is ``content_sha256``."""
        where = (
            f"name = {T.filter_value(model_name, 'model name')} "
            f"and tags.`{T.CONTENT_SHA}` = {T.filter_value(content_sha256, 'sha256')}"
        )
        found = self.client.search_model_versions(where)
        return [str(n) for n in sorted(int(v.version) for v in found)]

    def find(self, model_name: str, content_sha256: str) -> str | None:
        if not self.exists(model_name):
            return None
        found = self.versions_with(model_name, content_sha256)
        return found[0] if found else None

    def ensure_model(self, model_name: str) -> None:
        """Create the registered model unless it exists (a concurrent creator is tolerated)."""
        from mlflow.exceptions import MlflowException

        try:
            self.client.create_registered_model(model_name, tags={"mlbudget.managed": "true"})
        except MlflowException as exc:
            if exc.error_code != "RESOURCE_ALREADY_EXISTS":
                raise

    def create(self, model_name: str, candidate: Candidate, run_id: str, tags: dict[str, str]) -> str:
        """Log the bundle, create the version with all tags at once, then settle races.

        Two writers that both found no version both create one; afterwards each looks again
        and keeps the lowest version with this content hash, deleting its own if it is not
        that one. Version numbers rise monotonically, so both agree on the survivor.
        """
        info = log_bundle(run_id, candidate.bundle_dir, candidate.sha256)
        self.ensure_model(model_name)
        mv = self.client.create_model_version(
            model_name, source=info.model_uri, run_id=run_id, tags=tags, model_id=info.model_id
        )
        mine = str(mv.version)
        survivor = self.versions_with(model_name, candidate.sha256)[0]
        if survivor != mine:
            self.client.delete_model_version(model_name, mine)
        return survivor


def candidate_from_bundle(bundle_dir: str | Path, *, name: str, generator: str) -> Candidate:
    """A Candidate for an existing bundle (its lineage.json, or a fresh lineage when absent)."""
    bundle = ModelBundle(bundle_dir)
    bundle.check()
    sha = bundle.sha256()
    if (bundle.root / LINEAGE_FILE).is_file():
        lineage = bundle.lineage()
    else:
        lineage = Lineage(generator=generator, sha256=sha)
    return Candidate(
        name=name,
        bundle_dir=str(bundle.root),
        generator=generator,
        sha256=sha,
        size_mb=bundle.size_mb(),
        lineage=lineage,
    )


def champion_candidate(model_name: str, version: str, bundle_dir: Path, version_tags: dict[str, str]) -> Candidate:
    """The downloaded champion as a Candidate; its lineage records the MLflow version it came from."""
    bundle = ModelBundle(bundle_dir)
    sha = bundle.sha256()
    origin = bundle.lineage() if (bundle.root / LINEAGE_FILE).is_file() else None
    lineage = Lineage(
        generator="champion",
        parent_sha256=origin.parent_sha256 if origin else None,
        config={
            "mlflow_version": str(version),
            "registered_model": model_name,
            "origin_generator": version_tags.get(T.GENERATOR, origin.generator if origin else None),
        },
        data_window=origin.data_window if origin else None,
        seed=origin.seed if origin else None,
        sha256=sha,
    )
    return Candidate(
        name="champion",
        bundle_dir=str(bundle.root),
        generator="champion",
        sha256=sha,
        size_mb=bundle.size_mb(),
        lineage=lineage,
        is_champion=True,
        fp32=version_tags.get(T.FP32, "true") == "true",
    )
