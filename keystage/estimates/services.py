"""Estimates for the people reading them: a school's pupils scored with the newest complete fit of a
transition (its year groups for every reader of the school's reports, each pupil for named roles), the
API's document of them, and the pages' reads, each for the person asking: it checks their role
(``accounts.policy``), writes the audit record when pupils are shown or downloaded, and returns what
that person may see. Fitting is in fitting.py."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import polars as pl
from django.core.exceptions import PermissionDenied
from django.http import Http404

from keystage.accounts import policy
from keystage.audit.log import record
from keystage.audit.models import AuditAction
from keystage.core.estimates import report
from keystage.core.estimates.ambition import LEVELS
from keystage.core.estimates.datasets import pupil_frame
from keystage.core.estimates.engine import FittedOutcome, score
from keystage.core.measures import characteristics
from keystage.core.measures.group_figures import SUPPRESS_BELOW
from keystage.core.measures.ks4.pupils import ks2_prior_attainment
from keystage.core.measures.primary import progress
from keystage.core.reports.charts import bars_svg
from keystage.core.roles import Action
from keystage.estimates.fitting import EstimatesServiceError, request_fit
from keystage.estimates.models import EstimatesFit, FitStatus, Transition
from keystage.measures.models import MeasureRun, PupilFigure
from keystage.organisations.models import Organisation, School
from keystage.pupils.models import Pupil
from keystage.reports.pupils import pupil_names

# The year groups whose pupils have KS4 ahead of them and KS2 behind them.
KS4_YEAR_GROUPS = (7, 8, 9, 10, 11)
KS2_YEAR_GROUPS = (3, 4, 5, 6)  # KS1 behind them, KS2 ahead (Year 6: this summer)


def latest_fit(transition: str = Transition.KS2_KS4, *, contextual: bool = False) -> EstimatesFit | None:
    return (
        EstimatesFit.objects.filter(transition=transition, contextual=contextual, status=FitStatus.COMPLETE)
        .order_by("-finished_at", "-pk")
        .first()
    )


def fitted_outcomes(fit: EstimatesFit) -> list[FittedOutcome]:
    return [FittedOutcome.from_dict(data) for data in fit.outcomes]


@dataclass(frozen=True)
class Stage:
    """What a transition estimates, for whom, from what."""

    transition: str
    target: str  # the key stage estimated, e.g. "KS4"
    title: str  # e.g. "KS4 estimates"
    prior_name: str
    year_groups: tuple[int, ...]

    @property
    def from_ks4_figures(self) -> bool:
        """KS5's pupils are last summer's Year 11, read from the school's KS4 figures, not its roll."""
        return self.transition == Transition.KS4_KS5


KS5_YEAR_GROUPS = (12,)  # last summer's Year 11, this year's new Year 12

STAGES = {
    Transition.KS2_KS4.value: Stage(
        Transition.KS2_KS4, "KS4", "KS4 estimates", "KS2 prior attainment", KS4_YEAR_GROUPS
    ),
    Transition.KS1_KS2.value: Stage(
        Transition.KS1_KS2, "KS2", "KS2 estimates (Year 3 estimates)", "KS1 average points", KS2_YEAR_GROUPS
    ),
    Transition.KS4_KS5.value: Stage(
        Transition.KS4_KS5, "KS5", "KS5 benchmark estimates", "KS4 average points", KS5_YEAR_GROUPS
    ),
}


def stages_for(school: School) -> list[Stage]:
    """The estimates a school's pupils have ahead of them, by its phase."""
    if school.phase == "primary":
        return [STAGES[Transition.KS1_KS2]]
    if school.phase in ("all_through", "middle"):
        return [STAGES[Transition.KS2_KS4], STAGES[Transition.KS4_KS5], STAGES[Transition.KS1_KS2]]
    return [STAGES[Transition.KS2_KS4], STAGES[Transition.KS4_KS5]]


@dataclass(frozen=True)
class SchoolEstimates:
    fit: EstimatesFit
    stage: Stage
    academic_year: int | None  # the roll's (KS5: the KS4 figures'); None: no pupils on record
    pupils: pl.DataFrame  # upn, surname, forename, nc_year, prior and the model's columns
    outcomes: list[FittedOutcome]
    estimates: dict[str, pl.DataFrame]  # outcome key -> score() rows of the school's pupils

    @property
    def prior_name(self) -> str:
        return self.stage.prior_name


