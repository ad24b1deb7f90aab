"""KS4 subjects: entries, the share of the cohort entered, average points and subject value added beside
national, for all pupils or one pupil group; and one subject's grades against the national distribution."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from keystage.core.measures.group_figures import SUPPRESS_BELOW
from keystage.core.reports.catalogue import (
    GROUP_LABELS,
    NO_FIGURE,
    format_figure,
    group_values,
    groups_for,
    significance_shown,
    value_label,
)
from keystage.core.reports.charts import bars_svg
from keystage.core.results.kinds import academic_year_name
from keystage.measures.models import SubjectFigure
from keystage.organisations.models import Organisation, School
from keystage.reports.figures import NoFigures, SignificanceShown, Source, run_for, source_of


@dataclass
class SubjectRow:
    code: str
    name: str
    entries: int
    entered: str  # the share of the cohort entered
    national_entered: str
    points: str  # average points per entry
    national_points: str
    va: str  # subject value added, in points
    va_ci: str
    significance: str
    suppressed: bool

    @property
    def significance_shown(self) -> SignificanceShown:
        return SignificanceShown(self.significance)


@dataclass
class SubjectGrade:
    grade: str
    entries: int
    share: float  # of the organisation's entries
    national_share: float | None


@dataclass
class Subjects:
    rows: list[SubjectRow]
    group: str
    value: str
    cohort: int
    source: Source
    chosen: SubjectRow | None = None  # the subject whose grades are shown
    grades: list[SubjectGrade] = field(default_factory=list)

    @property
    def chosen_group(self) -> str:
        """The pupils shown, as the page's choice of pupils names them ("group:value")."""
        return f"{self.group}:{self.value}"

    @property
    def group_name(self) -> str:
        if self.group == "all":
            return "All pupils"
        return f"{GROUP_LABELS[self.group]}: {value_label(self.group, self.value)}"


def pupil_group_choices() -> list[tuple[str, str]]:
    """The pupils a subjects report can be of: all, or one KS4 pupil group ("group:value", its name)."""
    return [("all:all", "All pupils")] + [
        (f"{g}:{v}", f"{GROUP_LABELS[g]}: {value_label(g, v)}")
        for g in groups_for("ks4")
        for v in group_values(g)
    ]


def grades_chart(report: Subjects, organisation: Organisation, year: int) -> str:
    """The chosen subject's grades at the organisation beside national, as SVG ("" with none chosen)."""
    if report.chosen is None:
        return ""
    return bars_svg(
        [g.grade for g in report.grades],
        [
            (organisation.name, [g.share for g in report.grades]),
            ("National", [g.national_share for g in report.grades]),
        ],
        title=f"{report.chosen.name}: grades at {organisation.name} and nationally, "
        f"{academic_year_name(year)}",
        x_label="Grade",
    )


def subjects(
    organisation: Organisation, year: int, *, group: str = "all", value: str = "all", subject: str = ""
) -> Subjects:
    """Every subject the organisation's pupils (of one pupil group) entered at KS4: entries, the share
    of the cohort entered, average points and subject value added, each beside the same group
    nationally; and, for a ``subject`` chosen, its grades against the national distribution."""
    run = run_for("ks4", year)
    if group not in groups_for("ks4") or value not in group_values(group):
        group, value = "all", "all"
    where: dict[str, Organisation] = (
        {"school": organisation} if isinstance(organisation, School) else {"organisation": organisation}
    )
    mine = list(
        SubjectFigure.objects.filter(run=run, group=group, value=value, **where).order_by(
            "-entries", "subject_name"
        )
    )
    if not mine:
        if (group, value) == ("all", "all"):
            raise NoFigures(f"{organisation.name} has no KS4 subject figures for {academic_year_name(year)}.")
        return Subjects([], group, value, 0, source_of(run))
    national = {
        f.subject: f for f in SubjectFigure.objects.national().filter(run=run, group=group, value=value)
    }
    rows = [_subject_row(f, national.get(f.subject)) for f in mine]
    report = Subjects(rows, group, value, mine[0].cohort, source_of(run))
    if subject:
        # A subject's grades are of all its entrants, whichever pupils the table shows.
        everyone = SubjectFigure.objects.filter(run=run, group="all", value="all", subject=subject)
        own = everyone.filter(**where).first()
        nation = everyone.national().first()
        if own is not None and own.entries >= SUPPRESS_BELOW:
            report.chosen = _subject_row(own, nation)
            report.grades = _grades(own.grades, nation.grades if nation else None)
    return report


def _subject_row(mine: SubjectFigure, national: SubjectFigure | None) -> SubjectRow:
    suppressed = mine.entries < SUPPRESS_BELOW
    va_suppressed = suppressed or mine.va_pupils < SUPPRESS_BELOW
    va_shown = not va_suppressed and mine.va is not None
    return SubjectRow(
        mine.subject,
        mine.subject_name,
        mine.entries,
        f"{round(mine.entry_share * 100)}%",
        f"{round(national.entry_share * 100)}%" if national else NO_FIGURE,
        "SUPP" if suppressed else f"{mine.average_points:.2f}",
        f"{national.average_points:.2f}" if national else NO_FIGURE,
        format_figure(mine.va, "progress") if va_shown else "SUPP" if va_suppressed else NO_FIGURE,
        (
            f"{mine.va_ci_low:+.2f} to {mine.va_ci_high:+.2f}"
            if va_shown and mine.va_ci_low is not None and mine.va_ci_high is not None
            else ""
        ),
        # Against the national value added, 0 by construction, as printed: +0.00 is in line.
        significance_shown(mine.significance, mine.va, 0.0, "progress") if va_shown else "",
        suppressed,
    )


def _grades(mine: list[list[Any]] | None, national: list[list[Any]] | None) -> list[SubjectGrade]:
    """Each grade's share of entries, in the order grades are stored (highest points first)."""
    own = {str(g): int(n) for g, n in mine or []}
    nation = {str(g): int(n) for g, n in national or []}
    order = [str(g) for g, _ in mine or []] + [str(g) for g, _ in national or [] if str(g) not in own]
    own_total, nation_total = sum(own.values()), sum(nation.values())
    return [
        SubjectGrade(
            grade,
            own.get(grade, 0),
            own.get(grade, 0) / own_total if own_total else 0.0,
            nation.get(grade, 0) / nation_total if nation_total else None,
        )
        for grade in order
    ]
