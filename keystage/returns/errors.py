"""What a refused action on an LA return says: the error the returns' services raise, and the words
they use for a moment and for a file past its retention period."""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone

from keystage.core.refusals import Refused

# What a file past its retention period says in place of its content (keystage.privacy.retention).
RETENTION_ENDED = "This file was deleted when its retention period ended; its record stays."


class ReturnsError(Refused):
    """A user action that cannot be done; str() is the message to show, ``field`` the form field
    it concerns (None for the whole form)."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


def in_words(moment: datetime) -> str:
    local = timezone.localtime(moment)
    return f"{local.day} {local:%B %Y} at {local:%H:%M}"