_ROSTER_FIELDS = (
    "upn", "surname", "forename", "nc_year", "sex", "date_of_birth", "fsm6", "looked_after",
    "adopted_from_care", "sen", "eal", "ks2_reading", "ks2_maths", "ks1_reading", "ks1_writing", "ks1_maths",
)  # fmt: skip


def school_pupils(school: School, stage: Stage | None = None) -> tuple[int | None, pl.DataFrame]:
    """The school's pupils on roll in its newest academic year in the stage's year groups (KS4's by
    default), as the model reads them: prior attainment is KS2's for KS4 estimates, KS1's average point
    score for KS2 estimates."""
    stage = stage or STAGES[Transition.KS2_KS4]
    if stage.from_ks4_figures:
        return ks4_leavers(school)
    newest = (
        Pupil.objects.filter(school=school).order_by("-academic_year").values_list("academic_year", flat=True)
    )
    year = newest.first()
    if year is None:
        return None, pl.DataFrame()
    rows = list(
        Pupil.objects.filter(school=school, academic_year=year, nc_year__in=stage.year_groups, on_roll=True)
        .order_by("surname", "forename", "upn")
        .values(*_ROSTER_FIELDS)
    )
    if not rows:
        return year, pl.DataFrame()
    frame = pl.DataFrame(rows, infer_schema_length=None).with_columns(
        pl.lit(school.dfe_number).alias("school"),
        pl.col("date_of_birth").dt.month().alias("month_of_birth"),
        characteristics.disadvantaged(),
        ks2_prior_attainment().alias("ks2_pa"),
        *(pl.col(f"ks1_{s}").replace("", None).alias(f"ks1_{s}_ta") for s in ("reading", "writing", "maths")),
    )
    if stage.transition == Transition.KS1_KS2:
        frame = frame.with_columns(progress.ks1_aps(progress.load_tables()).alias("_prior"))
    else:
        frame = frame.with_columns(pl.col("ks2_pa").alias("_prior"))
    model_columns = pupil_frame(frame, "_prior").drop("upn")
    return year, pl.concat(
        [frame.select("upn", "surname", "forename", "nc_year"), model_columns], how="horizontal"
    )


def ks4_leavers(school: School) -> tuple[int | None, pl.DataFrame]:
    """The school's pupils of its newest complete KS4 figures (last summer's Year 11, new to Year 12),
    with their KS4 average point score, as the KS5 model reads them; the year is the KS4 year's."""
    run = (
        MeasureRun.objects.filter(key_stage="ks4", status="complete", school__isnull=True)
        .filter(pupil_figures__school=school)
        .order_by("-year", "-computed_at")
        .first()
    )
    if run is None:
        return None, pl.DataFrame()
    rows = list(
        PupilFigure.objects.filter(run=run, school=school).values_list("upn", "ks4_aps", "characteristics")
    )
    upns = [upn for upn, _, _ in rows]
    split: dict[str, tuple[str, str, str]] = {}
    for upn, surname, forename in (
        Pupil.objects.filter(school=school, upn__in=upns)
        .order_by("-academic_year")
        .values_list("upn", "surname", "forename")
    ):
        split.setdefault(upn, (surname, ", ", forename))
    missing = [upn for upn in upns if upn not in split]
    if missing:  # not on any roster of the school: the name its upload gave ("Surname, Forename")
        for upn, name in pupil_names([school.pk], run.year, missing).items():
            split[upn] = name.partition(", ")
    split.update({upn: ("", "", "") for upn in upns if upn not in split})
    frame = pl.DataFrame(
        {
            "upn": [upn for upn, _, _ in rows],
            "surname": [split[upn][0] for upn, _, _ in rows],
            "forename": [split[upn][2] for upn, _, _ in rows],
            "nc_year": [12] * len(rows),
            "school": [school.dfe_number] * len(rows),
            "ks4_aps": [aps for _, aps, _ in rows],
            "sex": [c.get("sex") for _, _, c in rows],
            "month_of_birth": [c.get("month_of_birth") for _, _, c in rows],
            "disadvantaged": [c.get("disadvantaged") for _, _, c in rows],
        },
        schema_overrides={"ks4_aps": pl.Float64, "month_of_birth": pl.Int64, "disadvantaged": pl.Boolean},
    ).sort("surname", "forename", "upn")
    model_columns = pupil_frame(frame, "ks4_aps").drop("upn")
    return run.year, pl.concat(
        [frame.select("upn", "surname", "forename", "nc_year"), model_columns], how="horizontal"
    )


