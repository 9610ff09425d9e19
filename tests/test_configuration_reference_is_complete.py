"""docs/configuration.md lists every environment variable site/config/settings.py reads, and
nothing else; the README stays a short page for users.

No database and no Django: settings.py is read as source with `ast`, so a variable read under a
condition (or one raising on a bad value) is found as well as any other.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SETTINGS = ROOT / "site" / "config" / "settings.py"
REFERENCE = ROOT / "docs" / "configuration.md"
README = ROOT / "README.md"
README_LIMIT = 15_000  # bytes

ENV_FUNCTIONS = {"getenv", "getenvb"}  # os.getenv(...), os.getenvb(...)
ALL_CAPS = re.compile(r"`([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*)`")


def _is_os_environ(node: ast.expr) -> bool:
    """`os.environ` (or a bare `environ`, after `from os import environ`)."""
    if isinstance(node, ast.Attribute) and node.attr in ("environ", "environb"):
        return isinstance(node.value, ast.Name) and node.value.id == "os"
    return isinstance(node, ast.Name) and node.id in ("environ", "environb")


def _environ_key(node: ast.AST) -> ast.expr | None:
    """The key expression of an environment read, or None when `node` reads none.

    Covers os.environ.get(KEY, ...), os.environ.setdefault(KEY, ...), os.environ.pop(KEY, ...),
    os.environ[KEY], os.getenv(KEY, ...) and `KEY in os.environ`.
    """
    if isinstance(node, ast.Call) and node.args:
        func = node.func
        if (
            isinstance(func, ast.Attribute)
            and func.attr in ("get", "setdefault", "pop")
            and _is_os_environ(func.value)
        ):
            return node.args[0]
        if (
            isinstance(func, ast.Attribute)
            and func.attr in ENV_FUNCTIONS
            and isinstance(func.value, ast.Name)
            and func.value.id == "os"
        ):
            return node.args[0]
    if isinstance(node, ast.Subscript) and _is_os_environ(node.value):
        return node.slice
    if (
        isinstance(node, ast.Compare)
        and len(node.ops) == 1
        and isinstance(node.ops[0], ast.In | ast.NotIn)
        and _is_os_environ(node.comparators[0])
    ):
        return node.left
    return None


def _env_helpers(tree: ast.Module) -> dict[str, str]:
    """Functions of settings.py that read the environment under a name they are given.

    envbool, envint, envfloat, envlist, envpath today, and any helper added later: a function
    whose body reads os.environ with one of its own parameters as the key. Maps each to the
    name of that parameter.
    """
    helpers: dict[str, str] = {}
    for function in tree.body:
        if not isinstance(function, ast.FunctionDef):
            continue
        parameters = [argument.arg for argument in function.args.args]
        for node in ast.walk(function):
            key = _environ_key(node)
            if isinstance(key, ast.Name) and key.id in parameters:
                helpers[function.name] = key.id
    return helpers


def _helper_argument(call: ast.Call, parameter: str, tree: ast.Module) -> ast.expr | None:
    """The argument a call to an env* helper passes as its variable name, by position or keyword."""
    for keyword in call.keywords:
        if keyword.arg == parameter:
            return keyword.value
    assert isinstance(call.func, ast.Name)
    function = next(
        node
        for node in tree.body
        if isinstance(node, ast.FunctionDef) and node.name == call.func.id
    )
    position = [argument.arg for argument in function.args.args].index(parameter)
    return call.args[position] if len(call.args) > position else None


def read_by_settings() -> tuple[set[str], list[str]]:
    """The variable names settings.py reads, and the reads whose name is not a string literal."""
    tree = ast.parse(SETTINGS.read_text(), filename=str(SETTINGS))
    helpers = _env_helpers(tree)
    inside_helpers = {
        id(node)
        for function in tree.body
        if isinstance(function, ast.FunctionDef) and function.name in helpers
        for node in ast.walk(function)
    }
    names: set[str] = set()
    dynamic: list[str] = []
    for node in ast.walk(tree):
        if id(node) in inside_helpers:
            continue
        key = _environ_key(node)
        if (
            key is None
            and isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in helpers
        ):
            key = _helper_argument(node, helpers[node.func.id], tree)
            if key is None:
                dynamic.append(f"line {getattr(node, 'lineno', '?')}: {ast.unparse(node)}")
                continue
        if key is None:
            continue
        if isinstance(key, ast.Constant) and isinstance(key.value, str):
            names.add(key.value)
        else:
            dynamic.append(f"line {getattr(node, 'lineno', '?')}: {ast.unparse(node)}")
    return names, dynamic


def _table_rows() -> list[tuple[str, str]]:
    """(first column, the other columns) of each Markdown table row of docs/configuration.md."""
    rows = []
    for line in REFERENCE.read_text().splitlines():
        if line.lstrip().startswith("|"):
            first, *others = line.strip().strip("|").split("|")
            rows.append((first, "|".join(others)))
    return rows


def rows_in_tables() -> set[str]:
    """The `ALL_CAPS` names with a row of their own: in the first column of a table."""
    return {name for first, _ in _table_rows() for name in ALL_CAPS.findall(first)}


def documented_in_tables() -> set[str]:
    """Every variable name in the tables: those with a row, and every `ALL_CAPS_NAME` with an
    underscore in the other columns (a single word there may be a value, such as `INFO`).
    """
    mentioned = {
        name for _, others in _table_rows() for name in ALL_CAPS.findall(others) if "_" in name
    }
    return rows_in_tables() | mentioned


def test_the_settings_parser_finds_the_variables_it_should() -> None:
    """A guard for the tests below: a parser that found nothing would pass them all."""
    names, _ = read_by_settings()

    expected = {"SECRET_KEY", "DATABASE_URL", "REDIS_URL", "DEBUG", "ALLOWED_HOSTS", "DATA_DIR"}
    assert expected <= names, f"the parser missed {sorted(expected - names)} in {SETTINGS}"


def test_settings_read_the_environment_only_under_literal_names() -> None:
    _, dynamic = read_by_settings()

    assert not dynamic, (
        "settings.py reads environment variables whose names are not string literals, so "
        "docs/configuration.md cannot be checked against them:\n  " + "\n  ".join(dynamic)
    )


def test_every_variable_settings_reads_is_documented() -> None:
    names, _ = read_by_settings()

    missing = sorted(names - rows_in_tables())
    assert not missing, (
        f"{len(missing)} environment variable(s) read by site/config/settings.py are not in "
        "docs/configuration.md; add a table row for each (`NAME` | default | meaning):\n  "
        + "\n  ".join(missing)
    )


def test_every_documented_variable_is_read_by_settings() -> None:
    names, _ = read_by_settings()

    stale = sorted(documented_in_tables() - names)
    assert not stale, (
        f"{len(stale)} name(s) in the tables of docs/configuration.md are not read by "
        "site/config/settings.py; remove their rows, or mention them outside the tables:\n  "
        + "\n  ".join(stale)
    )


def test_the_readme_is_short() -> None:
    size = len(README.read_bytes())

    assert size < README_LIMIT, (
        f"README.md is {size:,} bytes, over the {README_LIMIT:,}-byte limit: move detail into "
        "docs/ and link to it"
    )
