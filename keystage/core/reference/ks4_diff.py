"""What loading new KS4 reference data would change, before anything changes.

``diff_catalogues(loaded, new)`` compares the KS4 qualification catalogue loaded now with one read
from a newer year's files: qualifications added and removed, points changed per qualification and
grade, each year's discount codes and EBacc pillars added, removed and changed, discount code
descriptions, other details; with the rows of the new files that could not be read (file, sheet,
row). ``diff_estimates(loaded, new)`` does the same for a release of Progress 8 estimates. Both give
plain data that survives a round trip through JSON (``to_json`` / ``from_json``), so a preview can
be stored and shown again exactly as it was worked out; ``lines()`` is the same diff as text.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

from keystage.core.measures.ks4.estimates import MEASURES, SD_KEYS, Estimates
from keystage.core.reference.ks4_catalogue import Catalogue, Qualification
from keystage.core.results import rules
from keystage.core.results.rules import Issue

_MEASURE_NAMES = {
    "a8": "Attainment 8",
    "english": "English",
    "maths": "maths",
    "ebacc": "EBacc",
    "open": "open",
    "p8": "Progress 8",
}


@dataclass(frozen=True)
class Change:
    """One thing that differs: ``old`` None is an addition, ``new`` None a removal."""

    key: str  # what changed: "60146060", "60146060 grade 4", "50026161 syllabus H039", "RB1"
    title: str  # what it is called (a qualification's title), for people reading the list
    old: str | None
    new: str | None

    @property
    def verb(self) -> str:
        return "added" if self.old is None else "removed" if self.new is None else "changed"

    def __str__(self) -> str:
        named = f"{self.key} {self.title}".strip()
        if self.old is None:
            return f"+ {named}: {self.new}" if self.new else f"+ {named}"
        if self.new is None:
            return f"- {named}: {self.old}" if self.old else f"- {named}"
        return f"~ {named}: {self.old} -> {self.new}"


@dataclass(frozen=True)
class YearChanges:
    year: int
    status: str  # "new" (only in the new files), "removed" (only in the loaded catalogue), "both"
    discount_codes: list[Change] = field(default_factory=list)
    ebacc_pillars: list[Change] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return self.status != "both" or bool(self.discount_codes or self.ebacc_pillars)


@dataclass
class CatalogueDiff:
    added: list[Change] = field(default_factory=list)  # qualifications only in the new files
    removed: list[Change] = field(default_factory=list)  # qualifications only in the loaded catalogue
    points: list[Change] = field(default_factory=list)  # per qualification and grade
    details: list[Change] = field(default_factory=list)  # title, type, category, sizes
    years: list[YearChanges] = field(default_factory=list)
    descriptions: list[Change] = field(default_factory=list)  # discount code descriptions
    problems: list[Issue] = field(default_factory=list)  # rows of the new files not read
    qualifications: int = 0  # in the new files

    @property
    def changes_anything(self) -> bool:
        return bool(
            self.added
            or self.removed
            or self.points
            or self.details
            or self.descriptions
            or any(y.changed for y in self.years)
        )

    def summary(self) -> list[str]:
        new_years = [y.year for y in self.years if y.status == "new"]
        gone_years = [y.year for y in self.years if y.status == "removed"]
        lines = [
            f"{self.qualifications:,} qualifications in the new files: {len(self.added):,} added, "
            f"{len(self.removed):,} removed",
            f"{len(self.points):,} points changed (per qualification and grade)",
        ]
        if new_years:
            lines.append(f"years added: {', '.join(map(str, new_years))}")
        if gone_years:
            lines.append(f"years removed: {', '.join(map(str, gone_years))}")
        for year in self.years:
            if year.discount_codes or year.ebacc_pillars:
                lines.append(
                    f"{year.year}: {_counts(year.discount_codes)} discount codes; "
                    f"{_counts(year.ebacc_pillars)} EBacc pillars"
                )
        if self.descriptions:
            lines.append(f"{_counts(self.descriptions)} discount code descriptions")
        if self.details:
            lines.append(f"{len(self.details):,} other details changed (titles, types, sizes)")
        lines.append(f"{len(self.problems):,} rows of the new files could not be read")
        return lines

    def lines(self) -> Iterator[str]:
        """Every change and problem, one a line: the summary first, then each list."""
        yield from self.summary()
        sections: list[tuple[str, list[Change]]] = [
            ("Qualifications added", self.added),
            ("Qualifications removed", self.removed),
            ("Points changed", self.points),
            ("Other details changed", self.details),
            ("Discount code descriptions", self.descriptions),
        ]
        for year in self.years:
            sections.append((f"{year.year} discount codes", year.discount_codes))
            sections.append((f"{year.year} EBacc pillars", year.ebacc_pillars))
        for heading, changes in sections:
            if changes:
                yield ""
                yield f"{heading} ({len(changes):,}):"
                yield from (f"  {change}" for change in changes)
        if self.problems:
            yield ""
            yield f"Rows that could not be read ({len(self.problems):,}):"
            yield from (f"  {problem}" for problem in self.problems)

    def to_json(self) -> dict[str, Any]:
        return asdict(self) | {"problems": [problem.as_dict() for problem in self.problems]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CatalogueDiff:
        return cls(
            added=_changes(data["added"]),
            removed=_changes(data["removed"]),
            points=_changes(data["points"]),
            details=_changes(data["details"]),
            years=[
                YearChanges(
                    year=y["year"],
                    status=y["status"],
                    discount_codes=_changes(y["discount_codes"]),
                    ebacc_pillars=_changes(y["ebacc_pillars"]),
                )
                for y in data["years"]
            ],
            descriptions=_changes(data["descriptions"]),
            problems=[rules.from_dict(p, rules.Place.FILE) for p in data["problems"]],
            qualifications=data["qualifications"],
        )


def _changes(rows: list[dict[str, Any]]) -> list[Change]:
    return [Change(**row) for row in rows]


def _counts(changes: list[Change]) -> str:
    verbs = [c.verb for c in changes]
    return ", ".join(f"{verbs.count(v):,} {v}" for v in ("added", "removed", "changed"))


def _points(value: float | None) -> str | None:
    return None if value is None else f"{value:g}"


def _compare(key: str, title: str, old: str | None, new: str | None) -> Change | None:
    return None if old == new else Change(key, title, old, new)


def _details(old: Qualification, new: Qualification) -> Iterator[Change]:
    fields = {
        "title": (old.title, new.title),
        "type": (old.qualification_type, new.qualification_type),
        "category": (old.category, new.category),
        "GCSE size": (_points(old.gcse_size), _points(new.gcse_size)),
        "guided learning hours": (_points(old.guided_learning_hours), _points(new.guided_learning_hours)),
        "EBacc science indicator": (old.science_indicator, new.science_indicator),
    }
    for name, (before, after) in fields.items():
        if (before or None) != (after or None):
            yield Change(f"{new.qan} {name}", new.title, before or "(none)", after or "(none)")


def _codes_of_year(catalogue: Catalogue, year: int) -> dict[str, tuple[str, str]]:
    """Every discount code of the year by what carries it: the qualification ("60146060") or one of
    its syllabuses ("50026161 syllabus H039"), with the qualification's title."""
    codes = {}
    for q in catalogue.qualifications.values():
        if year in q.discount_codes:
            codes[q.qan] = (q.title, q.discount_codes[year])
        for ref, (_title, code) in q.syllabuses.get(year, {}).items():
            codes[f"{q.qan} syllabus {ref}"] = (q.title, code)
    return codes


