"""The package's layers: imports point inwards, and serving never loads training code.

Read from the source with ``ast`` (every import, including those inside functions, but not
those only made for type checkers), so a forbidden import fails here even on a code path
no other test runs; and checked at run time in a fresh interpreter, which also catches an
allowed module that drags a forbidden one in.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import stroke_risk

PACKAGE = Path(stroke_risk.__file__).parent
TRAINING_LIBRARIES = ("sklearn", "xgboost", "scipy")
WEB_FRAMEWORKS = ("starlette", "uvicorn", "fastapi", "httptools")

# sub-package -> what it must never import (module prefixes).
# Model building and its evaluation: nothing on the scoring side may import them.
TRAINING_SIDE = ("stroke_risk.training", "stroke_risk.validation")

# Only service.py (the edge) may import the HTTP door: the clinical reply, EHR integration
# and population scoring must work without it.
HTTP_DOOR = ("stroke_risk.serving",)

# sub-package -> what it must never import (module prefixes).
FORBIDDEN: dict[str, tuple[str, ...]] = {
    "core": (
        *TRAINING_SIDE,
        "stroke_risk.scoring",
        "stroke_risk.assessment",
        *HTTP_DOOR,
        "stroke_risk.app",
        "stroke_risk.loadtest",
        "stroke_risk.fhir",
        "stroke_risk.population",
        *TRAINING_LIBRARIES,
    ),
    "scoring": (
        *TRAINING_SIDE,
        "stroke_risk.assessment",
        *HTTP_DOOR,
        "stroke_risk.app",
        "stroke_risk.loadtest",
        "stroke_risk.fhir",
        "stroke_risk.population",
        "pandas",
        *TRAINING_LIBRARIES,
    ),
    # The clinical reply: what a patient is told, whatever the channel. No HTTP machinery.
    "assessment": (
        *TRAINING_SIDE,
        *HTTP_DOOR,
        "stroke_risk.app",
        "stroke_risk.loadtest",
        "stroke_risk.fhir",
        "stroke_risk.population",
        "pandas",
        "starlette",
        "uvicorn",
        "fastapi",
        *TRAINING_LIBRARIES,
    ),
    "serving": (
        *TRAINING_SIDE,
        "stroke_risk.app",
        "stroke_risk.loadtest",
        "stroke_risk.fhir",
        "stroke_risk.population",
        "pandas",
        *TRAINING_LIBRARIES,
    ),
    # The app calls the service like any client: it never scores a patient itself.
    "app": (
        *TRAINING_SIDE,
        "stroke_risk.assessment",
        *HTTP_DOOR,
        "stroke_risk.scoring",
        "stroke_risk.fhir",
        "stroke_risk.population",
        *TRAINING_LIBRARIES,
    ),
    "loadtest": (
        *TRAINING_SIDE,
        "stroke_risk.assessment",
        *HTTP_DOOR,
        "stroke_risk.scoring",
        "stroke_risk.fhir",
        "stroke_risk.population",
        *TRAINING_LIBRARIES,
    ),
    # EHR integration sits beside the service: it scores through the assessment, never trains,
    # and never reaches into the HTTP door (the key ring it shares lives in core).
    "fhir": (
        *TRAINING_SIDE,
        *HTTP_DOOR,
        "stroke_risk.app",
        "stroke_risk.loadtest",
        "stroke_risk.population",
        "pandas",
        *TRAINING_LIBRARIES,
    ),
    # Population scoring runs the same assessment on Spark: it never trains, never serves HTTP.
    "population": (
        *TRAINING_SIDE,
        *HTTP_DOOR,
        "stroke_risk.app",
        "stroke_risk.loadtest",
        *TRAINING_LIBRARIES,
    ),
    # Training builds the model; validation judges it (and may import training), not back.
    "training": (
        "stroke_risk.validation",
        "stroke_risk.assessment",
        *HTTP_DOOR,
        "stroke_risk.app",
        "stroke_risk.loadtest",
        "stroke_risk.fhir",
        "stroke_risk.population",
    ),
    "validation": (
        *HTTP_DOOR,
        "stroke_risk.app",
        "stroke_risk.loadtest",
        "stroke_risk.fhir",
        "stroke_risk.population",
    ),
}


def _is_type_checking_block(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING"


def imported_modules(path: Path) -> set[str]:
    """Every module a source file imports, outside ``if TYPE_CHECKING:`` blocks."""
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if _is_type_checking_block(node):
            return
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text(), filename=str(path)))
    return found


def _violations(subpackage: str) -> list[str]:
    bad = []
    for path in sorted((PACKAGE / subpackage).rglob("*.py")):
        for module in sorted(imported_modules(path)):
            for prefix in FORBIDDEN[subpackage]:
                if module == prefix or module.startswith(prefix + "."):
                    bad.append(f"{path.relative_to(PACKAGE.parent)} imports {module}")
    return bad


def test_every_subpackage_has_rules_and_a_one_line_docstring() -> None:
    subpackages = sorted(p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file())
    assert subpackages == sorted(FORBIDDEN)
    for name in subpackages:
        docstring = ast.get_docstring(ast.parse((PACKAGE / name / "__init__.py").read_text()))
        assert docstring and "\n" not in docstring, f"{name}/__init__.py: one docstring line"


@pytest.mark.parametrize("subpackage", sorted(FORBIDDEN))
def test_imports_point_inwards(subpackage: str) -> None:
    assert _violations(subpackage) == []


REPOSITORY = PACKAGE.parent
# Edges outside the package: the service is the one place the HTTP door is assembled.
EDGES_WITHOUT_THE_HTTP_DOOR = ("training.py", "locustfile.py", "app", "jobs")


@pytest.mark.parametrize("edge", EDGES_WITHOUT_THE_HTTP_DOOR)
def test_only_the_service_imports_the_http_door(edge: str) -> None:
    root = REPOSITORY / edge
    paths = [root] if root.is_file() else sorted(root.rglob("*.py"))
    bad = [
        f"{path.relative_to(REPOSITORY)} imports {module}"
        for path in paths
        for module in sorted(imported_modules(path))
        if module == HTTP_DOOR[0] or module.startswith(HTTP_DOOR[0] + ".")
    ]
    assert bad == []


def test_the_rules_forbid_the_http_door_to_the_reply_fhir_and_population() -> None:
    """Premise of the layout: the clinical reply is reached without the HTTP package."""
    for subpackage in ("assessment", "fhir", "population", "core", "scoring"):
        assert HTTP_DOOR[0] in FORBIDDEN[subpackage]


def fresh_interpreter_output(code: str) -> str:
    """What ``code`` prints in a fresh interpreter: there an import loads all it costs,
    whereas this test session has imported most of the package and its libraries already."""
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout


def loaded_by_importing(*modules: str) -> list[str]:
    """Every module a fresh interpreter holds once it has imported ``modules``."""
    code = f"import sys, {', '.join(modules)}; print(*sorted(sys.modules))"
    return fresh_interpreter_output(code).split()


def test_the_assessment_runs_without_http_machinery() -> None:
    """At run time: the reply's modules load no web framework (the Spark job scores with it)."""
    loaded = loaded_by_importing(
        "stroke_risk.assessment.assessor", "stroke_risk.assessment.results"
    )
    web = [
        module
        for module in loaded
        if module.split(".")[0] in WEB_FRAMEWORKS or module.startswith(HTTP_DOOR)
    ]
    assert web == []


