"""URLs as they may be shown or logged: without credentials (user:password@) or query strings (?api-key=...).

Operators put secrets in URLs (``http://user:pass@host/v1``, ``...?api-key=...``); every message, warning
and log line that names a configured URL goes through `redact_url`, and the loggers of the HTTP clients we
use get `RedactURLs`, which does the same to any URL inside a log record.
"""

from __future__ import annotations

import logging
import re
from urllib.parse import urlsplit, urlunsplit

HIDDEN = "***"
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s\"'<>]+")
_LOGGERS = ("httpx", "httpcore", "httpx2", "httpcore2", "openai", "openai._base_client", "qdrant_client", "urllib3")


def redact_url(url: object) -> str:
    """`url` without userinfo, with its query values (names kept) and fragment hidden; never raises."""
    text = str(url) if url is not None else ""
    try:
        parts = urlsplit(text)
    except ValueError:
        return HIDDEN
    if not parts.scheme or not parts.netloc:
        return text
    host = parts.netloc.rsplit("@", 1)[-1]
    netloc = f"{HIDDEN}@{host}" if "@" in parts.netloc else host
    query = "&".join(f"{name}={HIDDEN}" if sep else HIDDEN
                     for name, sep, _ in (field.partition("=") for field in parts.query.split("&")) if name or sep)
    fragment = HIDDEN if parts.fragment else ""
    return urlunsplit((parts.scheme, netloc, parts.path, query, fragment))


def redact_urls(text: str) -> str:
    """Every URL inside `text` redacted (for messages that quote a URL among other words)."""
    return _URL.sub(lambda m: redact_url(m.group(0)), text)


class RedactURLs(logging.Filter):
    """Rewrites a log record's message and arguments so that no URL keeps credentials or a query."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact_urls(record.msg)
        if isinstance(record.args, tuple) and record.args:
            record.args = tuple(redact_urls(str(a)) if _is_url_like(a) else a for a in record.args)
        elif isinstance(record.args, dict):
            record.args = {k: redact_urls(str(v)) if _is_url_like(v) else v for k, v in record.args.items()}
        return True


def _is_url_like(value: object) -> bool:
    return (isinstance(value, str) or type(value).__name__ == "URL") and "://" in str(value)


def install_log_redaction() -> None:
    """Attach `RedactURLs` once to the loggers of the HTTP clients (httpx, openai, qdrant-client)."""
    for name in _LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactURLs) for f in logger.filters):
            logger.addFilter(RedactURLs())