def _years(catalogue: Catalogue) -> set[int]:
    return {y for q in catalogue.qualifications.values() for y in (*q.discount_codes, *q.syllabuses)} | {
        y for q in catalogue.qualifications.values() for y in q.ebacc_pillars
    }


def _keyed_changes(old: dict[str, tuple[str, str]], new: dict[str, tuple[str, str]]) -> list[Change]:
    changes = []
    for key in sorted(old.keys() | new.keys()):
        title = (new.get(key) or old[key])[0]
        change = _compare(
            key, title, old[key][1] if key in old else None, new[key][1] if key in new else None
        )
        if change is not None:
            changes.append(change)
    return changes


def diff_catalogues(loaded: Catalogue, new: Catalogue) -> CatalogueDiff:
    """What replacing ``loaded`` by ``new`` would add, remove and change, and what of the new files
    could not be read."""
    diff = CatalogueDiff(problems=list(new.problems), qualifications=len(new.qualifications))
    before, after = loaded.qualifications, new.qualifications
    diff.added = [Change(qan, after[qan].title, None, "") for qan in sorted(after.keys() - before.keys())]
    diff.removed = [Change(qan, before[qan].title, "", None) for qan in sorted(before.keys() - after.keys())]
    for qan in sorted(before.keys() & after.keys()):
        old, current = before[qan], after[qan]
        for grade in sorted(old.grades.keys() | current.grades.keys()):
            old_grade, new_grade = old.grades.get(grade), current.grades.get(grade)
            change = _compare(
                f"{qan} grade {grade}",
                current.title,
                _points(old_grade.points) if old_grade else None,
                _points(new_grade.points) if new_grade else None,
            )
            if change is not None:
                diff.points.append(change)
        diff.details.extend(_details(old, current))
    old_years, new_years = _years(loaded), _years(new)
    for year in sorted(old_years | new_years):
        status = (
            "both" if year in old_years and year in new_years else "new" if year in new_years else "removed"
        )
        pillars_before = {
            q.qan: (q.title, q.ebacc_pillars[year]) for q in before.values() if year in q.ebacc_pillars
        }
        pillars_after = {
            q.qan: (q.title, q.ebacc_pillars[year]) for q in after.values() if year in q.ebacc_pillars
        }
        diff.years.append(
            YearChanges(
                year=year,
                status=status,
                discount_codes=_keyed_changes(_codes_of_year(loaded, year), _codes_of_year(new, year)),
                ebacc_pillars=_keyed_changes(pillars_before, pillars_after),
            )
        )
    diff.descriptions = _keyed_changes(
        {code: ("", text) for code, text in loaded.discount_descriptions.items()},
        {code: ("", text) for code, text in new.discount_descriptions.items()},
    )
    return diff


