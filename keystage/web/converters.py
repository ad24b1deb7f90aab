"""URL path converters."""

from __future__ import annotations


class IdConverter:
    """A database id: at most 18 digits, so an absurd number is "not found" rather than an
    overflow in the database driver (a 500)."""

    regex = "[0-9]{1,18}"

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value: int) -> str:
        return str(value)
