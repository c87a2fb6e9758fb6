"""docs/api.md is the contract, and cannot silently fall behind the code.

Each operation the server publishes in its OpenAPI schema (plus the websocket and
the schema's own pages) has exactly one row in a table of the document, whose first
cell is `` `METHOD /path` ``; each error code the code in `app/` can send has exactly
one row in the error-code table; each `EARSHOT_*` setting has exactly one row in the
configuration table. And the reverse: a row naming an operation, a code or a setting
that no longer exists fails too. Path parameters are compared without their names.
"""

import ast
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi import FastAPI

from app.api import docs
from app.config import Settings
from app.main import API_PREFIX, create_app
from app.realtime import ws

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "api.md"
APP_DIR = ROOT / "app"

_CALL_ROW = re.compile(r"^\|\s*`(GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS) (/[^`?\s]*)")
_CODE_ROW = re.compile(r"^\|\s*`([a-z][a-z0-9_]*)`\s*\|\s*(?:\d{3}|ws)")
_SETTING_ROW = re.compile(r"^\|\s*`(EARSHOT_[A-Z0-9_]+)`\s*\|")
_CODE = re.compile(r"[a-z][a-z0-9_]*")
_PARAM = re.compile(r"\{[^}/]*\}")
_HTTP_METHODS = {"get", "post", "put", "patch", "delete", "head", "options"}


def _rows(doc: str, row: re.Pattern[str]) -> list[str]:
    return [" ".join(m.groups()) for line in doc.splitlines() if (m := row.match(line))]


def documented_calls(doc: str) -> list[str]:
    """`METHOD /path` of every table row that starts with one, path parameters unnamed."""
    return [_PARAM.sub("{}", call) for call in _rows(doc, _CALL_ROW)]


def documented_codes(doc: str) -> list[str]:
    return [row.split()[0] for row in _rows(doc, _CODE_ROW)]


def documented_settings(doc: str) -> list[str]:
    return _rows(doc, _SETTING_ROW)


def served_calls(app: FastAPI) -> set[str]:
    """Every operation of the OpenAPI schema, the websocket, and the schema's own pages."""
    calls = {
        f"{method.upper()} {_PARAM.sub('{}', path)}"
        for path, operations in app.openapi()["paths"].items()
        for method in operations
        if method in _HTTP_METHODS
    }
    calls |= {f"GET {API_PREFIX}{route.path}" for route in ws.router.routes}  # type: ignore[attr-defined]
    calls |= {f"GET {url}" for url in (app.openapi_url, docs.SWAGGER_PAGE, docs.REDOC_PAGE)}
    return calls


def _str(node: ast.AST | None) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _called_name(call: ast.Call) -> str | None:
    func = call.func
    return func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)


def raised_codes(app_dir: Path = APP_DIR) -> set[str]:
    """Every error code written in `app/`, found by reading its syntax trees:

    - `code="..."` passed to any call (`ApiError(..., code="not_audio")`);
    - the first argument of a function or class whose first parameter is `code`
      (`error_frame("invalid_frame", ...)`, `LiveLimit("live_rate", ...)`);
    - `{"code": "..."}` in a dict written out by hand (`/readyz`, the body limit);
    - the values of a `*_CODES` table (the status-to-code fallback of `app.api.errors`);
    - an error class's default `code = "..."`, when the class is raised without a code.
    """
    trees = [ast.parse(path.read_text(), str(path)) for path in sorted(app_dir.rglob("*.py"))]
    nodes = [node for tree in trees for node in ast.walk(tree)]
    code_first: set[str] = set()
    defaults: dict[str, str] = {}
    for node in nodes:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            params = [a.arg for a in node.args.args if a.arg not in ("self", "cls")]
            if params[:1] == ["code"]:
                code_first.add(node.name)
        elif isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, ast.FunctionDef) and item.name == "__init__":
                    if [a.arg for a in item.args.args[1:2]] == ["code"]:
                        code_first.add(node.name)
                elif isinstance(item, ast.Assign) and any(
                    isinstance(t, ast.Name) and t.id == "code" for t in item.targets
                ):
                    if (value := _str(item.value)) is not None:
                        defaults[node.name] = value
    codes: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.Call):
            name = _called_name(node)
            named = [k for k in node.keywords if k.arg == "code"]
            codes |= {v for k in named if (v := _str(k.value)) is not None}
            if name in code_first and node.args and (v := _str(node.args[0])) is not None:
                codes.add(v)
            if name in defaults and not named:
                codes.add(defaults[name])
        elif isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values, strict=True):
                if _str(key) == "code" and (v := _str(value)) is not None:
                    codes.add(v)
        elif isinstance(node, ast.Assign) and isinstance(node.value, ast.Dict):
            if any(isinstance(t, ast.Name) and t.id.endswith("CODES") for t in node.targets):
                codes |= {v for value in node.value.values if (v := _str(value)) is not None}
    return {code for code in codes if _CODE.fullmatch(code)}  # not e.g. an OpenAPI link's "code"


