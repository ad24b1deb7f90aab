"""Fitting estimates: a fit of a transition queued (by an administrator's page or the command), run by
the worker on the national data of its years (the platform's results and any synthetic background; for
KS5, the imported A level datasets), and a lost fit given up so another can run."""

from __future__ import annotations

import io
import logging
from datetime import timedelta
from pathlib import Path
from typing import Any

import polars as pl
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.utils import timezone

from keystage.core.estimates.datasets import OutcomeData, ks2_outcomes, ks4_outcomes
from keystage.core.estimates.engine import fit_outcomes
from keystage.core.estimates.ks5 import ks5_outcomes, read_ks5_outcomes
from keystage.core.estimates.model import EstimatesError
from keystage.core.measures import pipeline
from keystage.core.measures.ks4.points import points_table
from keystage.core.measures.ks4.pupils import pupil_measures
from keystage.core.measures.ks4.subjects import SubjectMeasures
from keystage.core.measures.pipeline import MeasuresError
from keystage.core.measures.primary import progress
from keystage.core.refusals import Refused
from keystage.core.results.kinds import academic_year_name
from keystage.estimates.models import EstimatesFit, FitStatus, Ks5Dataset, Transition
from keystage.measures import loading, reference_choice
from keystage.measures.background import background_for

log = logging.getLogger(__name__)

LOST_AFTER = timedelta(hours=2)  # a national fit takes about a minute


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
