"""A spreadsheet cell as the person who typed it sees it: its column letter, its text, where a value sits
(Place: the column and its heading), and a date in words, as the issues and workbooks show them back.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime


def column_letter(index: int) -> str:
    """0 -> A, 25 -> Z, 26 -> AA."""
    letters = ""
    index += 1
    while index:
        index, remainder = divmod(index - 1, 26)
        letters = chr(65 + remainder) + letters
    return letters


def cell_text(value: object) -> str:
    """A cell as the person typed it: 7.0 from a number cell is "7"; text keeps its spaces."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, datetime):
        return value.strftime("%d/%m/%Y") if value.time() == datetime.min.time() else value.isoformat(" ")
    if isinstance(value, date):
        return value.strftime("%d/%m/%Y")
    return str(value)


@dataclass(frozen=True)
class Place:
    """Where a value sits, as the user sees it."""

    column: str
    header: str


def day_in_words(value: date) -> str:
    return f"{value.day} {value:%B %Y}"