def test_the_checker_sees_a_forbidden_import(tmp_path: Path) -> None:
    """Premise: an import inside a function counts; one for type checkers only does not."""
    source = tmp_path / "example.py"
    source.write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    import pandas\n"
        "def f():\n    from sklearn.linear_model import LogisticRegression\n"
    )
    modules = imported_modules(source)
    assert "sklearn.linear_model" in modules
    assert "pandas" not in modules


@pytest.mark.parametrize(
    "module",
    [
        "stroke_risk.assessment.model_loading",
        "stroke_risk.app.batch",
        "stroke_risk.app.client",
        "stroke_risk.fhir.routes",
    ],
)
def test_serving_and_app_run_without_training_libraries(module: str) -> None:
    """At run time, in a fresh interpreter: importing them loads no training library."""
    training = [
        loaded
        for loaded in loaded_by_importing(module)
        if loaded.split(".")[0] in TRAINING_LIBRARIES or loaded.startswith("stroke_risk.training")
    ]
    assert training == []


def test_the_lazy_ehr_app_knows_every_route_the_real_one_serves() -> None:
    from starlette.routing import Route

    from stroke_risk.core.config import Settings
    from stroke_risk.fhir.lazy_app import EHR_PATHS
    from stroke_risk.fhir.routes import build_app

    app = build_app(lambda: None, Settings(), api_keys=("k",), warn_when_open=False)
    paths = tuple(route.path for route in app.routes if isinstance(route, Route))
    assert set(paths) == set(EHR_PATHS)


def test_the_lazy_ehr_app_imports_no_fhir_models() -> None:
    """The EHR app is built on its first request: a deployment no EHR calls never pays."""
    loaded = loaded_by_importing("stroke_risk.fhir.lazy_app")
    assert [module for module in loaded if module.startswith(("fhir", "jwt"))] == []
