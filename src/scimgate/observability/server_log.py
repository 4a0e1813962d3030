"""Log configuration for ``serve`` and ``worker``: text, or JSON lines carrying the request and directory ids.

The request id is the one in the ``X-Request-Id`` header and in the provisioning log, so a line of the server log,
an admin page entry and an IdP's complaint can be matched up.

In text format a record's message and its exception's text are written with their control characters escaped
(``\\n``, ``\\x1b``, ``\\u2028``): a message quotes request data (the access log's path, a directory id), and a
``%0A`` in a URL wrote a forged line into the log (issue 20, finding 10). A traceback keeps its own line breaks.
JSON lines need nothing more: the JSON encoder escapes every control character (and, ASCII-only, U+2028).
"""

import re
from logging import Filter, LogRecord
from types import TracebackType
from typing import Any

import uvicorn
import uvicorn.logging

from scimgate.context import current_request

# C0 and C1 controls, DEL, and the two Unicode line breaks some log viewers honour.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None] | tuple[None, None, None]


def escape_controls(text: str) -> str:
    """``text`` on one line, its control characters written as Python escapes."""
    return _CONTROL.sub(lambda found: found.group().encode("unicode_escape").decode("ascii"), text)


class RequestIds(Filter):
    def filter(self, record: LogRecord) -> bool:
        request = current_request.get()
        record.request_id = request.id if request else None
        record.directory_id = request.directory_id if request else None
        record.__dict__.pop("color_message", None)  # uvicorn's ANSI-coloured copy of the message
        return True


class TextFormatter(uvicorn.logging.DefaultFormatter):
    """uvicorn's text format, with each record one line of message (plus its traceback's own lines)."""

    def formatMessage(self, record: LogRecord) -> str:
        record.message = escape_controls(record.message)
        return super().formatMessage(record)

    def formatException(self, ei: _ExcInfo) -> str:
        text = super().formatException(ei)
        # An exception's message may quote request data: its line breaks are not the traceback's.
        for error in _chain(ei[1]):
            message = str(error)
            if _CONTROL.search(message):
                text = text.replace(message, escape_controls(message))
        return "\n".join(escape_controls(line) for line in text.split("\n"))


def _chain(error: BaseException | None) -> list[BaseException]:
    found: list[BaseException] = []
    while error is not None and error not in found:
        found.append(error)
        error = error.__cause__ or error.__context__
    return found


def log_config(log_format: str) -> dict[str, Any]:
    """uvicorn's logging, plus scimgate's loggers at INFO; with ``json``, one JSON object per line everywhere."""
    config: dict[str, Any] = {
        **uvicorn.config.LOGGING_CONFIG,
        "filters": {"ids": {"()": "scimgate.observability.server_log.RequestIds"}},
        "loggers": {
            **uvicorn.config.LOGGING_CONFIG["loggers"],
            "scimgate": {"handlers": ["default"], "level": "INFO", "propagate": False},
        },
    }
    text_formatter = {**uvicorn.config.LOGGING_CONFIG["formatters"]["default"], "()": f"{__name__}.TextFormatter"}
    config["formatters"] = {**uvicorn.config.LOGGING_CONFIG["formatters"], "default": text_formatter}
    # Libraries' records (SQLAlchemy, httpx…) through the same formatter, so that they are escaped too.
    config["root"] = {"handlers": ["default"], "level": "WARNING"}
    if log_format == "json":
        json_formatter = {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s %(directory_id)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        }
        config["formatters"] = {"default": json_formatter, "access": json_formatter}
    config["handlers"] = {
        name: {**handler, "filters": ["ids"]} for name, handler in uvicorn.config.LOGGING_CONFIG["handlers"].items()
    }
    return config
