"""Storing what the measures pipeline works out as a run: school, trust, LA, national, subject and pupil
figures (KS4 in typed columns, primary key stages as JSON), the run marked complete or failed, and the
uploads it read marked "Reports available".
"""

from __future__ import annotations

import json
import logging
import time
from collections import defaultdict
from collections.abc import Iterable, Iterator
from datetime import timedelta
from typing import Any

import polars as pl
from django.db import transaction
from django.utils import timezone

from keystage.core.jsonsafe import json_safe
from keystage.core.measures.group_figures import (
    FIGURE_EXTRAS,
)
from keystage.core.measures.ks4 import no_progress8
from keystage.core.measures.ks4.explanations import explanations, not_counted, not_counted_summary
from keystage.core.measures.ks4.pupils import PUPIL_COLUMNS
from keystage.core.measures.ks4.subjects import SUBJECT_COLUMNS
from keystage.core.measures.pipeline import (
    AGGREGATED_BY,
    Ks4Figures,
    MeasuresError,
    PrimaryFigures,
)
from keystage.core.results.kinds import academic_year_name
from keystage.measures.background import background_for
from keystage.measures.loading import KS4, KS4_KINDS, PRIMARY_KINDS, uploads_in_use
from keystage.measures.models import (
    MeasureRun,
    PrimaryFigure,
    PrimaryPupilFigure,
    PupilFigure,
    RunStatus,
    SchoolFigure,
    SubjectFigure,
)
from keystage.organisations.models import School
from keystage.results.models import UploadStatus

logger = logging.getLogger(__name__)
# Characteristics stored with each pupil's figures (the pupil groups of the school figures).
CHARACTERISTICS = ("sex", "disadvantaged", "sen", "eal", "non_mobile", "ethnicity_group", "month_of_birth")


_SCHOOL_FIELDS = [
    f.name
    for f in SchoolFigure._meta.concrete_fields
    if f.name not in {"id", "run", "school", "organisation", "rank", "percentile", "quintile", "not_counted"}
]
_PUPIL_FIELDS = [c for c in PUPIL_COLUMNS if c != "upn"]
_SUBJECT_FIELDS = [c for c in SUBJECT_COLUMNS if c not in {"significance", "grades"}]


def _blank(value: Any) -> Any:
    return "" if value is None else value


_TEXT_FIELDS = {"banding", "significance", "group", "value", "ks1_va_significance"}


def _school_values(row: dict[str, Any]) -> dict[str, Any]:
    """A figure row's stored fields; the KS1-based value added's are empty outside its years."""
    values = {}
    for name in _SCHOOL_FIELDS:
        value = row.get(name)
        if name in _TEXT_FIELDS:
            value = _blank(value)
        elif value is None and name in no_progress8.COUNT_FIELDS:
            value = 0
        values[name] = value
    return values


def _school_rows(
    run: MeasureRun, figures: Ks4Figures, school_pk: dict[str, int], only: int | None
) -> Iterator[SchoolFigure]:
    left_out = _not_counted_by_school(figures)
    for row in figures.schools.iter_rows(named=True):
        pk = school_pk.get(row["school"])
        if pk is None or (only is not None and pk != only):
            continue  # a background school counts nationally but is not the platform's
        values = _school_values(row)
        everyone = row["group"] == "all" and row["value"] == "all"
        yield SchoolFigure(
            run=run,
            school_id=pk,
            rank=row["rank"],
            percentile=row["percentile"],
            quintile=row["quintile"],
            not_counted=left_out.get(row["school"], []) if everyone else [],
            **values,
        )
    for row in figures.aggregates.iter_rows(named=True) if only is None else ():
        values = _school_values(row)
        yield SchoolFigure(run=run, organisation_id=int(row["organisation"]), **values)
    for row in figures.national.iter_rows(named=True):
        values = _school_values(row)
        yield SchoolFigure(run=run, school_id=None, **values)


def _not_counted_by_school(figures: Ks4Figures) -> dict[str, list[dict[str, Any]]]:
    """Per school (DfE number): how many results of its pupils are not counted, per reason."""
    summary = not_counted_summary(figures.measures, "school")
    by_school: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in summary.iter_rows(named=True):
        by_school[row["school"]].append({k: row[k] for k in ("reason", "results", "pupils")})
    return by_school


def _subject_rows(
    run: MeasureRun, figures: Ks4Figures, school_pk: dict[str, int], only: int | None
) -> Iterator[SubjectFigure]:
    """Subject figures of every school (or just ``only``), trust and LA (only when every school is
    stored), and the nation."""
    subjects = figures.subjects
    if only is not None:  # that school's rows and the nation's
        dfe = next(number for number, pk in school_pk.items() if pk == only)
        level = pl.col("level")
        subjects = subjects.filter(
            ((level == "school") & (pl.col("organisation") == dfe)) | (level == "national")
        )
    for row in subjects.iter_rows(named=True):
        level, school_id, organisation_id = row["level"], None, None
        if level == "school":
            school_id = school_pk.get(row["organisation"])
            if school_id is None:
                continue
        elif level in AGGREGATED_BY:
            organisation_id = int(row["organisation"])
        yield SubjectFigure(
            run=run,
            school_id=school_id,
            organisation_id=organisation_id,
            significance=_blank(row["significance"]),
            grades=None if row["grades"] is None else json_safe(json.loads(row["grades"])),
            **{name: row[name] for name in _SUBJECT_FIELDS},
        )