def school_estimates(
    school: School, *, contextual: bool = False, transition: str = Transition.KS2_KS4
) -> SchoolEstimates | None:
    """Each pupil's estimates at every ambition level from the newest complete fit (None: no fit)."""
    stage = STAGES[transition]
    fit = latest_fit(transition, contextual=contextual)
    if fit is None:
        return None
    year, pupils = school_pupils(school, stage)
    outcomes = fitted_outcomes(fit)
    estimates = {outcome.key: score(outcome, pupils) for outcome in outcomes} if pupils.height else {}
    return SchoolEstimates(fit, stage, year, pupils, outcomes, estimates)


@dataclass(frozen=True)
class EstimatesPage:
    """What the school's estimates page shows for one outcome at one ambition level."""

    found: SchoolEstimates
    outcome: FittedOutcome
    level: int
    cohort: list[report.CohortRow]
    rows: list[dict[str, Any]]  # empty unless pupils are shown


SORTS = ("name", "nc_year", "prior", "expected", "chance_1", "chance_2", "chance_3")


def estimates_page(
    school: School,
    *,
    outcome_key: str = "a8",
    level: int = 50,
    contextual: bool = False,
    transition: str = Transition.KS2_KS4,
    with_pupils: bool = False,
    search: str = "",
    sort: str = "name",
    descending: bool = False,
) -> EstimatesPage | None:
    """The school's estimates of one outcome (the first if ``outcome_key`` is unknown) at one level."""
    found = school_estimates(school, contextual=contextual, transition=transition)
    if found is None or not found.outcomes:
        return None
    outcome = next((o for o in found.outcomes if o.key == outcome_key), found.outcomes[0])
    level = level if level in LEVELS else 50
    scored = found.estimates.get(outcome.key, pl.DataFrame())
    cohort = report.cohort_rows(found.pupils, outcome, scored, level) if scored.height else []
    rows: list[dict[str, Any]] = []
    if with_pupils and found.pupils.height:
        rows = report.pupil_rows(found.pupils, outcome, scored, level)
        words = search.strip().lower()
        if words:
            rows = [
                r
                for r in rows
                if words in f"{r['forename']} {r['surname']}".lower() or words in r["upn"].lower()
            ]
        by = sort if sort in SORTS else "name"
        if by == "name":
            rows.sort(key=lambda r: (r["surname"].lower(), r["forename"].lower()), reverse=descending)
        else:
            present = [r for r in rows if r.get(by) is not None]
            absent = [r for r in rows if r.get(by) is None]
            present.sort(key=lambda r: (r[by], r["surname"].lower()), reverse=descending)
            rows = present + absent
    return EstimatesPage(found, outcome, level, cohort, rows)


def pupil_estimates(
    school: School,
    upn: str,
    *,
    level: int = 50,
    contextual: bool = False,
    transition: str = Transition.KS2_KS4,
) -> tuple[SchoolEstimates, dict[str, Any], list[report.PupilOutcome]] | None:
    """One pupil's estimates of every outcome (None: no fit, or no such pupil on the school's roll)."""
    found = school_estimates(school, contextual=contextual, transition=transition)
    if found is None or found.pupils.height == 0:
        return None
    pupil = found.pupils.filter(pl.col("upn") == upn)
    if pupil.height == 0:
        return None
    level = level if level in LEVELS else 50
    return (
        found,
        pupil.row(0, named=True),
        report.pupil_outcomes(pupil, found.outcomes, found.estimates, level),
    )


