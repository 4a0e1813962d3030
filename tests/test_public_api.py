"""What docs/events.md tells embedding applications to import is importable from the package, and typed."""

from pathlib import Path

import scimgate


def test_every_public_name_resolves() -> None:
    """Each name in ``scimgate.__all__`` is there (imported on first use), and nothing else is offered."""
    from scimgate import EventFeed, Settings, create_app, verify_password

    assert {EventFeed.__name__, Settings.__name__, create_app.__name__, verify_password.__name__} <= set(
        scimgate.__all__
    )
    for name in scimgate.__all__:
        assert getattr(scimgate, name) is not None


def test_the_package_ships_its_type_information() -> None:
    """``py.typed`` (PEP 561): an application's mypy checks its calls into scimgate."""
    assert (Path(scimgate.__file__).parent / "py.typed").is_file()