def _pupil_rows(run: MeasureRun, figures: Ks4Figures, only: int | None) -> Iterator[PupilFigure]:
    table = _platform_pupils(figures.measures.pupils, only)
    stored = figures.measures.only(table.get_column("upn"))
    added = figures.value_added
    lines = explanations(stored, no_progress8=added.gap.message if added is not None else None)
    left_out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for result in not_counted(stored).iter_rows(named=True):
        left_out[result["upn"]].append({k: result[k] for k in ("qan", "title", "grade", "series", "reason")})
    present = [c for c in CHARACTERISTICS if c in table.columns]
    for row in table.iter_rows(named=True):
        explanation = lines.get(row["upn"], [])
        if added is not None:
            explanation = no_progress8.explain(explanation, row, added)
        yield PupilFigure(
            run=run,
            school_id=row["school_id"],
            upn=row["upn"],
            characteristics=json_safe({c: row[c] for c in present if row[c] is not None}),
            explanation=explanation,
            not_counted=left_out.get(row["upn"], []),
            ks4_aps=row.get("ks4_aps"),
            **no_progress8.pupil_fields(row),
            **{name: row[name] for name in _PUPIL_FIELDS},
        )


def _store(run: MeasureRun, figures: Ks4Figures, school: School | None, started: float) -> MeasureRun:
    school_pk, only, stored = _scope(figures.measures.pupils, school)
    with transaction.atomic():
        SchoolFigure.objects.bulk_create(_school_rows(run, figures, school_pk, only), batch_size=1000)
        SubjectFigure.objects.bulk_create(_subject_rows(run, figures, school_pk, only), batch_size=1000)
        PupilFigure.objects.bulk_create(_pupil_rows(run, figures, only), batch_size=1000)
        run.estimates = figures.estimates.label[:120]
        run.subjects_basis = figures.subjects_basis[:200]
        run.points_year = figures.points_year
        run.pupils_adjusted = int(stored.get_column("p8_was_adjusted").fill_null(False).sum())
        groups = figures.value_added.groups if figures.value_added is not None else None
        run.ks1_groups = json_safe(groups.to_json()) if groups is not None else None
        _complete(run, figures.measures.pupils, stored, figures.notes, started)
    return run


def _platform_pupils(table: pl.DataFrame, only: int | None) -> pl.DataFrame:
    """The pupils a run stores: those of the platform's schools (not a synthetic background's), or of
    the one school ``only``."""
    school = pl.col("school_id")
    return table.filter(school.is_not_null() if only is None else school == only)


def _scope(table: pl.DataFrame, school: School | None) -> tuple[dict[str, int], int | None, pl.DataFrame]:
    """What a run stores: each platform school's DfE number -> pk, the one school's pk (None: every
    school) and the pupils stored."""
    school_pk = {
        dfe: pk for dfe, pk in table.select("school", "school_id").unique().iter_rows() if pk is not None
    }
    only = school.pk if school is not None else None
    return school_pk, only, _platform_pupils(table, only)


def _complete(
    run: MeasureRun, everyone: pl.DataFrame, stored: pl.DataFrame, notes: list[str], started: float
) -> None:
    """Mark the run complete (inside the transaction that stored its figures). ``everyone``: the
    pupils the national figures count."""
    chosen = background_for(run.year)
    run.background = chosen.label if chosen is not None else ""
    run.national_pupils = everyone.height
    run.national_schools = everyone.get_column("school").n_unique()
    run.status = RunStatus.COMPLETE
    run.pupils = stored.height
    run.schools = stored.get_column("school_id").n_unique()
    run.computed_at = timezone.now()
    run.duration = timedelta(seconds=time.perf_counter() - started)
    run.message = " ".join(notes)
    run.save()
    if run.school_id is None:
        _mark_reports_available(run, stored.get_column("school_id").unique().to_list())


def _mark_reports_available(run: MeasureRun, school_ids: list[int]) -> None:
    """Confirmed uploads of schools whose figures a full run stored now read "Reports available" in the
    upload history (seed 000), with a link to the school's reports."""
    kinds = KS4_KINDS if run.key_stage == KS4 else PRIMARY_KINDS[run.key_stage]
    read = uploads_in_use(run.year, kinds).filter(school_id__in=school_ids, status=UploadStatus.SUCCESSFUL)
    if run.started_at is not None:  # one confirmed while the run was working is not in its figures yet
        read = read.filter(confirmed_at__lte=run.started_at)
    read.update(status=UploadStatus.REPORTS)