def _year_group(outcome: FittedOutcome, row: report.CohortRow, *, hidden: bool) -> dict[str, Any]:
    """A year group's expected outcome for the API, withheld as ``CohortRow.suppressed_for`` says."""
    suppressed = row.suppressed_for(sees_pupils=not hidden)
    return {
        "nc_year": row.nc_year,
        "pupils": row.pupils,
        "with_prior_attainment": row.with_prior,
        "suppressed": suppressed,
        "expected": None if suppressed else row.expected,
        "reaching": [
            {"mark": label, "expected_pupils": None if suppressed else count}
            for (label, _), count in zip(outcome.model.outcome.marks, row.reaching, strict=True)
        ],
        "distribution": [] if suppressed else list(row.distribution),
    }


def estimates_document(found: SchoolEstimates, *, level: int, named: bool) -> dict[str, Any]:
    """The school's estimates as the API gives them: the fit, each outcome's categories, each year
    group's expected outcome and, for named roles, each pupil's distribution at ``level``."""
    fit = found.fit
    outcomes = []
    for outcome in found.outcomes:
        scored = found.estimates.get(outcome.key, pl.DataFrame())
        cohort = report.cohort_rows(found.pupils, outcome, scored, level) if scored.height else []
        outcomes.append(
            {
                "key": outcome.key,
                "name": outcome.name,
                "categories": list(outcome.model.outcome.labels),
                "values": list(outcome.model.outcome.values),
                "year_groups": [_year_group(outcome, row, hidden=not named) for row in cohort],
            }
        )
    document: dict[str, Any] = {
        "fit": {
            "id": fit.pk,
            "transition": fit.transition,
            "years": list(fit.years),
            "contextual": fit.contextual,
            "fitted_at": fit.finished_at.isoformat() if fit.finished_at else None,
            "pupils": fit.pupils,
        },
        "level": level,
        "level_label": LEVELS[level],
        "academic_year": found.academic_year,
        "outcomes": outcomes,
    }
    if named:
        at_level = {
            key: {
                row["upn"]: (row["expected"], row["probabilities"])
                for row in scored.filter(pl.col("level") == level).iter_rows(named=True)
            }
            for key, scored in found.estimates.items()
        }
        document["pupils"] = [
            {
                "upn": pupil["upn"],
                "nc_year": pupil["nc_year"],
                "prior_attainment": pupil["prior"],
                "estimates": {
                    key: {"expected": values[pupil["upn"]][0], "probabilities": list(values[pupil["upn"]][1])}
                    for key, values in at_level.items()
                    if pupil["upn"] in values
                },
            }
            for pupil in found.pupils.iter_rows(named=True)
        ]
    return document


# The pages' reads, for the person asking -----------------------------------------------------------


def chart_labels(labels: tuple[str, ...], *, kind: str) -> list[str]:
    """Bands named by where they start on the chart ("45" for "45 to under 50", "<85" for "under 85");
    the table beside it names them in full."""
    if kind != "band":
        return list(labels)
    return [
        ("<" + label.split(" ")[1])
        if label.startswith("under ")
        else label.split(" ")[0] + ("+" if label.endswith("or more") else "")
        for label in labels
    ]


def _axis(kind: str) -> str:
    return "Band (from)" if kind == "band" else "Grade"


@dataclass(frozen=True)
class Choices:
    """What the reader chose on a school's or pupil's estimates page."""

    level: int  # an ambition level of LEVELS
    contextual: bool
    stage: Stage
    stages: list[Stage]  # every stage the school's pupils have ahead of them

    @property
    def level_label(self) -> str:
        return LEVELS[self.level]


def _school_read(
    user: Any, organisation: Organisation, *, level: int, contextual: bool, stage: str
) -> tuple[School, Choices]:
    """The school asked about, refused unless the person reads its reports; and their choices (an
    unknown level or stage read as the first)."""
    if not isinstance(organisation, School):
        raise Http404("Estimates are per school.")
    policy.require(user, Action.VIEW_REPORTS, organisation)
    stages = stages_for(organisation)
    chosen = next((st for st in stages if st.target.lower() == stage.lower()), stages[0])
    return organisation, Choices(level if level in LEVELS else 50, contextual, chosen, stages)


