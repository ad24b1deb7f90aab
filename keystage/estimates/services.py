"""Estimates in the platform: fitting a transition on the national data of its years (queued, then run by
the worker), and scoring a school's pupils with the newest complete fit."""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import polars as pl
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.utils import timezone

from keystage.core.estimates import report
from keystage.core.estimates.ambition import LEVELS
from keystage.core.estimates.datasets import OutcomeData, ks2_outcomes, ks4_outcomes, pupil_frame
from keystage.core.estimates.engine import FittedOutcome, fit_outcomes, score
from keystage.core.estimates.ks5 import ks5_outcomes, read_ks5_outcomes
from keystage.core.estimates.model import EstimatesError
from keystage.core.measures import characteristics, pipeline
from keystage.core.measures.ks4.points import points_table
from keystage.core.measures.ks4.pupils import ks2_prior_attainment, pupil_measures
from keystage.core.measures.ks4.subjects import SubjectMeasures
from keystage.core.measures.pipeline import MeasuresError
from keystage.core.measures.primary import progress
from keystage.core.refusals import Refused
from keystage.core.results.kinds import academic_year_name
from keystage.estimates.models import EstimatesFit, FitStatus, Ks5Dataset, Transition
from keystage.measures import loading, reference_choice
from keystage.measures.background import background_for
from keystage.measures.models import MeasureRun, PupilFigure
from keystage.organisations.models import School
from keystage.pupils.models import Pupil
from keystage.reports.pupils import pupil_names

log = logging.getLogger(__name__)

# The year groups whose pupils have KS4 ahead of them and KS2 behind them.
KS4_YEAR_GROUPS = (7, 8, 9, 10, 11)
KS2_YEAR_GROUPS = (3, 4, 5, 6)
LOST_AFTER = timedelta(
    hours=2
)  # a national fit takes about a minute  # KS1 behind them, KS2 ahead (Year 6: this summer)


class EstimatesServiceError(Refused):
    """Something a person asked for that cannot be done, with the reason in words."""


def request_fit(
    *,
    transition: str,
    years: list[int],
    contextual: bool = False,
    requested_by: Any = None,
    source: str = "command",
    enqueue: bool = True,
) -> tuple[EstimatesFit, bool]:
    """Queue a fit (and, with ``enqueue``, its task once the transaction commits; without, the caller
    runs it with ``run_fit``). A fit of the same transition already waiting is returned instead of a
    second one (``False``): a double click queues one."""
    if transition not in Transition.values:
        raise EstimatesServiceError(
            f"There are no estimates “{transition}”; choose {', '.join(Transition.values)}."
        )
    chosen = sorted(set(years))
    if not chosen:
        raise EstimatesServiceError("Choose at least one year of national data to fit the estimates on.")
    from keystage.estimates.tasks import fit_estimates

    give_up_on_lost_fits(transition, contextual)
    try:
        with transaction.atomic():
            fit = EstimatesFit.objects.create(
                transition=transition,
                years=chosen,
                contextual=contextual,
                requested_by=requested_by if getattr(requested_by, "pk", None) else None,
                source=source,
            )
    except IntegrityError:
        waiting = EstimatesFit.objects.filter(
            transition=transition, contextual=contextual, status__in=[FitStatus.QUEUED, FitStatus.RUNNING]
        ).first()
        if waiting is None:  # it finished between the two statements: try once more
            return request_fit(
                transition=transition,
                years=years,
                contextual=contextual,
                requested_by=requested_by,
                source=source,
                enqueue=enqueue,
            )
        return waiting, False
    if enqueue:
        transaction.on_commit(lambda: _enqueue(fit.pk, fit_estimates))
    return fit, True


def give_up_on_lost_fits(transition: str, contextual: bool) -> int:
    """A fit queued or running for longer than ``LOST_AFTER`` (its worker stopped, or it was never
    handed to one) is marked failed, so that it no longer blocks a new fit of the same estimates."""
    cutoff = timezone.now() - LOST_AFTER
    return EstimatesFit.objects.filter(
        transition=transition,
        contextual=contextual,
        status__in=[FitStatus.QUEUED, FitStatus.RUNNING],
        queued_at__lt=cutoff,
    ).update(
        status=FitStatus.FAILED,
        message=f"No worker finished this fit within {int(LOST_AFTER.total_seconds() // 3600)} hours; "
        "it was given up so another could run.",
        finished_at=timezone.now(),
    )


