"""The checks of one pupil row, shared by spreadsheets and CTFs (PupilChecks): DfE number, key stage,
year group, UPN (check letter, duplicates, the roster), names, sex and date of birth against the
collection's cohort, then the row against the roster; and how a CSV's dd/mm or mm/dd dates are read.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from functools import cached_property
from typing import Any

from keystage.core.pupils.model import InvalidUPNError, UPNCheckLetterError, check_upn
from keystage.core.pupils.names import odd_name, visible
from keystage.core.results import rules
from keystage.core.results.cells import Place, cell_text, day_in_words
from keystage.core.results.kinds import academic_year_name
from keystage.core.results.layout import TemplateLayout
from keystage.core.results.result_checks import ResultChecker
from keystage.core.results.roster import RosterPupil, UploadContext, person_key, same_text
from keystage.core.results.validation_report import PupilEntry, ValidationReport


class PupilChecks:
    """The checks of one pupil row, shared by spreadsheets and CTFs."""

    def __init__(self, layout: TemplateLayout, context: UploadContext, report: ValidationReport) -> None:
        self.layout = layout
        self.kind = layout.kind
        self.context = context
        self.report = report
        self.issues = report.issues
        self.seen: dict[str, int] = {}
        self.birth_years = sorted(self.kind.birth_years(layout.year))
        self.year_name = academic_year_name(layout.year)
        # How a CSV's dd/mm or mm/dd dates of birth are read: "dmy", "mdy" (settled by the file), or
        # "unsettled" (every date could be either; an ambiguous one is then an error).
        self.date_order = "dmy"
        self.checkers = {column.key: ResultChecker(column) for column in layout.subjects}

    def dfe(self, entry: PupilEntry, row: int | None, value: object, place: Place) -> None:
        text = cell_text(value).strip()
        if not text:
            self.issues.append(rules.DFE_MISSING.issue(row=row, column=place.column, header=place.header))
            return
        if not re.fullmatch(r"[0-9]{7}", text):
            self.issues.append(
                rules.DFE_FORMAT.issue(row=row, column=place.column, header=place.header, value=text)
            )
            return
        entry.dfe = text
        self.report.dfe_numbers[text] = self.report.dfe_numbers.get(text, 0) + 1
        school = self.context.school_dfe
        if school is not None and text != school:
            self.issues.append(
                rules.DFE_OTHER_SCHOOL.issue(
                    row=row,
                    column=place.column,
                    header=place.header,
                    value=text,
                    school=self.context.school_name or "the uploading school",
                    expected=school,
                )
            )

    def key_stage(self, row: int, value: object, place: Place) -> None:
        text = cell_text(value).strip()
        if text.upper() != self.kind.key_stage:
            self.issues.append(
                rules.KEY_STAGE.issue(
                    row=row,
                    column=place.column,
                    header=place.header,
                    value=text,
                    expected=self.kind.key_stage,
                    title=self.kind.title,
                )
            )

    def nc_year(self, entry: PupilEntry, row: int, value: object, place: Place) -> None:
        text = cell_text(value).strip().upper()
        number = 0 if text in ("R", "0") else (int(text) if text.isascii() and text.isdigit() else None)
        if number not in self.kind.nc_years:
            expected = " or ".join("R" if y == 0 else str(y) for y in self.kind.nc_years)
            self.issues.append(
                rules.NC_YEAR.issue(
                    row=row,
                    column=place.column,
                    header=place.header,
                    value=text,
                    expected=expected,
                    title=self.kind.title,
                )
            )
            return
        entry.nc_year = number

    def upn(self, entry: PupilEntry, row: int, value: object, place: Place) -> None:
        text = cell_text(value).strip()
        where: dict[str, Any] = {"row": row, "column": place.column, "header": place.header, "value": text}
        if not text:
            self.issues.append(rules.UPN_MISSING.issue(**where))
            return
        try:
            upn = check_upn(text)
        except UPNCheckLetterError as error:
            self.issues.append(rules.UPN_CHECK_LETTER.issue(reason=error, **where))
            return
        except InvalidUPNError as error:
            self.issues.append(rules.UPN_INVALID.issue(reason=error, **where))
            return
        entry.upn = upn
        first = self.seen.setdefault(upn, row)
        if first != row:
            self.issues.append(rules.DUPLICATE.issue(first=first, **where))
            return
        roster = self.context.roster
        if roster is not None and upn not in roster:
            rule = rules.NOT_ON_ROSTER if self.kind.roster_only else rules.ADDED_PUPIL
            self.issues.append(rule.issue(year=self.year_name, title=self.kind.title, **where))

    def against_roster(self, entry: PupilEntry, places: Mapping[str, Place]) -> None:
        """A pupil whose UPN is on the roster but whose name, birth date, sex or year differ there:
        a warning for each (a mistyped UPN gives results to another child). A UPN not on the roster,
        whose name and birth date are another UPN's there: "did you mean"."""
        roster = self.context.roster
        if not roster or not entry.upn:
            return
        known = roster.get(entry.upn)
        if known is None:
            match = self._roster_by_person.get(person_key(entry.surname, entry.forename, entry.date_of_birth))
            if match is not None and entry.date_of_birth is not None:
                place = places["upn"]
                self.issues.append(
                    rules.ROSTER_DID_YOU_MEAN.issue(
                        row=entry.row,
                        column=place.column,
                        header=place.header,
                        value=entry.upn,
                        other=match.upn,
                        pupil=match.in_words(),
                    )
                )
            return
        said = {
            "surname": (
                "surname",
                entry.surname,
                known.surname,
                not same_text(entry.surname, known.surname),
            ),
            "forename": (
                "forename",
                entry.forename,
                known.forename,
                not same_text(entry.forename, known.forename),
            ),
            "dob": (
                "date of birth",
                day_in_words(entry.date_of_birth) if entry.date_of_birth else "",
                day_in_words(known.date_of_birth) if known.date_of_birth else "",
                entry.date_of_birth is not None
                and known.date_of_birth is not None
                and entry.date_of_birth != known.date_of_birth,
            ),
            "gender": (
                "sex",
                entry.sex,
                known.sex,
                entry.sex in ("F", "M") and known.sex in ("F", "M") and entry.sex != known.sex,
            ),
            "nc_year": (
                "year group",
                str(entry.nc_year),
                str(known.nc_year),
                entry.nc_year is not None and known.nc_year is not None and entry.nc_year != known.nc_year,
            ),
        }
        for key, (what, given, on_roster, differs) in said.items():
            if not differs or not given:
                continue
            place = places.get(key) or places.get("dob_day") or places["upn"]
            self.issues.append(
                rules.ROSTER_DIFFERS.issue(
                    row=entry.row,
                    column=place.column,
                    header=place.header,
                    value=given,
                    upn=entry.upn,
                    pupil=known.in_words(),
                    what=what,
                    roster=on_roster or "blank",
                )
            )

    @cached_property
    def _roster_by_person(self) -> dict[tuple[str, str, date | None], RosterPupil]:
        roster = (self.context.roster or {}).values()
        return {person_key(p.surname, p.forename, p.date_of_birth): p for p in roster}

    def name(self, entry: PupilEntry, key: str, row: int, value: object, place: Place) -> None:
        given = cell_text(value)
        text = " ".join(given.split())
        if not text:
            rule = rules.FORENAME_MISSING if key == "forename" else rules.SURNAME_MISSING
            self.issues.append(rule.issue(row=row, column=place.column, header=place.header))
        elif (reason := odd_name(given.lstrip(" ")) or odd_name(text)) is not None:
            rule = rules.FORENAME_ODD if key == "forename" else rules.SURNAME_ODD
            self.issues.append(
                rule.issue(
                    row=row, column=place.column, header=place.header, value=visible(given), reason=reason
                )
            )
        setattr(entry, key, text)

    def gender(self, entry: PupilEntry, row: int, value: object, place: Place) -> None:
        text = cell_text(value).strip()
        sex = {"female": "F", "male": "M"}.get(text.casefold())
        if sex is None:
            self.issues.append(
                rules.GENDER.issue(row=row, column=place.column, header=place.header, value=text)
            )
            return
        entry.sex = sex

    def _whole(self, value: object) -> int | None:
        text = cell_text(value).strip()
        return int(text) if text.isascii() and text.isdigit() else None

    def birth_parts(self, entry: PupilEntry, row: int, parts: Sequence[tuple[object, Place]]) -> None:
        """Seed 000's Day, Month and Year columns."""
        (day_value, day_at), (month_value, month_at), (year_value, year_at) = parts
        day, month, year = (self._whole(day_value), self._whole(month_value), self._whole(year_value))
        problems = False
        for value, place, number, rule, top in (
            (day_value, day_at, day, rules.DOB_DAY, 31),
            (month_value, month_at, month, rules.DOB_MONTH, 12),
        ):
            if not cell_text(value).strip():
                self.issues.append(rules.DOB_MISSING.issue(row=row, column=place.column, header=place.header))
                problems = True
            elif number is None or not 1 <= number <= top:
                text = cell_text(value)
                self.issues.append(rule.issue(row=row, column=place.column, header=place.header, value=text))
                problems = True
        if not cell_text(year_value).strip():
            self.issues.append(rules.DOB_MISSING.issue(row=row, column=year_at.column, header=year_at.header))
            return
        if year is None or year not in self.birth_years:
            self._year_issue(row, year_at, cell_text(year_value))
            return
        if problems or day is None or month is None:
            return
        try:
            born = date(year, month, day)
        except ValueError:
            self.issues.append(
                rules.DOB_NOT_A_DATE.issue(
                    row=row,
                    column=day_at.column,
                    header=day_at.header,
                    value=cell_text(day_value),
                    day=day,
                    month=month,
                    year=year,
                )
            )
            return
        self._cohort(entry, row, born, year_at, cell_text(year_value))

    def birth_date(self, entry: PupilEntry, row: int, value: object, place: Place) -> None:
        """Seed 001's single Date of birth column (dd/mm/yyyy), or a CTF's DOB."""
        if isinstance(value, datetime):
            born: date | None = value.date()
        elif isinstance(value, date):
            born = value
        else:
            text = cell_text(value).strip()
            if not text:
                self.issues.append(rules.DOB_MISSING.issue(row=row, column=place.column, header=place.header))
                return
            ambiguous = _ambiguous_date(text)
            if ambiguous is not None and self.date_order == "unsettled":
                day_first, month_first = ambiguous
                self.issues.append(
                    rules.DOB_AMBIGUOUS.issue(
                        row=row,
                        column=place.column,
                        header=place.header,
                        value=text,
                        one=day_in_words(day_first),
                        other=day_in_words(month_first),
                        iso=day_first.isoformat(),
                    )
                )
                return
            born = _parse_us_date(text) if self.date_order == "mdy" else _parse_uk_date(text)
            if born is None:
                self.issues.append(
                    rules.DOB_FORMAT.issue(row=row, column=place.column, header=place.header, value=text)
                )
                return
        assert born is not None
        if born.year not in self.birth_years:
            self._year_issue(row, place, cell_text(value))
            return
        self._cohort(entry, row, born, place, cell_text(value))

    def _year_issue(self, row: int, place: Place, text: str) -> None:
        years = self.birth_years
        expected = " or ".join(str(y) for y in years) if len(years) <= 2 else f"{years[0]} to {years[-1]}"
        self.issues.append(
            rules.DOB_YEAR.issue(
                row=row,
                column=place.column,
                header=place.header,
                value=text,
                expected=expected,
                cohort=self._cohort_name(),
            )
        )

    def _cohort_name(self) -> str:
        years = " or ".join("Reception" if y == 0 else f"Year {y}" for y in self.kind.nc_years)
        return f"{years} in {self.year_name}"

    def _cohort(self, entry: PupilEntry, row: int, born: date, place: Place, text: str) -> None:
        entry.date_of_birth = born
        spans = [self.kind.birth_span(self.layout.year, y) for y in self.kind.nc_years]
        if not any(first <= born <= last for first, last in spans):
            first, last = min(s[0] for s in spans), max(s[1] for s in spans)
            self.issues.append(
                rules.DOB_OUT_OF_COHORT.issue(
                    row=row,
                    column=place.column,
                    header=place.header,
                    value=text,
                    born=born.strftime("%d/%m/%Y"),
                    cohort=self._cohort_name(),
                    first=first.strftime("%d/%m/%Y"),
                    last=last.strftime("%d/%m/%Y"),
                )
            )