@dataclass(frozen=True)
class SchoolPage:
    """A school's estimates page (or workbook) as one person sees it: year groups for every reader,
    each pupil's estimates for named roles."""

    school: School
    named: bool
    choices: Choices
    has_contextual: bool  # a contextual fit exists to switch to
    page: EstimatesPage | None  # None: no fit yet
    cohort: list[tuple[report.CohortRow, bool]]  # each year group, and whether it is withheld
    chart: str  # the whole cohort's expected spread; "" when withheld or without prior attainment
    distribution: list[tuple[str, float]]


def school_page(
    user: Any,
    organisation: Organisation,
    *,
    level: int,
    contextual: bool,
    stage: str,
    outcome_key: str,
    search: str = "",
    sort: str = "name",
    descending: bool = False,
    download: bool = False,
    ip: str | None = None,
) -> SchoolPage:
    """The school's estimates of one outcome at one level, or (``download``) every outcome's workbook.
    A named reader's look at its pupils, and any download of them, is audited."""
    school, chosen = _school_read(user, organisation, level=level, contextual=contextual, stage=stage)
    named = policy.sees_pupils(user, school)
    page = estimates_page(
        school,
        outcome_key=outcome_key,
        level=chosen.level,
        contextual=contextual,
        transition=chosen.stage.transition,
        with_pupils=named,
        search=search,
        sort=sort,
        descending=descending,
    )
    has_contextual = latest_fit(chosen.stage.transition, contextual=True) is not None
    if page is None:
        return SchoolPage(school, named, chosen, has_contextual, None, [], "", [])
    # The workbook holds every pupil whatever the search, so any download by a named reader is audited.
    if named and (page.rows or (download and page.found.pupils.height)):
        record(
            AuditAction.REPORT_DOWNLOADED if download else AuditAction.PUPILS_VIEWED,
            actor=user,
            organisation=school,
            subject=page.found.stage.title + (" (xlsx)" if download else f": {page.outcome.name}"),
            ip_address=ip,
        )
    outcome = page.outcome
    everyone = page.cohort[-1] if page.cohort else None
    kind = outcome.model.outcome.kind
    chart = ""
    if everyone and everyone.with_prior and not everyone.suppressed_for(sees_pupils=named):
        chart = bars_svg(
            chart_labels(outcome.model.outcome.labels, kind=kind),
            [("Expected share of pupils", list(everyone.distribution))],
            title=f"{outcome.name}: the expected spread of outcomes of the school's pupils",
            x_label=_axis(kind),
            y_label="Expected share of pupils",
        )
    return SchoolPage(
        school,
        named,
        chosen,
        has_contextual,
        page,
        [(row, row.suppressed_for(sees_pupils=named)) for row in page.cohort],
        chart,
        list(zip(outcome.model.outcome.labels, everyone.distribution, strict=True)) if everyone else [],
    )


@dataclass(frozen=True)
class PupilPage:
    school: School
    choices: Choices
    found: SchoolEstimates
    pupil: dict[str, Any]
    cards: list[dict[str, Any]]  # each outcome's expected values, chances and distribution


def pupil_page(
    user: Any,
    organisation: Organisation,
    upn: str,
    *,
    level: int,
    contextual: bool,
    stage: str,
    ip: str | None = None,
) -> PupilPage:
    """One pupil's estimates of every outcome, for named roles; each look is audited."""
    school, chosen = _school_read(user, organisation, level=level, contextual=contextual, stage=stage)
    if not policy.sees_pupils(user, school):
        raise PermissionDenied("A pupil's estimates need a named role.")
    found = pupil_estimates(
        school, upn, level=chosen.level, contextual=contextual, transition=chosen.stage.transition
    )
    if found is None:
        raise Http404("No such pupil on this school's roll, or no estimates yet.")
    estimates, pupil, outcomes = found
    record(
        AuditAction.PUPILS_VIEWED,
        actor=user,
        organisation=school,
        subject=f"{estimates.stage.title} of pupil {pupil['upn']}",
        ip_address=ip,
    )
    cards = [
        {
            "key": o.key,
            "name": o.name,
            "kind": o.kind,
            "expected": [o.expected.get(each) for each in LEVELS],
            "chances": [(label, round(100 * chance)) for label, chance in o.chances],
            "rows": list(zip(o.labels, o.distribution, strict=True)),
            # Charts for the first few outcomes; each has its table.
            "chart": bars_svg(
                chart_labels(o.labels, kind=o.kind),
                [(f"Chance ({chosen.level_label.lower()})", list(o.distribution))],
                title=f"{o.name}: the chance of each {o.kind}",
                x_label=_axis(o.kind),
                y_label="Chance",
                ident=f"chart-{index}",
            )
            if index < 3
            else "",
        }
        for index, o in enumerate(outcomes)
    ]
    return PupilPage(school, chosen, estimates, pupil, cards)


