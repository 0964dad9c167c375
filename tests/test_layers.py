"""The package's layers: the model code imports nothing of training, evaluation or the CLI."""
import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "dreampose"
LOW = ["models/adapter.py", "models/surgery.py", "models/base.py", "models/tokenizer.py", "guidance.py",
       "pipeline.py"]
HIGH = ("dreampose.train", "dreampose.evaluate", "dreampose.cli", "dreampose.reproduce", "dreampose.stages")


def imports(path: Path) -> set[str]:
    """Absolute names of every module ``path`` imports (relative imports resolved)."""
    package = ".".join(("dreampose", *path.relative_to(PACKAGE).parent.parts)).rstrip(".")
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = package.rsplit(".", node.level - 1)[0] if node.level else ""
            module = ".".join(p for p in (base, node.module or "") if p)
            names |= {module} | {f"{module}.{a.name}" for a in node.names}
    return names


@pytest.mark.parametrize("module", LOW)
def test_model_code_imports_no_higher_layer(module):
    bad = sorted(n for n in imports(PACKAGE / module) if n.startswith(HIGH))
    assert bad == [], f"{module} imports {bad}"


def test_no_import_cycle_between_the_cli_and_the_notebook_runner():
    assert not any(n.startswith("dreampose.cli") for n in imports(PACKAGE / "run_notebooks.py"))
    assert not any(n.startswith("dreampose.train") for n in imports(PACKAGE / "models" / "base.py"))


def test_the_import_resolver_sees_relative_imports():
    found = imports(PACKAGE / "evaluate" / "method.py")
    assert "dreampose.stages" in found and "dreampose.data.video.DataError" in found