def _enqueue(fit_id: int, fit_task: Any) -> None:
    result = fit_task.enqueue(fit_id)
    EstimatesFit.objects.filter(pk=fit_id).update(task_id=str(result.id))


def run_fit(fit_id: int) -> EstimatesFit:
    """Fit a queued set of estimates (the worker's task; ``keystage estimates fit --now`` too). A fit
    another worker has taken, or already done, is left alone."""
    claimed = EstimatesFit.objects.filter(pk=fit_id, status=FitStatus.QUEUED).update(
        status=FitStatus.RUNNING, started_at=timezone.now()
    )
    fit = EstimatesFit.objects.get(pk=fit_id)
    if not claimed:
        return fit
    try:
        outcomes, backgrounds = national_outcomes(fit.transition, list(fit.years))
        fitted, skipped = fit_outcomes(outcomes, contextual=fit.contextual)
        if not fitted:
            raise EstimatesServiceError("No outcome could be fitted: " + "; ".join(skipped))
        with_prior = outcomes[0].frame.filter(pl.col("prior").is_not_null())
        fit.outcomes = [outcome.to_dict() for outcome in fitted]
        fit.skipped = skipped
        fit.pupils = max(outcome.model.pupils for outcome in fitted)  # those the models counted
        fit.schools = with_prior.get_column("school").n_unique()
        fit.background = "; ".join(backgrounds)
        fit.status = FitStatus.COMPLETE
    except Exception as error:  # the fit says why it failed rather than staying "running"
        if isinstance(error, EstimatesServiceError | MeasuresError):
            log.info("Estimates fit %s cannot be made: %s", fit_id, error)
        else:
            log.exception("Estimates fit %s failed", fit_id)
        fit.status = FitStatus.FAILED
        fit.message = str(error) or error.__class__.__name__
    fit.finished_at = timezone.now()
    # Only what the fit wrote: the task id, set when it was queued, stays.
    fit.save(
        update_fields=[
            "outcomes", "skipped", "pupils", "schools", "background", "status", "message", "finished_at",
        ]
    )  # fmt: skip
    return fit


def national_outcomes(transition: str, years: list[int]) -> tuple[list[OutcomeData], list[str]]:
    """The outcomes to fit for ``transition`` on the national data of ``years``, and the synthetic
    backgrounds counted."""
    if transition == Transition.KS2_KS4:
        pupils, entries, backgrounds = ks4_national_tables(years)
        return ks4_outcomes(pupils, entries), backgrounds
    if transition == Transition.KS1_KS2:
        frame, backgrounds = ks2_national_table(years)
        return ks2_outcomes(
            frame, pipeline.primary_framework("ks2", max(years)), progress.load_tables()
        ), backgrounds
    if transition == Transition.KS4_KS5:
        table, sources = ks5_national_table(years)
        return ks5_outcomes(table), sources
    raise EstimatesServiceError(f"{Transition(transition).label} estimates cannot be fitted yet.")


def import_ks5(path: Path, year: int, *, imported_by: Any = None) -> Ks5Dataset:
    """Check a national KS5 outcomes file (format: keystage.core.estimates.ks5) and keep it as ``year``'s,
    replacing any before. A file with problems is refused whole, with every kind of problem named."""
    try:
        rows = read_ks5_outcomes(path)
    except EstimatesError as error:
        raise EstimatesServiceError(str(error)) from None
    buffer = io.BytesIO()
    rows.write_parquet(buffer)
    try:
        with transaction.atomic():
            dataset = _replace_ks5(rows, buffer.getvalue(), path, year, imported_by)
    except IntegrityError:
        raise EstimatesServiceError(
            f"Another import of {academic_year_name(year)}'s KS5 outcomes happened at the same moment; "
            "import again if this file should be the one kept."
        ) from None
    return dataset


def _replace_ks5(rows: pl.DataFrame, parquet: bytes, path: Path, year: int, imported_by: Any) -> Ks5Dataset:
    old = Ks5Dataset.objects.select_for_update().filter(year=year).first()
    if old is not None:
        # The old file goes only once the new row is committed: a rollback leaves the old one whole.
        stale = old.file.name
        transaction.on_commit(lambda: old.file.storage.delete(stale))
        old.delete()
    dataset = Ks5Dataset(
        year=year,
        source=path.name[:300],
        results=rows.height,
        students=rows.get_column("upn").n_unique(),
        institutions=rows.get_column("institution").n_unique(),
        imported_by=imported_by if getattr(imported_by, "pk", None) else None,
    )
    dataset.file.save(f"ks5-{year}.parquet", ContentFile(parquet), save=False)
    dataset.save()
    return dataset