@dataclass(frozen=True)
class NationalPage:
    """How the estimates are made: the fits, and one fit's outcome with its model and calibration."""

    fits: list[tuple[EstimatesFit, str]]  # the latest ten, each with why it failed (for staff only)
    fit: EstimatesFit | None
    transition: str
    outcomes: list[FittedOutcome]
    outcome: FittedOutcome | None
    staff: bool  # platform staff: may fit again

    @property
    def calibration(self) -> list[dict[str, Any]]:
        """Held-out groups of at least SUPPRESS_BELOW pupils (a smaller one's figures could point at
        pupils)."""
        if self.outcome is None:
            return []
        return [row for row in self.outcome.calibration.to_dicts() if row["pupils"] >= SUPPRESS_BELOW]

    @property
    def levels(self) -> list[tuple[str, float]]:
        if self.outcome is None:
            return []
        return [(label, self.outcome.spread.shifts[level]) for level, label in LEVELS.items()]

    @property
    def coefficients(self) -> list[tuple[str, float, float | None]]:
        """Each covariate's coefficient and standard error (None: not estimated)."""
        if self.outcome is None:
            return []
        model = self.outcome.model
        return [
            (name, value, model.standard_errors.get(name))
            for name, value in zip(model.covariates, model.coefficients, strict=True)
        ]

    @property
    def pieces(self) -> list[tuple[float, float, float]]:
        if self.outcome is None:
            return []
        model = self.outcome.model
        return list(zip(model.knots, model.knots[1:], model.slopes, strict=False))


def national_page(user: Any, *, fit_id: str, transition: str, outcome_key: str) -> NationalPage:
    """Every signed-in person reads how the estimates are made; platform staff also see why a fit
    failed, and may fit again. ``fit_id`` chooses a complete fit, else the transition's newest."""
    staff = policy.is_platform_staff(user)
    transition = transition if transition in Transition.values else Transition.KS2_KS4
    fit = (
        EstimatesFit.objects.filter(pk=int(fit_id), status=FitStatus.COMPLETE).first()
        if fit_id.isascii() and fit_id.isdigit() and len(fit_id) < 12
        else latest_fit(transition)
    )
    outcomes = fitted_outcomes(fit) if fit else []
    outcome = next((o for o in outcomes if o.key == outcome_key), outcomes[0] if outcomes else None)
    fits = [(each, each.message if staff else "") for each in EstimatesFit.objects.all()[:10]]
    return NationalPage(fits, fit, fit.transition if fit else transition, outcomes, outcome, staff)


def fit_from_page(user: Any, *, transition: str, years: str, contextual: bool) -> tuple[EstimatesFit, bool]:
    """A platform administrator queues a fit on the years given ("2025 2026"): (the fit, whether it was
    queued now rather than already waiting). Raises EstimatesServiceError."""
    if not policy.is_platform_staff(user):
        raise PermissionDenied("Only platform administrators fit estimates.")
    try:
        chosen = [int(part) for part in years.replace(",", " ").split()]
    except ValueError:
        chosen = []
    if not chosen or any(not 2000 <= y <= 2100 for y in chosen):
        raise EstimatesServiceError("Give the years to fit on as numbers, e.g. 2025 2026.")
    return request_fit(
        transition=transition if transition in Transition.values else Transition.KS2_KS4,
        years=chosen,
        contextual=contextual,
        requested_by=user,
        source="page",
    )
