"""Each report as an Excel workbook: the same figures as the page, with the filters applied and the
source of the national figures stated on the cover sheet."""

from __future__ import annotations

import re
from typing import Any

from keystage.core.measures.ks4.ks1_value_added import NAME as KS1_NAME
from keystage.core.measures.ks4.prior_attainment import without_progress8
from keystage.core.reports.catalogue import KEY_STAGE_LABELS, MeasureInfo, value_label
from keystage.core.reports.workbook import Table, report_workbook
from keystage.core.results.kinds import academic_year_name
from keystage.organisations.models import Organisation, School
from keystage.reports.dashboard import Dashboard
from keystage.reports.explore import Breakdown
from keystage.reports.figures import Source
from keystage.reports.inspection_summary import InspectionSummary
from keystage.reports.scatter import Scatter
from keystage.reports.side_by_side import BESIDE, SchoolRow, beside
from keystage.reports.subjects import Subjects


def file_name(organisation: Organisation, key_stage: str, year: int, what: str) -> str:
    name = re.sub(r"[^A-Za-z0-9]+", "-", organisation.name).strip("-").lower()
    return f"{name}-{key_stage}-{year}-{what}"


def _about(
    organisation: Organisation, key_stage: str, year: int, source: Source, *lines: tuple[str, str]
) -> list[tuple[str, str]]:
    """The cover sheet: what the report is, ``lines`` (e.g. the filters applied), where the national
    figures come from, and what SUPP means."""
    return [
        ("Organisation", organisation.name),
        ("Key stage", KEY_STAGE_LABELS[key_stage]),
        ("Academic year", academic_year_name(year)),
        *_no_progress8(key_stage, year),
        *lines,
        ("National figures", source.words),
        ("Small groups", "SUPP: figures of fewer than 6 pupils are suppressed."),
    ]


def _no_progress8(key_stage: str, year: int) -> list[tuple[str, str]]:
    """The cover sheet's line of a KS4 year without Progress 8."""
    gap = without_progress8(year) if key_stage == "ks4" else None
    if gap is None:
        return []
    return [("Progress 8", f"{gap.message}: none is shown. In its place: {KS1_NAME}.")]


def dashboard_workbook(report: Dashboard) -> bytes:
    headlines = Table(
        "Headline measures",
        [
            "Measure",
            "Figure",
            "National",
            "Pupils",
            "Confidence interval",
            "Banding",
            "Percentile",
            "Quintile",
            "Note",
        ],
        [
            [
                h.info.label,
                h.text,
                h.national_text,
                h.pupils,
                h.ci_text,
                h.banding,
                h.percentile,
                h.quintile,
                h.note,
            ]
            for h in report.headlines
        ],
    )
    years = report.trend_years
    trends = Table(
        "Trends",
        ["Measure", *[academic_year_name(y) for y in years]],
        [[h.info.label, *[dict(h.trend).get(y, "") for y in years]] for h in report.headlines],
    )
    about = _about(
        report.organisation,
        report.key_stage,
        report.year,
        report.source,
        ("Filters applied", "None: all pupils."),
    )
    title = f"{report.organisation.name}: {report.label} {report.year_name} summary"
    tables = [headlines, trends]
    if report.not_counted:
        tables.append(
            Table(
                "Results not counted",
                ["Not counted in performance measures", "Results", "Pupils"],
                [[n.reason, n.results, n.pupils] for n in report.not_counted],
            )
        )
    return report_workbook(title, about, tables)


def explore_workbook(organisation: Organisation, key_stage: str, year: int, report: Breakdown) -> bytes:
    table = Table(
        f"{report.measure.label} by pupil group",
        [
            "Group",
            "Cohort",
            "Pupils counted",
            "School" if isinstance(organisation, School) else "Figure",
            "National",
            "Compared with",
        ],
        [
            [
                value_label(r.group, r.value),
                r.cohort,
                r.pupils,
                r.figure,
                r.national or "N/A",
                r.comparator or "same group",
            ]
            for r in report.rows
        ],
    )
    about = _about(
        organisation,
        key_stage,
        year,
        report.source,
        ("Filters applied", report.filters.describe()),
        ("Comparator", report.national_note),
    )
    return report_workbook(f"{organisation.name}: {report.measure.label}", about, [table])


def schools_workbook(
    organisation: Organisation,
    key_stage: str,
    year: int,
    rows: list[SchoolRow],
    shown: list[MeasureInfo],
    source: Source,
) -> bytes:
    columns = ["School", "DfE number", "Cohort"]
    for info in shown:
        columns += [info.label, *BESIDE.get(info.key, ())]
    body: list[list[Any]] = []
    for row in rows:
        line: list[Any] = [row.school.name, row.school.dfe_number, row.cohort]
        for info in shown:
            figure = row.figures[info.key]
            line += [figure.text, *beside(figure)]
        body.append(line)
    about = _about(organisation, key_stage, year, source, ("Filters applied", "None: all pupils."))
    return report_workbook(
        f"{organisation.name}: schools side by side", about, [Table("Schools", columns, body)]
    )


