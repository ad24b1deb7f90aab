"""Logging that stays readable: a refused request (403, 404, 400) is one line, not a traceback."""

from __future__ import annotations

import logging


class RefusalsWithoutTracebacks(logging.Filter):
    """Django logs a PermissionDenied or Http404 with the exception attached, so every 403 wrote a full
    traceback. A refusal is the site working as meant: keep its one line (path and status), drop the
    traceback. Server errors (5xx) keep theirs."""

    def filter(self, record: logging.LogRecord) -> bool:
        status = getattr(record, "status_code", None)
        if record.exc_info and isinstance(status, int) and status < 500:
            record.exc_info = None
            record.exc_text = None
        return True
