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


def _source_files() -> list[Path]:
    return python_files("core") + python_files("dashboard") + python_files("pages")


def _backend_kind_checks(path: Path) -> list[str]:
    """Comparisons of a `.kind` attribute of something named like a backend, and isinstance on backend classes."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr == "kind" and "backend" in ast.unparse(node.value).lower():
            found.append(f"{path.name}:{node.lineno}: {ast.unparse(node)}")
        is_isinstance = isinstance(node, ast.Call) and ast.unparse(node.func) == "isinstance" and len(node.args) == 2
        if is_isinstance and "Backend" in ast.unparse(node.args[1]):
            found.append(f"{path.name}:{node.lineno}: {ast.unparse(node)}")
    return found


@pytest.mark.parametrize("path", _source_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_nothing_but_the_backends_module_asks_which_backend_it_is(path):
    if path == ROOT / "core" / "backends.py":
        return
    assert _backend_kind_checks(path) == []


def test_no_code_or_ui_text_cites_a_document_the_project_does_not_have():
    texts = [*_source_files(), ROOT / "README.md", ROOT / ".streamlit" / "config.toml", *python_files("tests")]
    missing = ("DESIGN" + ".md", "REFERENCE" + ".md")  # spelt apart, so this file does not cite them
    citing = [str(p.relative_to(ROOT)) for p in texts if any(name in p.read_text(encoding="utf-8") for name in missing)]
    assert citing == []
    assert (ROOT / "docs" / "ARCHITECTURE.md").is_file()
