"""A school's estimates as an Excel workbook: what estimates are, then the year groups' expected outcomes
and, for named roles, every pupil's estimate of every outcome at the chosen ambition level."""

from __future__ import annotations

import re

from keystage.core.estimates import report
from keystage.core.estimates.ambition import LEVELS
from keystage.core.measures.group_figures import SUPPRESS_BELOW
from keystage.core.reports.workbook import Table, report_workbook
from keystage.core.results.kinds import academic_year_name
from keystage.estimates.services import EstimatesPage
from keystage.organisations.models import School

WHAT_IT_IS = (
    "An estimate is the spread of outcomes that pupils with the same prior attainment, sex and month of "
    "birth reached nationally, at a school making the chosen progress. It is not a target and not a "
    "prediction of one pupil: a pupil is one draw from that spread."
)


def file_name(school: School, target: str = "KS4") -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", f"{school.dfe_number} {target} estimates").strip("-").lower()


def _number(value: float | None, places: int = 1) -> float | None:
    return None if value is None else round(value, places)


def _who(page: EstimatesPage) -> str:
    stage = page.found.stage
    if page.found.academic_year is None:
        return "None: the school has no pupils on record for these estimates."
    year = academic_year_name(page.found.academic_year)
    if stage.target == "KS5":
        return (
            f"Pupils who finished Year 11 in {year} (from the school's KS4 figures), as they start Year 12."
        )
    return f"On roll in {year}, Years {stage.year_groups[0]} to {stage.year_groups[-1]}."


def estimates_workbook(school: School, page: EstimatesPage, *, named: bool) -> bytes:
    fit = page.found.fit
    level = LEVELS[page.level]
    about = [
        ("School", f"{school.name} (DfE {school.dfe_number})"),
        ("What this is", WHAT_IT_IS),
        ("Ambition level", level),
        ("Model", f"{fit} ({'with' if fit.contextual else 'without'} disadvantage)"),
        ("Pupils", _who(page)),
        (
            "Small groups",
            f"SUPP: a year group of fewer than {SUPPRESS_BELOW} pupils, not shown." if not named else "",
        ),
    ]
    tables = []
    for outcome in page.found.outcomes:
        scored = page.found.estimates.get(outcome.key)
        if scored is None or scored.height == 0:
            continue
        marks = report.marks(outcome)
        rows = []
        for row in report.cohort_rows(page.found.pupils, outcome, scored, page.level):
            hidden = row.suppressed_for(sees_pupils=named)
            line: list[object] = [
                "All year groups" if row.nc_year is None else f"Year {row.nc_year}",
                row.pupils,
                row.with_prior,
                "SUPP" if hidden else _number(row.expected, 2),
            ]
            line += ["SUPP" if hidden else _number(count) for count in row.reaching]
            rows.append(line)
        columns = ["Year group", "Pupils on roll", "With prior attainment", f"Expected {outcome.name} (mean)"]
        columns += [f"Expected number reaching {label}" for label, _ in marks]
        tables.append(Table(f"{outcome.name} by year group", columns, rows))
        if len(tables) >= 30:
            break
    if named:
        estimates = page.found.estimates
        per_pupil = {
            o.key: {
                r["upn"]: r for r in report.pupil_rows(page.found.pupils, o, estimates[o.key], page.level)
            }
            for o in page.found.outcomes
            if o.key in estimates
        }
        columns = ["UPN", "Surname", "Forename", "Year", page.found.prior_name]
        columns += [f"{o.name} (expected)" for o in page.found.outcomes if o.key in per_pupil]
        rows = []
        for pupil in page.found.pupils.iter_rows(named=True):
            line = [
                pupil["upn"],
                pupil["surname"],
                pupil["forename"],
                pupil["nc_year"],
                _number(pupil["prior"]),
            ]
            line += [
                _number(per_pupil[o.key][pupil["upn"]]["expected"], 2)
                for o in page.found.outcomes
                if o.key in per_pupil
            ]
            rows.append(line)
        tables.insert(0, Table(f"Pupils, {level}", columns, rows))
    return report_workbook(f"{school.name}: {page.found.stage.title}", about, tables)
