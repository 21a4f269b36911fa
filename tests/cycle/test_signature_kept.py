"""A candidate that changes the champion's ONNX signature is dropped before benchmarking, with why."""

from __future__ import annotations

import shutil
from types import SimpleNamespace

import onnx

from mlbudget.candidates.base import Candidate
from mlbudget.cycle.compete import keep_signature
from mlbudget.models.bundle import Lineage


def _candidate(folder, onnx_path, name) -> Candidate:
    folder.mkdir(parents=True)
    shutil.copyfile(onnx_path, folder / "model.onnx")
    return Candidate(
        name=name, bundle_dir=str(folder), generator="g", sha256="0" * 64, size_mb=0.1,
        lineage=Lineage(generator="g", sha256="0" * 64),
    )  # fmt: skip


def test_renamed_output_is_dropped_and_the_same_signature_kept(tiny_onnx, tmp_path):
    renamed = onnx.load(str(tiny_onnx))
    renamed.graph.node[-1].output[0] = "scores"
    renamed.graph.output[0].name = "scores"
    onnx.save(renamed, str(tmp_path / "renamed.onnx"))
    champion = tmp_path / "champion"
    champion.mkdir()
    shutil.copyfile(tiny_onnx, champion / "model.onnx")
    cycle = SimpleNamespace(layout=SimpleNamespace(champion=champion))  # keep_signature reads only the champion
    same = _candidate(tmp_path / "same", tiny_onnx, "same@champion")
    other = _candidate(tmp_path / "other", tmp_path / "renamed.onnx", "renamed@champion")
    kept, broken = keep_signature(cycle, [same, other])
    assert [c.name for c in kept] == ["same@champion"]
    assert broken == {"renamed@champion": "outputs: missing ['logits'], unexpected ['scores'] (expected ['logits'])"}