def ks5_national_table(years: list[int]) -> tuple[pl.DataFrame, list[str]]:
    """The imported KS5 outcomes of ``years``, each institution-year an institution of its own, and
    where each year's came from."""
    tables, sources = [], []
    for year in years:
        dataset = Ks5Dataset.objects.filter(year=year).first()
        if dataset is None:
            raise EstimatesServiceError(
                f"There are no KS5 outcomes for {academic_year_name(year)}: import them with "
                "keystage estimates import-ks5 FILE --year YEAR."
            )
        with dataset.file.open("rb") as handle:
            table = pl.read_parquet(handle)
        tables.append(
            table.with_columns(pl.concat_str(pl.lit(f"{year}:"), pl.col("institution")).alias("institution"))
        )
        sources.append(f"{academic_year_name(year)}: KS5 outcomes imported from {dataset.source}")
    return pl.concat(tables, how="vertical_relaxed"), sources


def _background_label(year: int) -> str | None:
    background = background_for(year)
    return f"{academic_year_name(year)}: a synthetic {background.scale} background" if background else None


def ks2_national_table(years: list[int]) -> tuple[pl.DataFrame, list[str]]:
    """Every school's Year 6 pupils in ``years`` with their KS1 and KS2 results as columns (platform
    uploads in use, with KS1 from the KS1 collection or the roster, and any synthetic background), each
    school-year a school of its own."""
    tables, backgrounds = [], []
    for year in years:
        results, pupils = loading.primary_database_tables("ks2", year)
        if pupils.height == 0:
            raise EstimatesServiceError(f"There are no KS2 results for {academic_year_name(year)} to fit on.")
        wide = results.pivot(on="assessment", index="upn", values="result", aggregate_function="first")
        table = pupils.filter(pl.col("nc_year") == 6).join(wide, on="upn", how="left")
        tables.append(
            table.with_columns(
                pl.concat_str(pl.lit(f"{year}:"), pl.col("school").cast(pl.String)).alias("school")
            )
        )
        label = _background_label(year)
        if label:
            backgrounds.append(label)
    frame = pl.concat(tables, how="diagonal_relaxed")
    frame = frame.with_columns(
        pl.lit(None, dtype=pl.String).alias(c) for c in progress.RESULT_COLUMNS if c not in frame.columns
    )
    if frame.filter(pl.all_horizontal(pl.col(c).is_not_null() for c in progress.KS1_ASSESSMENTS)).height == 0:
        raise EstimatesServiceError("No Year 6 pupil of those years has KS1 results to fit on.")
    return frame, backgrounds


def ks4_national_tables(years: list[int]) -> tuple[pl.DataFrame, pl.DataFrame, list[str]]:
    """The KS4 pupils (the measures' pupil table) and subject entries of every school in ``years``
    (platform uploads in use and any synthetic background), each school-year a school of its own."""
    catalogue = reference_choice.database_catalogue()
    pupil_tables, entry_tables, backgrounds = [], [], []
    for year in years:
        results, pupils = loading.database_tables(year)
        if pupils.height == 0:
            raise EstimatesServiceError(f"There are no KS4 results for {academic_year_name(year)} to fit on.")
        rules_year = catalogue.rules_year(year)
        if rules_year is None:
            raise EstimatesServiceError(
                f"The KS4 catalogue has no points for {academic_year_name(year)} or before."
            )
        scored = pupil_measures(results, pupils, points_table(catalogue, rules_year))
        subjects = SubjectMeasures(scored, catalogue.discount_descriptions)
        own_school = pl.concat_str(pl.lit(f"{year}:"), pl.col("school").cast(pl.String)).alias("school")
        pupil_tables.append(scored.pupils.with_columns(own_school))
        entry_tables.append(subjects.entries())
        label = _background_label(year)
        if label:
            backgrounds.append(label)
    return (
        pl.concat(pupil_tables, how="diagonal_relaxed"),
        pl.concat(entry_tables, how="vertical_relaxed"),
        backgrounds,
    )


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
    if stage.transition == Transition.KS4_KS5:
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
