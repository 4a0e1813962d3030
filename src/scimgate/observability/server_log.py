"""Log configuration for ``serve`` and ``worker``: text, or JSON lines carrying the request and directory ids.

The request id is the one in the ``X-Request-Id`` header and in the provisioning log, so a line of the server log,
an admin page entry and an IdP's complaint can be matched up.
"""

from logging import Filter, LogRecord
from typing import Any

import uvicorn

from scimgate.context import current_request


class RequestIds(Filter):
    def filter(self, record: LogRecord) -> bool:
        request = current_request.get()
        record.request_id = request.id if request else None
        record.directory_id = request.directory_id if request else None
        record.__dict__.pop("color_message", None)  # uvicorn's ANSI-coloured copy of the message
        return True


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
    if log_format == "json":
        json_formatter = {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s %(directory_id)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        }
        config["formatters"] = {"default": json_formatter, "access": json_formatter}
        config["root"] = {"handlers": ["default"], "level": "WARNING"}  # libraries' records, as JSON too
    config["handlers"] = {
        name: {**handler, "filters": ["ids"]} for name, handler in uvicorn.config.LOGGING_CONFIG["handlers"].items()
    }
    return config
