"""No secret in a log line: every record of the process is masked before any handler sees it.

Installed as the process's log record factory, so it covers every logger (idara's, uvicorn's,
Celery's, a library's) whatever handlers they have. Our code never logs a token or password;
this catches what a library or a future change would echo (an Authorization header, a URL
with credentials)."""

from __future__ import annotations

import logging
import re
from typing import Any

from orchestrator.auth.tokens import TOKEN_PATTERN

MASKS = (
    (TOKEN_PATTERN, "idara_[token]"),
    (re.compile(r"(?i)(bearer\s+)[^\s'\",]+"), r"\1[token]"),
    (
        re.compile(r"(?i)(password|passwd|secret)(['\"]?\s*[:=]\s*['\"]?)[^\s'\",&}]+"),
        r"\1\2[hidden]",
    ),
    (re.compile(r"(://[^/\s:@]+:)[^@\s/]+@"), r"\1[hidden]@"),
)

_installed = False


def mask(text: str) -> str:
    for pattern, replacement in MASKS:
        text = pattern.sub(replacement, text)
    return text


def install() -> None:
    """Mask every log record created from now on in this process (idempotent)."""
    global _installed
    if _installed:
        return
    make_record = logging.getLogRecordFactory()

    def masked_record(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = make_record(*args, **kwargs)
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: leave it for logging to report
            return record
        cleaned = mask(message)
        if cleaned != message or record.args:
            record.msg, record.args = cleaned, None
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = mask(logging.Formatter().formatException(record.exc_info))
        return record

    logging.setLogRecordFactory(masked_record)
    _installed = True
