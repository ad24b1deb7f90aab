"""KS4 and primary (EYFSP, phonics, KS1, KS2) measures for the platform, one function per action:
work out a key stage's figures from files (``compute_ks4``; primary from files is the core pipeline's
``primary_figures``) or from the results schools confirmed, stored as a run (``compute_and_store_*``),
and the run reports read (``latest_run``).

The arithmetic is the core pipeline's (keystage.core.measures.pipeline); beside this module,
reference_choice.py chooses the catalogue and estimates, loading.py gathers the pupils and results,
storing.py stores the figures, trends.py reads trends from the stored runs and refresh.py queues the
refresh.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from pathlib import Path

import polars as pl
from django.db.models import Q

from keystage.core.measures.ks4 import estimates as ks4_estimates
from keystage.core.measures.ks4.estimates import Estimates, EstimatesFileError
from keystage.core.measures.pipeline import (
    Ks4Figures,
    MeasuresError,
    NationalFloors,
    PlatformEstimates,
    PrimaryFigures,
    ks4_figures,
    primary_figures,
)
from keystage.core.measures.primary import progress
from keystage.core.reference.ks4_catalogue import Catalogue
from keystage.core.results.kinds import academic_year_name
from keystage.measures import value_added
from keystage.measures.background import background_floors, background_for
from keystage.measures.loading import KS4, PRIMARY_KINDS, database_tables, primary_database_tables
from keystage.measures.models import (
    KeyStage,
    MeasureRun,
    RunStatus,
    SyntheticBackground,
)
from keystage.measures.reference_choice import (
    PLATFORM,
    database_catalogue,
    default_estimates,
    estimates_names,
    progress8_folder,
)
from keystage.measures.storing import _failed, _new_run, _store, _store_primary
from keystage.organisations.models import LocalAuthority, School, Trust

logger = logging.getLogger(__name__)


# The computation -----------------------------------------------------------------------------------


def compute_ks4(
    results: pl.DataFrame,
    pupils: pl.DataFrame,
    *,
    catalogue: Catalogue,
    points_year: int,
    estimates: str,
    folder: Path | None = None,
    floors: bool = True,
    year: int | None = None,
    background: SyntheticBackground | None = None,
) -> Ks4Figures:
    """Every KS4 figure of the pupils (``pipeline.ks4_figures``), with the estimates called
    ``estimates`` ("platform" or a DfE release's name) from the Progress 8 releases in ``folder``
    (default: those the platform holds), the floors of DfE's estimates from the year's national
    ``background`` where it has one, and files' value added against the platform's stored KS1 groups."""
    folder = folder or progress8_folder()

    def chosen() -> Estimates | PlatformEstimates:
        names = estimates_names(folder)
        if estimates != PLATFORM:
            release = names.get(estimates)
            if release is None:
                known = ", ".join([*names, PLATFORM])
                raise MeasuresError(f"No estimates called “{estimates}”; choose one of {known}.")
            try:
                return ks4_estimates.load_dfe_estimates(folder, release)
            except EstimatesFileError as error:
                raise MeasuresError(f"The estimates {estimates} cannot be read: {error}") from None
        newest = ks4_estimates.load_dfe_estimates(folder, names[list(names)[-1]]) if names else None
        return PlatformEstimates(newest, str(folder))

    def cohort_floors(chosen: Estimates, points: pl.DataFrame) -> NationalFloors | None:
        found = background_floors(background, chosen, points) if background is not None else None
        return None if found is None or background is None else NationalFloors(*found, background.label)

    return ks4_figures(
        results,
        pupils,
        catalogue=catalogue,
        points_year=points_year,
        estimates=chosen,
        floors=floors,
        year=year,
        cohort_floors=cohort_floors,
        stored_ks1_groups=value_added.stored_groups,
    )


def organisation_labels(ids: Iterable[str]) -> dict[str, str]:
    """Trust and LA ids (as the database tables name them) -> how people know them: a trust by its
    name, an LA by its code and name."""
    wanted = [int(i) for i in ids if str(i).isdigit()]
    labels = {str(pk): name for pk, name in Trust.objects.filter(pk__in=wanted).values_list("pk", "name")}
    for pk, code, name in LocalAuthority.objects.filter(pk__in=wanted).values_list("pk", "code", "name"):
        labels[str(pk)] = f"{code} {name}"
    return labels


def compute_and_store_ks4(
    year: int,
    *,
    school: School | None = None,
    estimates: str | None = None,
    points_year: int | None = None,
    catalogue: Catalogue | None = None,
    floors: bool = True,
    run: MeasureRun | None = None,
    source: str = "command",
) -> tuple[MeasureRun, Ks4Figures]:
    """Compute every KS4 figure of ``year`` from the uploads in use and store them as a complete run.
    Figures are always computed over every school (national comparators, platform estimates and
    floors need them all); with ``school`` only that school's and the national figures are stored.
    A failure marks the run failed with its reason, and raises."""
    started = time.perf_counter()
    run = run or _new_run(KS4, year, school, source)
    try:
        catalogue = catalogue or database_catalogue()
        results, pupils = database_tables(year)
        name = academic_year_name(year)
        if pupils.height == 0:
            raise MeasuresError(f"No school has confirmed KS4 results for {name}.")
        if school is not None and school.pk not in set(pupils.get_column("school_id").to_list()):
            raise MeasuresError(f"{school.name} has no confirmed KS4 results for {name}.")
        figures = compute_ks4(
            results,
            pupils,
            catalogue=catalogue,
            points_year=points_year or year,
            estimates=estimates or default_estimates(year),
            floors=floors,
            year=year,
            background=background_for(year),
        )
        return _store(run, figures, school, started), figures
    except Exception as error:
        _failed(run, error, started)
        raise


def compute_and_store_primary(
    key_stage: str,
    year: int,
    *,
    school: School | None = None,
    run: MeasureRun | None = None,
    source: str = "command",
) -> tuple[MeasureRun, PrimaryFigures]:
    """Compute the key stage's figures for ``year`` from the uploads in use and store them as a
    complete run; with ``school`` only that school's and the national figures are stored (figures are
    always computed over every school, for the national comparators and places). A failure marks the
    run failed with its reason, and raises."""
    if key_stage not in PRIMARY_KINDS:
        raise MeasuresError(f"No primary key stage called “{key_stage}”.")
    started = time.perf_counter()
    run = run or _new_run(key_stage, year, school, source)
    try:
        results, pupils = primary_database_tables(key_stage, year)
        name, title = academic_year_name(year), KeyStage(key_stage).label
        if pupils.height == 0:
            raise MeasuresError(f"No school has confirmed {title} results for {name}.")
        if school is not None and school.pk not in set(pupils.get_column("school_id").to_list()):
            raise MeasuresError(f"{school.name} has no confirmed {title} results for {name}.")
        figures = primary_figures(key_stage, results, pupils, year=year)
        if key_stage == "ks2" and year not in progress.PROGRESS_YEARS:
            figures.notes.append(f"DfE measures no KS2 progress from KS1 for {name}, so none is computed.")
        return _store_primary(run, figures, results, school, started), figures
    except Exception as error:
        _failed(run, error, started)
        raise


def latest_run(key_stage: str, year: int, school: School | None = None) -> MeasureRun | None:
    """The run reports read: the latest complete one of the key stage and year that covers every
    school, or (given a school) that covers every school or just that one."""
    scope = Q(school__isnull=True) if school is None else Q(school__isnull=True) | Q(school=school)
    return (
        MeasureRun.objects.filter(scope, key_stage=key_stage, year=year, status=RunStatus.COMPLETE)
        .order_by("-computed_at", "-pk")
        .first()
    )
