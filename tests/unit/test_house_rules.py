"""Layering rules that keep the studio honest: core has no UI, pages talk to AWS only through core."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def python_files(folder: str) -> list[Path]:
    return sorted((ROOT / folder).rglob("*.py"))


@pytest.mark.parametrize("path", python_files("core"), ids=lambda p: str(p.relative_to(ROOT)))
def test_core_never_imports_streamlit(path):
    assert "streamlit" not in imported_modules(path)


@pytest.mark.parametrize("path", python_files("pages"), ids=lambda p: str(p.relative_to(ROOT)))
def test_pages_never_import_aws_sdks(path):
    assert not {"boto3", "botocore"} & imported_modules(path)


def test_no_pages_folder_inside_dashboard():
    assert not (ROOT / "dashboard" / "pages").exists()


@pytest.mark.parametrize(
    "path",
    python_files("core") + python_files("dashboard") + python_files("pages"),
    ids=lambda p: str(p.relative_to(ROOT)),
)
def test_model_files_are_never_unpickled(path):
    assert not {"pickle", "joblib", "dill", "cloudpickle"} & imported_modules(path)