# Progress 8 estimates ----------------------------------------------------------------------------


@dataclass
class EstimatesDiff:
    release: str  # "2025prov"
    label: str  # "DfE 2025 provisional estimates"
    replaces: str  # where the release loaded now comes from; "" when it is new
    groups: int  # prior attainment groups in the new files
    changes: list[Change] = field(default_factory=list)  # per group and measure, ranges and SDs
    pillars: bool = False  # the EBacc pillar estimates come with it

    @property
    def is_new(self) -> bool:
        return not self.replaces

    def summary(self) -> list[str]:
        if self.is_new:
            head = f"{self.label} ({self.release}): a new release, {self.groups} prior attainment groups"
        else:
            head = (
                f"{self.label} ({self.release}): replaces the release loaded now ({self.replaces}); "
                f"{len(self.changes):,} figures differ"
            )
        return [head, "with EBacc pillar estimates" if self.pillars else "without EBacc pillar estimates"]

    def lines(self) -> Iterator[str]:
        yield from self.summary()
        if self.changes:
            yield ""
            yield f"Figures that differ ({len(self.changes):,}):"
            yield from (f"  {change}" for change in self.changes)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> EstimatesDiff:
        return cls(**{**data, "changes": _changes(data["changes"])})


def _figure(value: object) -> str | None:
    if value is None:
        return None
    number = float(str(value))
    return f"{number:g}" if math.isfinite(number) else None


def diff_estimates(loaded: Estimates | None, new: Estimates, *, release: str, replaces: str) -> EstimatesDiff:
    """What loading ``new`` as ``release`` would change: nothing to compare when the release is new
    (``loaded`` None), else every group's figure, range and national SD that differs."""
    diff = EstimatesDiff(
        release=release,
        label=new.label,
        replaces=replaces if loaded is not None else "",
        groups=new.by_pag.height,
    )
    if loaded is None:
        return diff
    rows_before = {
        row["pag"]: row for row in loaded.by_pag.join(loaded.ranges, on="pag").iter_rows(named=True)
    }
    rows_after = {row["pag"]: row for row in new.by_pag.join(new.ranges, on="pag").iter_rows(named=True)}
    for pag in sorted(rows_before.keys() | rows_after.keys()):
        old, current = rows_before.get(pag), rows_after.get(pag)
        if old is None or current is None:
            diff.changes.append(
                Change(
                    f"group {pag}",
                    "",
                    None if old is None else "present",
                    None if current is None else "present",
                )
            )
            continue
        change = _compare(
            f"group {pag}",
            "KS2 range",
            f"{old['low']:g} to {old['high']:g}",
            f"{current['low']:g} to {current['high']:g}",
        )
        if change is not None:
            diff.changes.append(change)
        for measure in MEASURES:
            change = _compare(
                f"group {pag}", _MEASURE_NAMES[measure], _figure(old[measure]), _figure(current[measure])
            )
            if change is not None:
                diff.changes.append(change)
    for key in SD_KEYS:
        change = _compare(
            "national SD", _MEASURE_NAMES[key], _figure(loaded.sd.get(key)), _figure(new.sd.get(key))
        )
        if change is not None:
            diff.changes.append(change)
    return diff
