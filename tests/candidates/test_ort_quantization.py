"""ort_dynamic_int8 and ort_static_int8 on a small real MLP."""

from __future__ import annotations

import pytest

from mlbudget.candidates import CandidateGenerator, GenerationData
from mlbudget.candidates.ort_dynamic import cpu_has_vnni, gemm_to_matmul, resolve_reduce_range
from mlbudget.errors import ConfigError, ModelFileError, UnknownPluginError
from mlbudget.models.train import ort_session


@pytest.mark.parametrize(
    ("generator", "config"),
    [
        ("ort_dynamic_int8", {}),
        ("ort_dynamic_int8", {"per_channel": True, "weight_type": "QUInt8", "reduce_range": True}),
        ("ort_static_int8", {}),
        ("ort_static_int8", {"calibrate_method": "percentile", "max_calibration_rows": 500, "reduce_range": True}),
    ],
)
def test_int8_candidate_is_smaller_and_keeps_accuracy(
    generator, config, parent, data_files, budget, tmp_path, accuracy, check_child
):
    (child,) = CandidateGenerator.lookup(generator)(config).generate(parent, data_files, budget, tmp_path)

    check_child(child, parent, generator, fp32=False)
    assert child.size_mb < 0.5 * parent.size_mb
    assert accuracy(child.bundle_dir, data_files.holdout_path) == pytest.approx(
        accuracy(parent.bundle_dir, data_files.holdout_path), abs=0.02
    )
    assert child.lineage.config["reduce_range"] in (True, False)  # resolved, never left null
    ops = {n.op_type for n in _graph(child.bundle_dir).node}
    assert (
        ("MatMulInteger" in ops or "DynamicQuantizeMatMul" in ops)
        if generator == "ort_dynamic_int8"
        else ("QuantizeLinear" in ops and "Gemm" in ops)
    )


def test_static_needs_calibration_rows(parent, budget, tmp_path):
    with pytest.raises(ModelFileError, match=r"ort_static_int8 needs calibration rows \(data.calibration_path\)"):
        CandidateGenerator.lookup("ort_static_int8")().generate(parent, GenerationData(), budget, tmp_path)


def test_static_missing_calibration_file_is_named(parent, budget, tmp_path):
    data = GenerationData(calibration_path=str(tmp_path / "nope.parquet"))
    with pytest.raises(ModelFileError, match=r"nope\.parquet: cannot read calibration rows"):
        CandidateGenerator.lookup("ort_static_int8")().generate(parent, data, budget, tmp_path)


def test_generated_from_a_generated_parent_names_the_chain(parent, data_files, budget, tmp_path):
    retrained = parent.model_copy(update={"name": "retrain@champion"})
    (child,) = CandidateGenerator.lookup("ort_dynamic_int8")().generate(retrained, data_files, budget, tmp_path)
    assert child.name == "ort_dynamic_int8@retrain@champion"


def test_parent_version_comes_from_mlflow_version(parent, data_files, budget, tmp_path):
    lineage = parent.lineage.model_copy(update={"config": {**parent.lineage.config, "mlflow_version": 7}})
    champion = parent.model_copy(update={"lineage": lineage})
    (child,) = CandidateGenerator.lookup("ort_dynamic_int8")().generate(champion, data_files, budget, tmp_path)
    assert child.lineage.parent_version == "7"


def test_gemm_rewrite_keeps_outputs(tiny_onnx, tmp_path):
    import numpy as np

    out = gemm_to_matmul(tiny_onnx, tmp_path / "matmul.onnx")
    x = np.random.default_rng(0).normal(size=(5, 8)).astype(np.float32)
    want = ort_session(tiny_onnx).run(None, {"input": x})[0]
    got = ort_session(out).run(None, {"input": x})[0]
    np.testing.assert_allclose(got, want, atol=1e-5)
    assert "Gemm" not in {n.op_type for n in _load(out).graph.node}


def test_reduce_range_follows_vnni(tmp_path):
    flags = tmp_path / "cpuinfo"
    flags.write_text("processor : 0\nflags : fpu avx2 avx512f avx512_vnni\n")
    assert cpu_has_vnni(flags)
    flags.write_text("processor : 0\nflags : fpu avx2 avx512f\n")
    assert not cpu_has_vnni(flags)
    assert resolve_reduce_range(True) is True and resolve_reduce_range(False) is False


def test_unknown_generator_lists_known_names():
    with pytest.raises(UnknownPluginError, match=r"unknown candidate generator 'nope'; known: .*ort_dynamic_int8"):
        CandidateGenerator.lookup("nope")


def test_unknown_config_key_is_an_error():
    with pytest.raises(ValueError, match="per_chanel"):
        CandidateGenerator.lookup("ort_static_int8")({"per_chanel": True})
    assert issubclass(UnknownPluginError, ConfigError)


def _load(path):
    import onnx

    return onnx.load(str(path))


def _graph(bundle_dir):
    from pathlib import Path

    return _load(Path(bundle_dir) / "model.onnx").graph
