"""LA returns: the files schools send to their local authority, their tags, and the rules that decide
which school submits for a pupil who moved (seeds 002 and 003)."""

from keystage.core.returns.movers import Decision, KeyDates, Registration, took_phonics_check, who_submits
from keystage.core.returns.tags import ReturnTag, academic_year_of, parse_tag

__all__ = [
    "Decision",
    "KeyDates",
    "Registration",
    "ReturnTag",
    "academic_year_of",
    "parse_tag",
    "took_phonics_check",
    "who_submits",
]