def _new_run(key_stage: str, year: int, school: School | None, source: str) -> MeasureRun:
    return MeasureRun.objects.create(
        key_stage=key_stage,
        year=year,
        school=school,
        status=RunStatus.RUNNING,
        source=source,
        started_at=timezone.now(),
    )


def _failed(run: MeasureRun, error: Exception, started: float) -> None:
    """Mark the run failed with its reason (a MeasuresError's message, else the unexpected error)."""
    message = str(error) if isinstance(error, MeasuresError) else f"Unexpected error: {error!r}"
    MeasureRun.objects.filter(pk=run.pk).update(
        status=RunStatus.FAILED,
        message=message[:2000],
        duration=timedelta(seconds=time.perf_counter() - started),
    )
    run.refresh_from_db()


def _json_number(value: Any) -> Any:
    """JSON has no NaN or infinity: such a figure is stored as none (keystage.core.jsonsafe)."""
    return json_safe(value)


def _primary_entries(row: dict[str, Any], measures: Iterable[str]) -> dict[str, dict[str, Any]]:
    entries = {}
    for name in measures:
        entry = {"figure": _json_number(row[name]), "pupils": row[f"{name}_pupils"]}
        if f"national_{name}" in row:
            entry["national"] = _json_number(row[f"national_{name}"])
        for extra in FIGURE_EXTRAS:
            if f"{name}_{extra}" in row:
                entry[extra] = _json_number(row[f"{name}_{extra}"])
        entries[name] = entry
    return entries


def _primary_rows(
    run: MeasureRun, figures: PrimaryFigures, school_pk: dict[str, int], only: int | None
) -> Iterator[PrimaryFigure]:
    """Figures of every school (or just ``only``), trust and LA (only when every school is stored),
    and the nation; a school's all-pupil row carries its place in each measure."""
    place: dict[str, dict[str, dict[str, int]]] = {}
    for school, measure, percentile, quintile in figures.places.select(
        "school", "measure", "percentile", "quintile"
    ).iter_rows():
        place.setdefault(school, {})[measure] = {"percentile": percentile, "quintile": quintile}
    for row in figures.schools.iter_rows(named=True):
        pk = school_pk.get(row["school"])
        if pk is None or (only is not None and pk != only):
            continue
        entries = _primary_entries(row, figures.measures)
        if row["group"] == "all" and row["value"] == "all":
            for measure, where in place.get(row["school"], {}).items():
                entries[measure].update(where)
        yield PrimaryFigure(
            run=run,
            school_id=pk,
            group=row["group"],
            value=row["value"],
            cohort=row["cohort"],
            figures=json_safe(entries),
        )
    for row in figures.aggregates.iter_rows(named=True) if only is None else ():
        yield PrimaryFigure(
            run=run,
            organisation_id=int(row["organisation"]),
            group=row["group"],
            value=row["value"],
            cohort=row["cohort"],
            figures=_primary_entries(row, figures.measures),
        )
    for row in figures.national.iter_rows(named=True):
        yield PrimaryFigure(
            run=run,
            group=row["group"],
            value=row["value"],
            cohort=row["cohort"],
            figures=_primary_entries(row, figures.measures),
        )


def _primary_pupil_rows(
    run: MeasureRun, figures: PrimaryFigures, results: pl.DataFrame, only: int | None
) -> Iterator[PrimaryPupilFigure]:
    table = _platform_pupils(figures.pupils, only)
    given: dict[str, dict[str, str]] = {}
    mine = results.filter(pl.col("upn").is_in(table.get_column("upn").implode()))
    for upn, assessment, result in mine.iter_rows():
        given.setdefault(upn, {}).setdefault(assessment, result)
    present = [c for c in CHARACTERISTICS if c in table.columns]
    for row in table.iter_rows(named=True):
        yield PrimaryPupilFigure(
            run=run,
            school_id=row["school_id"],
            upn=row["upn"],
            nc_year=row["nc_year"],
            results=given.get(row["upn"], {}),
            figures={c: _json_number(row[c]) for c in figures.figure_columns},
            characteristics=json_safe({c: row[c] for c in present if row[c] is not None}),
        )


def _store_primary(
    run: MeasureRun, figures: PrimaryFigures, results: pl.DataFrame, school: School | None, started: float
) -> MeasureRun:
    school_pk, only, stored = _scope(figures.pupils, school)
    framework = figures.framework
    with transaction.atomic():
        PrimaryFigure.objects.bulk_create(_primary_rows(run, figures, school_pk, only), batch_size=1000)
        PrimaryPupilFigure.objects.bulk_create(
            _primary_pupil_rows(run, figures, results, only), batch_size=1000
        )
        run.estimates = f"{framework.title} ({academic_year_name(framework.from_year)} framework)"[:120]
        _complete(run, figures.pupils, stored, figures.notes, started)
    return run
