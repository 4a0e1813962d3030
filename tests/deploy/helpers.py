"""What the deployment tests share: the repository's deployment files and the settings scimgate knows."""

import json
import re
from collections.abc import Iterable

from scimgate.config import Settings
from tests.helpers.processes import REPO

DEPLOY = REPO / "deploy"
SETTING_VARIABLES = {f"SCIMGATE_{name.upper()}" for name in Settings.model_fields}


def unknown_settings(names: Iterable[str]) -> set[str]:
    """The SCIMGATE_ names among ``names`` that no setting has: a typo scimgate would never read."""
    return {name for name in names if name.startswith("SCIMGATE_")} - SETTING_VARIABLES


def scimgate_names(text: str) -> set[str]:
    """Every SCIMGATE_ variable named in ``text``."""
    return set(re.findall(r"\bSCIMGATE_[A-Z0-9_]+", text))


def dockerfile_instructions(text: str) -> list[tuple[str, str]]:
    """The Dockerfile's instructions as (INSTRUCTION, arguments), continuation lines joined, comments dropped."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for line in text.splitlines():
        if line.lstrip().startswith("#") or not line.strip():
            continue
        pending += line.rstrip().removesuffix("\\") + " " if line.rstrip().endswith("\\") else line.strip()
        if not line.rstrip().endswith("\\"):
            keyword, _, arguments = pending.strip().partition(" ")
            instructions.append((keyword.upper(), arguments.strip()))
            pending = ""
    return instructions


def healthcheck_command() -> list[str]:
    """The command the image's HEALTHCHECK runs (exec form)."""
    (arguments,) = [
        args for keyword, args in dockerfile_instructions((REPO / "Dockerfile").read_text()) if keyword == "HEALTHCHECK"
    ]
    command: list[str] = json.loads(arguments.split(" CMD ", 1)[1])
    return command
