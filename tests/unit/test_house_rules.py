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


# docs/ARCHITECTURE.md, section 1: dashboard/ and pages/ reach core's services only through the Backend.
# Only dashboard/state.py builds the store and the backend; no UI module runs an import of these names (or of
# the module holding them). Imports under `if TYPE_CHECKING:` only name a type for annotations and build nothing.
SERVICE_NAMES = {
    "core.store": {"Store"},
    "core.datasets.library": {"DatasetLibrary"},
    "core.model_registry": {"ModelRegistry"},
    "core.search.library": {"CatalogLibrary"},
    "core.distill.jobs": {"JobRunner"},
    "core.backends": {"LocalBackend", "BedrockBackend", "make_backend"},
}
SERVICE_BUILDER = ROOT / "dashboard" / "state.py"
# No UI module, state.py included, imports these at all: concrete routers (state.router(id) gives any router),
# the job worker, and AWS beyond its name checks and model facts.
UI_FORBIDDEN_MODULES = (
    "core.routers.reference",
    "core.routers.student",
    "core.routers.bedrock",
    "core.routers.uniform",
    "core.distill.worker",
)
UI_AWS_MODULES = ("core.aws.names", "core.aws.models")


def _runtime_imports(source: str) -> list[tuple[int, str, str | None]]:
    """(line, module, name) for every import that runs: `from m import n` gives (m, n), `import m` (m, None)."""
    found: list[tuple[int, str, str | None]] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and ast.unparse(node.test) in ("TYPE_CHECKING", "typing.TYPE_CHECKING"):
            for statement in node.orelse:
                visit(statement)
            return
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name, None) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.extend((node.lineno, node.module, alias.name) for alias in node.names)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(source))
    return found


def _under(dotted: str, module: str) -> bool:
    return dotted == module or dotted.startswith(module + ".")


def ui_import_problems(source: str, *, builds_services: bool = False) -> list[str]:
    """Each import in a dashboard/ or pages/ module that breaks the rule above, as 'line N: what'."""
    problems = []
    for line, module, name in _runtime_imports(source):
        dotted = f"{module}.{name}" if name else module  # `from core import store` imports the module core.store
        if not builds_services and (dotted in SERVICE_NAMES or name in SERVICE_NAMES.get(module, ())):
            problems.append(f"line {line}: {dotted} (only dashboard/state.py builds services)")
        if any(_under(dotted, forbidden) for forbidden in UI_FORBIDDEN_MODULES):
            problems.append(f"line {line}: {dotted} (routers come from state.router(id))")
        if _under(dotted, "core.aws") and not any(_under(dotted, allowed) for allowed in UI_AWS_MODULES):
            problems.append(f"line {line}: {dotted} (AWS is reached through the backend)")
    return problems


@pytest.mark.parametrize(
    "path", python_files("dashboard") + python_files("pages"), ids=lambda p: str(p.relative_to(ROOT))
)
def test_the_ui_reaches_core_services_only_through_the_backend(path):
    source = path.read_text(encoding="utf-8")

    assert ui_import_problems(source, builds_services=path == SERVICE_BUILDER) == []


@pytest.mark.parametrize(
    ("source", "broken"),
    [
        ("from core.store import Store", True),
        ("from core import store", True),
        ("def f():\n    from core.backends import make_backend", True),
        ("from core.datasets.library import DatasetLibrary", True),
        ("from core.routers.student import StudentRouter", True),
        ("from core.routers import uniform", True),
        ("import core.distill.worker", True),
        ("from core.aws.s3 import S3DatasetStorage", True),
        ("from core import aws", True),
        ("from core.store import StoreError", False),
        ("from core.datasets.library import DatasetInfo", False),
        ("from core.distill.jobs import Job, JobService", False),
        ("from core.backends import Backend, BackendStatus", False),
        ("from core.routers.base import Router", False),
        ("from core.aws.names import check_job_name", False),
        ("from core.aws.models import MODELS", False),
        ("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from core.store import Store", False),
    ],
)
def test_the_ui_import_rule_tells_a_service_import_from_a_type_import(source, broken):
    assert bool(ui_import_problems(source)) is broken
