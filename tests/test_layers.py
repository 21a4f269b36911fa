"""The layers stay as docs/design.md draws them: the library never imports Airflow, and only the demo
command imports the demo."""

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_import_linter_contracts_hold():
    exe = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    result = subprocess.run([exe], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Contracts: 2 kept, 0 broken" in result.stdout


def test_the_demo_contract_covers_every_module_but_the_demo_command():
    """Only `mlbudget demo` (mlbudget.cli.cycle) may reach mlbudget.demo: every other module is listed."""
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
    (contract,) = [c for c in config if c["forbidden_modules"] == ["mlbudget.demo"]]
    package = ROOT / "mlbudget"
    top = {f"mlbudget.{p.stem}" for p in package.iterdir() if p.suffix == ".py" and p.stem != "__init__"}
    top |= {f"mlbudget.{p.name}" for p in package.iterdir() if (p / "__init__.py").exists()}
    top.discard("mlbudget.cli")
    top |= {f"mlbudget.cli.{p.stem}" for p in (package / "cli").glob("*.py") if p.stem != "__init__"}
    assert top - set(contract["source_modules"]) == {"mlbudget.demo", "mlbudget.cli.cycle"}


def test_importing_the_library_pulls_in_no_heavy_dependency():
    code = (
        "import sys, mlbudget.cli.main, mlbudget.cycle.stages, mlbudget.candidates;"
        "heavy = {'airflow', 'torch', 'onnxruntime', 'mlflow', 'great_expectations', 'neural_compressor'};"
        "print(sorted(heavy & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
