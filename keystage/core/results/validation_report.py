"""What a check of an upload gives back: the ValidationReport (every issue, the file's format and DfE
numbers, the cells as read) and a PupilEntry for each pupil, with canonical results, ready to store.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from keystage.core.results.layout import TemplateLayout
from keystage.core.results.reading import Format
from keystage.core.results.rules import Issue, Severity


@dataclass
class PupilEntry:
    row: int
    upn: str
    forename: str = ""
    surname: str = ""
    date_of_birth: date | None = None
    sex: str = ""  # F / M
    nc_year: int | None = None
    dfe: str = ""
    results: dict[str, str] = field(default_factory=dict)  # subject key -> canonical result


@dataclass
class ValidationReport:
    layout: TemplateLayout
    format: Format | None
    issues: list[Issue] = field(default_factory=list)
    pupils: list[PupilEntry] = field(default_factory=list)
    dfe_numbers: dict[str, int] = field(default_factory=dict)  # DfE number -> pupil rows with it
    readable: bool = True
    rows: list[list[object]] | None = None  # a spreadsheet's cells as read, for the error workbook

    @property
    def errors(self) -> list[Issue]:
        return [i for i in self.issues if i.severity is Severity.ERROR]

    @property
    def warnings(self) -> list[Issue]:
        return [i for i in self.issues if i.severity is Severity.WARNING]

    @property
    def valid(self) -> bool:
        return self.readable and not self.errors

    @property
    def school_dfe(self) -> str | None:
        """The one DfE number the file is for, when it names exactly one."""
        return next(iter(self.dfe_numbers)) if len(self.dfe_numbers) == 1 else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "valid": self.valid,
            "pupils": len(self.pupils),
            "issues": [i.as_dict() for i in self.issues],
        }
