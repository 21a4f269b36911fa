"""plugins/ adapts mlbudget to Airflow: it may import mlbudget, mlbudget never imports it (or airflow)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HEAVY = {"pandas", "numpy", "torch", "onnxruntime", "mlflow", "scipy", "sklearn", "great_expectations"}


def _imports(path: Path, module_level_only: bool = False) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    nodes = tree.body if module_level_only else list(ast.walk(tree))
    out: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            out |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module)
    return out


def test_the_library_never_imports_the_airflow_adapters():
    for path in (ROOT / "mlbudget").rglob("*.py"):
        bad = {m for m in _imports(path) if m.split(".")[0] in {"airflow", "mlbudget_airflow", "dags", "plugins"}}
        assert not bad, f"{path.relative_to(ROOT)} imports {sorted(bad)}"


def test_adapters_and_dags_keep_heavy_imports_out_of_module_level():
    for path in [*(ROOT / "plugins").rglob("*.py"), *(ROOT / "dags").glob("*.py")]:
        top = {m.split(".")[0] for m in _imports(path, module_level_only=True)}
        assert not top & HEAVY, f"{path.relative_to(ROOT)} imports {sorted(top & HEAVY)} at module level"
        assert not any(m.startswith("mlbudget.cycle") for m in _imports(path, module_level_only=True)), path


def test_adapters_use_absolute_imports_only():
    """Airflow imports the plugins folder as top-level modules; relative imports would break there."""
    for path in (ROOT / "plugins").rglob("*.py"):
        tree = ast.parse(path.read_text())
        relative = [n.lineno for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.level > 0]
        assert not relative, f"{path.relative_to(ROOT)}: relative imports on lines {relative}"