def pupils_workbook(
    school: Organisation,
    key_stage: str,
    year: int,
    rows: list[dict[str, Any]],
    columns: list[tuple[str, str]],
    search: str,
) -> bytes:
    def shown(value: Any) -> Any:
        if isinstance(value, bool):
            return "Yes" if value else "No"
        return round(value, 2) if isinstance(value, float) else value

    table = Table(
        "Pupils",
        ["Name", "UPN", *[label for _, label in columns]],
        [[r["name"], r["upn"], *[shown(r.get(key)) for key, _ in columns]] for r in rows],
    )
    about = [
        ("Organisation", school.name),
        ("Key stage", KEY_STAGE_LABELS[key_stage]),
        ("Academic year", academic_year_name(year)),
        *_no_progress8(key_stage, year),
        ("Filters applied", f"Search: {search}" if search else "None: every pupil."),
        (
            "Personal data",
            "Pupil-level data about children: keep it within the school's data protection rules.",
        ),
    ]
    return report_workbook(f"{school.name}: pupil list", about, [table])


def scatter_workbook(
    organisation: Organisation,
    key_stage: str,
    year: int,
    plot: Scatter,
    highlighted: str,
    rows: list[dict[str, Any]],
    named: bool,
) -> bytes:
    """The scatter plot's figures, one row per pupil; names and UPNs only for a named role."""
    columns = [*(["Name", "UPN"] if named else []), plot.x_label, plot.y.label, highlighted]
    body = [
        [
            *([r["name"], r["upn"]] if named else []),
            round(r["x"], 2),
            r["y"],
            "Yes" if r["highlighted"] else "No",
        ]
        for r in rows
    ]
    about = [
        ("Organisation", organisation.name),
        ("Key stage", KEY_STAGE_LABELS[key_stage]),
        ("Academic year", academic_year_name(year)),
        *_no_progress8(key_stage, year),
        ("Plotted", f"{plot.y.label} against {plot.x_label}"),
        ("Highlighted", highlighted),
    ]
    if named:
        about.append(
            ("Personal data", "Pupil-level data about children: keep it within the data protection rules.")
        )
    return report_workbook(f"{organisation.name}: scatter plot", about, [Table("Pupils", columns, body)])


def subjects_workbook(organisation: Organisation, year: int, report: Subjects) -> bytes:
    """Every subject's figures beside national, and the chosen subject's grades."""
    group = "All pupils" if report.group == "all" else value_label(report.group, report.value)
    tables = [
        Table(
            "Subjects",
            [
                "Subject",
                "Entries",
                "Cohort entered",
                "National entered",
                "Average points",
                "National average points",
                "Subject value added",
                "Confidence interval",
                "Compared with national",
            ],
            [
                [
                    *(r.name, r.entries, r.entered, r.national_entered),
                    *(r.points, r.national_points, r.va, r.va_ci, r.significance),
                ]
                for r in report.rows
            ],
        )
    ]
    if report.chosen is not None:
        tables.append(
            Table(
                f"{report.chosen.name} grades",
                ["Grade", "Entries", "Share of entries", "National share"],
                [[g.grade, g.entries, _percent(g.share), _percent(g.national_share)] for g in report.grades],
            )
        )
    about = _about(organisation, "ks4", year, report.source, ("Pupils", group))
    return report_workbook(f"{organisation.name}: KS4 subjects", about, tables)


def _percent(share: float | None) -> str:
    return "" if share is None else f"{round(share * 100)}%"


def inspection_workbook(report: InspectionSummary) -> bytes:
    """The headline measures year by year with their quintiles, and every statement with its rule."""
    years = report.years
    headlines = Table(
        "Headline measures",
        [
            "Measure",
            *[f"{academic_year_name(y)}" for y in years],
            f"National {academic_year_name(report.year)}",
            "Quintile",
        ],
        [
            [
                e.info.label,
                *e.row(years),
                e.national_shown,
                f"Q{e.latest.quintile}" if e.latest.quintile else "",
            ]
            for e in report.headlines
        ],
    )
    statements = Table(
        "Statements",
        ["Kind", "Statement", "Rule"],
        [
            ["Strength" if s.kind == "strength" else "Area to investigate", s.text, s.rule]
            for s in [*report.strengths, *report.to_investigate]
        ],
    )
    about = _about(
        report.school,
        report.key_stage,
        report.year,
        report.source,
        ("How the statements are made", "Fixed rules from significance, place among schools and trend."),
    )
    return report_workbook(f"{report.school.name}: inspection summary", about, [headlines, statements])
