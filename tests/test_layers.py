"""The layers stay as docs/design.md draws them: the library never imports Airflow."""

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_import_linter_contracts_hold():
    exe = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    result = subprocess.run([exe], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Contracts: 1 kept, 0 broken" in result.stdout


def test_importing_the_library_pulls_in_no_heavy_dependency():
    code = (
        "import sys, mlbudget.cli.main, mlbudget.cycle.stages, mlbudget.candidates;"
        "heavy = {'airflow', 'torch', 'onnxruntime', 'mlflow', 'great_expectations', 'neural_compressor'};"
        "print(sorted(heavy & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
