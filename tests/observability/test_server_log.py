"""The server log as ``serve`` configures it: one record, one line of message, whatever the request carried (issue
20, finding 10: ``GET /scim/v2/dir_x%0AWARNING:%20forged/Users`` wrote a forged line into the text log)."""

import json
import logging
import logging.config
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from scimgate.observability.server_log import log_config
from tests.helpers.scim import Scim

FORGED = "/scim/v2/dir_x%0AWARNING:%20forged%0D%E2%80%A8%C2%85%1B[31mred/Users"


@contextmanager
def configured(log_format: str) -> Iterator[None]:
    """The logging of ``serve`` for the duration, then pytest's own back."""
    logging.config.dictConfig(log_config(log_format))
    try:
        yield
    finally:
        logging.config.dictConfig({"version": 1, "disable_existing_loggers": False})
        for name in ("scimgate", ""):
            logging.getLogger(name).handlers.clear()
        logging.getLogger("scimgate").propagate = True


def test_a_line_break_in_the_url_cannot_forge_a_text_log_line(scim: Scim, capsys: pytest.CaptureFixture[str]) -> None:
    with configured("text"):
        scim.client.get(FORGED, headers=scim.headers())
        lines = capsys.readouterr().err.splitlines()
    access = [line for line in lines if "forged" in line]
    assert len(access) == 1, lines
    assert "/scim/v2/dir_x\\nWARNING: forged\\r\\u2028\\x85\\x1b[31mred/Users 404" in access[0]
    assert not any(line.startswith("WARNING: forged") for line in lines)
    assert all(line.isprintable() for line in lines)


def test_an_exception_message_cannot_forge_a_line_but_the_traceback_keeps_its_own(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with configured("text"):
        try:
            raise ValueError("bad path /x\nERROR: forged\u2028too")
        except ValueError:
            logging.getLogger("scimgate.app").exception("unexpected error while serving GET %s", "/a\r\nb")
        lines = capsys.readouterr().err.splitlines()
    assert lines[0].endswith("unexpected error while serving GET /a\\r\\nb")
    assert lines[1] == "Traceback (most recent call last):"
    assert lines[-1] == "ValueError: bad path /x\\nERROR: forged\\u2028too"
    assert not any(line.startswith("ERROR: forged") for line in lines)


def test_libraries_records_are_escaped_too(capsys: pytest.CaptureFixture[str]) -> None:
    with configured("text"):
        logging.getLogger("sqlalchemy.pool").warning("connection %s\nCRITICAL: forged", "x")
        lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and lines[0].endswith("connection x\\nCRITICAL: forged")


def test_json_lines_are_escaped_by_the_encoder(scim: Scim, capsys: pytest.CaptureFixture[str]) -> None:
    with configured("json"):
        scim.client.get(FORGED, headers=scim.headers())
        lines = capsys.readouterr().err.splitlines()
    records = [json.loads(line) for line in lines]  # every line is a whole JSON object
    access = [record for record in records if record["logger"] == "scimgate.access"]
    assert len(access) == 1 and "\nWARNING: forged\r\u2028\x85\x1b[31mred/Users" in access[0]["message"]
    assert all(line.isascii() and line.isprintable() for line in lines)
