"""The docs list every setting, with its flag and environment variable, and cite only tests that exist."""

import ast
import re
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from scimgate.cli import main
from scimgate.config import Settings

DOCS = Path(__file__).resolve().parent.parent / "docs"
TESTS = Path(__file__).resolve().parent
# A test cited in the docs: `scim/test_patch.test_name`, `test_auth.test_name` (a module named without its folder),
# `test_isolation.*`, `tests/store/test_schema.py`, or a bare `test_name`.
_CITED = re.compile(r"`((?:[a-z_]+/)*test_\w+(?:\.(?:py|\*|\w+))?)`")


def test_every_setting_is_documented() -> None:
    """docs/settings.md has a row naming each setting's flag and SCIMGATE_ variable."""
    text = (DOCS / "settings.md").read_text()
    for name in Settings.model_fields:
        flag = "--" + name.replace("_", "-")
        row = next((line for line in text.splitlines() if line.startswith(f"| {name} |")), None)
        assert row is not None, f"{name} is not in docs/settings.md"
        assert f"`{flag}`" in row and f"`SCIMGATE_{name.upper()}`" in row, row


def test_every_setting_is_a_serve_flag() -> None:
    """scimgate serve --help offers a flag for each setting."""
    help_text = CliRunner().invoke(main, ["serve", "--help"]).output
    for name in Settings.model_fields:
        assert "--" + name.replace("_", "-") in help_text, name


def test_environment_variables_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    """SCIMGATE_PORT and friends set the settings."""
    monkeypatch.setenv("SCIMGATE_PORT", "9123")
    monkeypatch.setenv("SCIMGATE_PUBLIC_URL", "https://scim.example.com/")
    settings = Settings()
    assert settings.port == 9123
    assert settings.resolved_public_url() == "https://scim.example.com"


def test_every_management_command_is_documented() -> None:
    """docs/directories.md and docs/events.md name each subcommand of the management commands."""
    documented: set[tuple[str, str]] = set()
    for page in ("directories.md", "events.md"):
        for line in (DOCS / page).read_text().splitlines():
            words = line.split()
            if len(words) >= 3 and words[0] == "scimgate":
                documented |= {(words[1], name) for name in words[2].split("|")}
    for group_name in ("directory", "token", "client", "config", "events", "webhook", "role", "schema", "domain"):
        group = main.commands[group_name]
        assert isinstance(group, click.Group)
        for name in group.commands:
            assert (group_name, name) in documented, f"scimgate {group_name} {name} is not in docs/directories.md"


def test_every_event_type_is_documented_with_its_fields() -> None:
    """docs/events.md has a row per event type naming each of its data fields."""
    from dataclasses import fields

    from scimgate.events.types import EVENT_TYPES

    rows = {line.split("|")[1].strip(): line for line in (DOCS / "events.md").read_text().splitlines() if "|" in line}
    for event in EVENT_TYPES:
        row = rows.get(f"`{event.name}`")
        assert row is not None, f"{event.name} is not in docs/events.md"
        for field in fields(event):
            assert f"`{field.name}`" in row.split("|")[2], f"{event.name}: {field.name} is not documented"


def _test_names() -> dict[str, set[str]]:
    """Each test module (path under tests/ without .py) with the names it defines."""
    found: dict[str, set[str]] = {}
    for path in TESTS.rglob("test_*.py"):
        nodes = ast.walk(ast.parse(path.read_text()))
        defined = {n.name for n in nodes if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)}
        found[path.relative_to(TESTS).with_suffix("").as_posix()] = defined
    return found


def test_every_test_the_docs_cite_exists() -> None:
    """Each test named in docs/, README.md and CHANGELOG.md exists (docs/security.md's findings cite their tests,
    and a renamed or removed test must not leave a claim pointing at nothing)."""
    modules = _test_names()
    every = set().union(*modules.values())
    missing = []
    for page in [*DOCS.glob("*.md"), DOCS.parent / "README.md", DOCS.parent / "CHANGELOG.md"]:
        for cited in _CITED.findall(page.read_text()):
            module, _, name = cited.removeprefix("tests/").partition(".")
            candidates = [names for m, names in modules.items() if m == module or m.endswith("/" + module)]
            if name in ("py", "*"):
                exists = bool(candidates)
            elif name:
                exists = any(name in names for names in candidates)
            else:
                exists = bool(candidates) or module in every
            if not exists:
                missing.append(f"{page.name}: {cited}")
    assert not missing, missing