_SLASHED_DATE = re.compile(r"(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})")


def _ambiguous_date(text: str) -> tuple[date, date] | None:
    """A date that reads as two different days, day first and month first (05/10/2019), or None."""
    match = _SLASHED_DATE.fullmatch(text)
    if not match or match[1] == match[2] or int(match[1]) > 12 or int(match[2]) > 12:
        return None
    try:
        return date(int(match[3]), int(match[2]), int(match[1])), date(
            int(match[3]), int(match[1]), int(match[2])
        )
    except ValueError:
        return None


def date_order(texts: Iterable[str]) -> str:
    """Which order a file's slashed dates use: "dmy" if any has a day above 12 first (or none is
    slashed), "mdy" if any has one second and none first, else "unsettled"."""
    day_first = month_first = slashed = False
    for text in texts:
        match = _SLASHED_DATE.fullmatch(text.strip())
        if not match:
            continue
        slashed = True
        day_first = day_first or int(match[1]) > 12
        month_first = month_first or int(match[2]) > 12
    if not slashed or day_first:
        return "dmy"
    return "mdy" if month_first else "unsettled"


def _parse_us_date(text: str) -> date | None:
    match = _SLASHED_DATE.fullmatch(text)
    if match:
        try:
            return date(int(match[3]), int(match[1]), int(match[2]))
        except ValueError:
            return None
    return _parse_uk_date(text)


def _parse_uk_date(text: str) -> date | None:
    match = re.fullmatch(r"(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})", text)
    if match:
        try:
            return date(int(match[3]), int(match[2]), int(match[1]))
        except ValueError:
            return None
    try:  # an ISO date, as a CSV from a database might have it
        return date.fromisoformat(text)
    except ValueError:
        return None
