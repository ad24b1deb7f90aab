"""One subject column's check of a result (ResultChecker): the values the collection's framework allows,
and, for a value it does not, the most helpful issue: a combined science grade as "5-4", a letter
grade in a 9-1 column, a decimal, a score out of range, a fail word.
"""

from __future__ import annotations

import re
from typing import Any

from keystage.core.results import rules
from keystage.core.results.cells import Place
from keystage.core.results.layout import SubjectColumn
from keystage.core.results.rules import Issue

_LETTER_GRADES = frozenset({"A*", "A", "B", "C", "D", "E", "F", "G", "*"})
_FAIL_WORDS = frozenset({"F", "X", "FAIL", "FAILED", "UNGRADED", "UNCLASSIFIED", "N", "NG", "0", "-"})
_PAIR = re.compile(r"([1-9])\s*[-/,.&+\s]\s*([1-9])")
_DECIMAL = re.compile(r"[0-9]+\.[0-9]+")


class ResultChecker:
    """One subject column's check: a set lookup for every valid value, and on a miss the most
    helpful message keystage can give, with the value it was read as when it is unambiguous."""

    def __init__(self, column: SubjectColumn) -> None:
        self.column = column
        self.valid = frozenset(column.dropdown())
        self.valid_text = column.valid_results.replace(",", ", ")
        self.graded_9_1 = "9" in column.outcomes and "U" in column.outcomes and not column.double_award

    def check(self, row: int, text: str, place: Place, issues: list[Issue]) -> str | None:
        """The canonical result, or None when the value is not valid (an issue is then added)."""
        if text in self.valid:
            return text
        where: dict[str, Any] = {"row": row, "column": place.column, "header": place.header, "value": text}
        stripped = text.strip()
        if not stripped:
            return None
        if stripped in self.valid:
            issues.append(rules.RESULT_SPACES.issue(read=stripped, **where))
            return stripped
        upper = stripped.upper()
        if upper in self.valid:
            issues.append(rules.RESULT_CASE.issue(read=upper, **where))
            return upper
        column = self.column
        if _DECIMAL.fullmatch(stripped):
            number = float(stripped)
            if number.is_integer() and str(int(number)) in self.valid:
                issues.append(rules.RESULT_DECIMAL_WHOLE.issue(read=str(int(number)), **where))
                return str(int(number))
        if column.score is not None:
            issues.append(self._score_issue(where))
            return None
        if column.double_award:
            issues.append(self._double_award_issue(stripped, where))
            return None
        if _DECIMAL.fullmatch(stripped):
            issues.append(rules.RESULT_DECIMAL.issue(valid=self.valid_text, **where))
        elif "U" in self.valid and upper in _FAIL_WORDS:
            issues.append(rules.UNGRADED.issue(**where))
        elif self.graded_9_1 and upper in _LETTER_GRADES:
            issues.append(rules.LETTER_GRADE.issue(**where))
        else:
            issues.append(rules.RESULT_INVALID.issue(valid=self.valid_text, **where))
        return None

    def _score_issue(self, where: dict[str, Any]) -> Issue:
        score = self.column.score
        assert score is not None
        codes = f", or {', '.join(self.column.outcomes)}" if self.column.outcomes else ""
        return rules.SCORE_RANGE.issue(minimum=score.minimum, maximum=score.maximum, codes=codes, **where)

    def _double_award_issue(self, text: str, where: dict[str, Any]) -> Issue:
        pair = _PAIR.fullmatch(text)
        if pair:
            high, low = sorted((pair[1], pair[2]), reverse=True)
            if high + low in self.valid:
                return rules.COMBINED_SCIENCE_FORMAT.issue(read=high + low, **where)
        if re.fullmatch(r"[1-9]{2}", text) and text[::-1] in self.valid:
            return rules.COMBINED_SCIENCE_ORDER.issue(read=text[::-1], **where)
        if re.fullmatch(r"[1-9]", text):
            return rules.COMBINED_SCIENCE_SINGLE.issue(example=text * 2, **where)
        if text.upper() in _FAIL_WORDS:
            return rules.UNGRADED.issue(**where)
        return rules.RESULT_INVALID.issue(valid=self.valid_text, **where)