def setting_variables() -> set[str]:
    prefix = Settings.model_config.get("env_prefix", "")
    return {f"{prefix}{name}".upper() for name in Settings.model_fields}


def _differences(documented: list[str], actual: set[str]) -> dict[str, list[str]]:
    return {
        "missing from docs/api.md": sorted(actual - set(documented)),
        "documented but not in the code": sorted(set(documented) - actual),
        "documented more than once": sorted({d for d in documented if documented.count(d) > 1}),
    }


def _no_differences(differences: dict[str, list[str]]) -> bool:
    return not any(differences.values())


@pytest.fixture(scope="module")
def doc() -> str:
    return DOC.read_text()


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> FastAPI:
    # With every optional route on (GET /metrics is routed only with a token).
    settings = Settings(data_dir=tmp_path_factory.mktemp("doc-data"), metrics_token="doc")
    return create_app(settings)


def test_every_operation_of_the_server_has_one_row_in_the_api_document(
    doc: str, app: FastAPI
) -> None:
    differences = _differences(documented_calls(doc), served_calls(app))
    assert _no_differences(differences), differences


def test_every_error_code_in_the_code_has_one_row_in_the_error_table(doc: str) -> None:
    differences = _differences(documented_codes(doc), raised_codes())
    assert _no_differences(differences), differences


def test_every_setting_has_one_row_in_the_configuration_table(doc: str) -> None:
    differences = _differences(documented_settings(doc), setting_variables())
    assert _no_differences(differences), differences


_EVERY_FORM = """
class Err(Exception):
    code = "default_used"

    def __init__(self, message, *, code=None): ...


class Other(Exception):
    code = "default_unused"


class Limit(Exception):
    def __init__(self, code, message): ...


def frame(code, message): ...


_CODES = {400: "from_table"}


def use():
    Err("raised without a code")
    Other("raised with its own", code="keyword")
    frame("first_argument", "m")
    Limit("class_first_argument", "m")
    return {"code": "hand_written", "link": {"code": "$response.body#/code"}}
"""


def test_the_code_scan_reads_every_way_a_code_is_written(tmp_path: Path) -> None:
    (tmp_path / "module.py").write_text(_EVERY_FORM)
    assert raised_codes(tmp_path) == {
        "default_used",
        "keyword",
        "first_argument",
        "class_first_argument",
        "from_table",
        "hand_written",
    }


def test_the_code_scan_reads_the_app() -> None:
    assert {"not_audio", "live_rate", "invalid_frame", "not_ready", "forbidden"} <= raised_codes()


@pytest.mark.parametrize("kind", ["operation", "code", "setting"])
def test_deleting_any_row_from_the_document_fails_the_check(
    kind: str, doc: str, app: FastAPI
) -> None:
    """Each row is the only place its operation, code or setting is documented."""
    checks: dict[str, tuple[Callable[[str], list[str]], set[str]]] = {
        "operation": (documented_calls, served_calls(app)),
        "code": (documented_codes, raised_codes()),
        "setting": (documented_settings, setting_variables()),
    }
    documented, actual = checks[kind]
    lines = doc.splitlines()
    rows = [i for i, line in enumerate(lines) if documented(line)]
    assert len(rows) >= 5, kind
    for i in rows:
        shortened = "\n".join(lines[:i] + lines[i + 1 :])
        (removed,) = documented(lines[i])
        differences = _differences(documented(shortened), actual)
        assert differences["missing from docs/api.md"] == [removed], (kind, lines[i])
