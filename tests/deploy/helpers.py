"""What the deployment tests share: the repository's deployment files and the settings scimgate knows."""

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
