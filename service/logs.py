"""How the long-running commands log: `ntd run`, `ntd serve` and `ntd mail serve`.

LOG_FORMAT=plain (the default) writes timestamped lines for a person; json writes one
JSON object a line (time, level, logger, message, and the report, notice or inbound
message it is about, where the code names one) for a log collector. Unless LOG_URLS is
true, a URL in a line at info level or below is written as ``<url>``: the addresses of
reported content do not belong in everyday logs. Warnings and errors keep theirs, since
they are what someone must act on.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime

# Extra fields a log call may carry (``extra={"report_id": 7}``), written when present.
IDS = ("report_id", "notice_id", "inbound_id")
PLAIN = "%(asctime)s %(name)s %(levelname)s %(message)s"


class JsonLines(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in IDS:
            value = getattr(record, name, None)
            if value is not None:
                entry[name] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


class HideUrls(logging.Filter):
    """``<url>`` for each URL of a record at info level or below."""

    _URL = re.compile(r"\b(?:https?|ftp)://[^\s'\"<>]+", re.IGNORECASE)

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno <= logging.INFO:
            message = record.getMessage()
            if "://" in message:
                record.msg, record.args = self._URL.sub("<url>", message), None
        return True


def handler(settings) -> logging.Handler:
    """A stderr handler in LOG_FORMAT, hiding URLs unless LOG_URLS."""
    made = logging.StreamHandler()
    made.setFormatter(JsonLines() if settings.log_format == "json" else logging.Formatter(PLAIN))
    if not settings.log_urls:
        made.addFilter(HideUrls())
    return made


def configure(settings) -> None:
    """INFO and up to stderr in LOG_FORMAT, Scrapy's from WARNING up; replaces whatever a
    command had set up before (`ntd run` comes through the `ntd` group's logging)."""
    logging.basicConfig(level=logging.INFO, handlers=[handler(settings)], force=True)
    logging.getLogger("scrapy").setLevel(logging.WARNING)
