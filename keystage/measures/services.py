"""KS4 and primary (EYFSP, phonics, KS1, KS2) measures for the platform: computed from files or from
the results schools confirmed, stored as runs that reports read, and refreshed in the background when
an upload of the key stage is confirmed or the one in use deleted.

The arithmetic is the core engine's (keystage.core.measures.ks4 and .primary); this module chooses the
catalogue, estimates and framework, gathers the pupils and results, stores the figures, reads trends
from the stored runs and queues the refresh.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections import defaultdict
from collections.abc import Iterable, Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import polars as pl
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from keystage.core import key_stages
from keystage.core.jsonsafe import json_safe
from keystage.core.measures import characteristics
from keystage.core.measures.group_figures import (
    FIGURE_EXTRAS,
)
from keystage.core.measures.ks4 import estimates as ks4_estimates
from keystage.core.measures.ks4 import no_progress8
from keystage.core.measures.ks4.estimates import Estimates, EstimatesFileError
from keystage.core.measures.ks4.prior_attainment import without_progress8
from keystage.core.measures.ks4.pupils import (
    PUPIL_COLUMNS,
    explanations,
    not_counted,
    not_counted_summary,
)
from keystage.core.measures.ks4.subjects import SUBJECT_COLUMNS
from keystage.core.measures.pipeline import (
    AGGREGATED_BY,
    Ks4Figures,
    MeasuresError,
    NationalFloors,
    PlatformEstimates,
    PrimaryFigures,
    ks4_figures,
    primary_figures,
    primary_framework,
)
from keystage.core.measures.primary import KEY_STAGES, phonics, progress
from keystage.core.reference.ks4_catalogue import Catalogue, CatalogueFileError, import_dfe_2019_folder
from keystage.core.results.kinds import KINDS, academic_year_name
from keystage.measures import value_added
from keystage.measures.background import background_floors, background_for, background_tables
from keystage.measures.models import (
    KeyStage,
    MeasureRun,
    PrimaryFigure,
    PrimaryPupilFigure,
    PupilFigure,
    RunStatus,
    SchoolFigure,
    SubjectFigure,
    SyntheticBackground,
)
from keystage.organisations.models import LocalAuthority, School, Trust
from keystage.pupils.models import Pupil
from keystage.reference_data import services as reference
from keystage.reference_data.services import loaded_ks4_catalogue
from keystage.results.models import Result, SubmittedPupil, Upload, UploadStatus

logger = logging.getLogger(__name__)

KS4 = KeyStage.KS4.value
KS4_KINDS = key_stages.KEY_STAGES["ks4"].kinds
PLATFORM = "platform"
# A queued refresh whose task cannot be found and that has waited this long was lost: queue another.
LOST_AFTER = timedelta(minutes=30)
# Characteristics stored with each pupil's figures (the pupil groups of the school figures).
CHARACTERISTICS = ("sex", "disadvantaged", "sen", "eal", "non_mobile", "ethnicity_group", "month_of_birth")
_RELEASE_WORDS = {"prov": "provisional", "rev": "revised", "final": "final"}


# Reference data ----------------------------------------------------------------------------------


def progress8_folder() -> Path:
    """DfE's Progress 8 releases: those keystage ships (or KEYSTAGE_REFERENCE_DIR's) with those
    platform staff loaded in /admin/ (keystage.reference_data.services.progress8_folder)."""
    return reference.progress8_folder()


def progress8_base_folder() -> Path:
    """The Progress 8 files alone (shipped, or KEYSTAGE_REFERENCE_DIR's), without the releases loaded
    into the database."""
    return reference.progress8_base_folder()


def catalogue_folder() -> Path:
    """DfE's KS4 catalogue files: KEYSTAGE_REFERENCE_DIR's, else those keystage ships."""
    return reference.ks4_catalogue_folder()


def estimates_name(release: str) -> str:
    """The name people choose estimates by: "2024prov" -> "dfe-2024-provisional"."""
    year, kind = release[:4], release[4:]
    return f"dfe-{year}-{_RELEASE_WORDS.get(kind, kind)}" if kind else f"dfe-{year}"


def estimates_names(folder: Path | None = None) -> dict[str, str]:
    """Every DfE release in the folder by its name, oldest first: {"dfe-2024-provisional": "2024prov"}."""
    releases = ks4_estimates.available_releases(folder or progress8_folder())
    return {estimates_name(release): release for release in releases}


def default_estimates(year: int | None, folder: Path | None = None, *, otherwise: str = PLATFORM) -> str:
    """The estimates the platform administrator chose for the year (KEYSTAGE_KS4_ESTIMATES, e.g.
    "2024=dfe-2024-provisional,2026=platform"); else DfE's for the year where published (revised
    before provisional); otherwise ``otherwise``: "platform", or "newest" for the newest DfE release."""
    chosen = settings.KEYSTAGE_KS4_ESTIMATES.get(year) if year is not None else None
    if chosen:
        return str(chosen)
    names = estimates_names(folder)
    of_year = [name for name, release in names.items() if year is not None and release.startswith(str(year))]
    if of_year:
        return of_year[-1]
    if otherwise == "newest" and names:
        return list(names)[-1]
    return PLATFORM


def catalogue_from(folder: Path | None) -> tuple[Catalogue, str]:
    """The KS4 catalogue and where it came from: DfE's files in ``folder``; with no folder, the
    catalogue loaded into the database (a newer year's if platform staff loaded one; DfE's shipped
    files, loaded first if the database has none)."""
    if folder is not None:
        if not Path(folder).is_dir():
            raise MeasuresError(f"The catalogue folder {folder} does not exist.")
        try:
            return import_dfe_2019_folder(Path(folder)), str(folder)
        except (CatalogueFileError, OSError, ValueError) as error:
            raise MeasuresError(f"The KS4 catalogue in {folder} cannot be read: {error}") from None
    return database_catalogue(), "the database"


def database_catalogue() -> Catalogue:
    catalogue = loaded_ks4_catalogue()
    if not catalogue.qualifications:
        # Loaded at migrate; a database that somehow has none gets the shipped files at first use.
        with contextlib.suppress(CatalogueFileError, OSError):
            reference.ensure_ks4_catalogue()
        catalogue = loaded_ks4_catalogue()
    if not catalogue.qualifications:
        raise MeasuresError(
            "The KS4 qualification catalogue has not been loaded. A platform administrator loads it with "
            "keystage reference load-ks4, or give --catalogue with DfE's files."
        )
    return catalogue


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


# From the database -------------------------------------------------------------------------------

_PUPIL_SCHEMA = {
    "school_id": pl.Int64,
    "upn": pl.String,
    "submitted_sex": pl.String,
    "submitted_birth": pl.Date,
    "submitted_nc_year": pl.Int64,
}
_ROSTER_SCHEMA = {
    "school_id": pl.Int64,
    "upn": pl.String,
    "nc_year": pl.Int64,
    "ks1_reading": pl.String,
    "ks1_writing": pl.String,
    "ks1_maths": pl.String,
    "ks2_reading": pl.Float64,
    "ks2_maths": pl.Float64,
    "sex": pl.String,
    "fsm6": pl.Boolean,
    "looked_after": pl.Boolean,
    "adopted_from_care": pl.Boolean,
    "sen": pl.String,
    "eal": pl.Boolean,
    "ethnicity": pl.String,
    "joined_on": pl.Date,
    "date_of_birth": pl.Date,
    "on_roll": pl.Boolean,
}
_RESULTS_SCHEMA = {"upn": pl.String, "assessment": pl.String, "result": pl.String}


def _frame(rows: Iterable[tuple[Any, ...]], schema: dict[str, Any]) -> pl.DataFrame:
    return pl.DataFrame(list(rows), schema=schema, orient="row")


def uploads_in_use(year: int, kinds: Iterable[str] = KS4_KINDS) -> Any:
    return Upload.objects.filter(
        in_use=True, school__isnull=False, collection__year=year, collection__kind__in=list(kinds)
    )


def _uploaded_pupils(uploads: Any, year: int) -> pl.DataFrame:
    """The pupils of ``uploads`` with the school's DfE number, trust and LA (as organisation ids, for
    their aggregates), their characteristics from the roster (from the upload where the roster does
    not have them) and the roster's columns (``_ROSTER_SCHEMA``); ``_on_roster`` says whether the
    roster had them. A pupil in two schools' uploads is counted at the school whose roll they are on."""
    submitted = _frame(
        SubmittedPupil.objects.filter(upload__in=uploads)
        .values_list("upload__school_id", "upn", "sex", "date_of_birth", "nc_year")
        .iterator(chunk_size=5000),
        _PUPIL_SCHEMA,
    ).unique(subset=["school_id", "upn"], keep="first", maintain_order=True)
    school_ids = submitted.get_column("school_id").unique().to_list()
    schools = School.objects.filter(pk__in=school_ids).values_list("pk", "dfe_number", "trust_id", "la_id")
    dfe, trust, la = {}, {}, {}
    for pk, dfe_number, trust_id, la_id in schools:
        dfe[pk] = dfe_number
        la[pk] = str(la_id)
        if trust_id is not None:
            trust[pk] = str(trust_id)
    roster = _frame(
        Pupil.objects.filter(academic_year=year, school__in=uploads.values("school"))
        .values_list(*_ROSTER_SCHEMA)
        .iterator(chunk_size=5000),
        _ROSTER_SCHEMA,
    ).with_columns(pl.lit(True).alias("_on_roster"))
    joined = submitted.join(roster, on=["school_id", "upn"], how="left")
    on_roster = pl.col("_on_roster").fill_null(False)
    return (
        joined.sort(
            [on_roster & pl.col("on_roll").fill_null(False), on_roster, pl.col("school_id")],
            descending=[True, True, False],
        )
        .unique(subset="upn", keep="first", maintain_order=True)
        .with_columns(
            pl.col("school_id").replace_strict(dfe, default=None, return_dtype=pl.String).alias("school"),
            pl.col("school_id").replace_strict(trust, default=None, return_dtype=pl.String).alias("trust"),
            pl.col("school_id").replace_strict(la, default=None, return_dtype=pl.String).alias("la"),
            on_roster.alias("_on_roster"),
            pl.coalesce(pl.col("sex"), pl.col("submitted_sex")).str.to_uppercase().alias("sex"),
            pl.coalesce(pl.col("submitted_nc_year"), pl.col("nc_year")).alias("nc_year"),
            pl.coalesce(pl.col("date_of_birth"), pl.col("submitted_birth"))
            .dt.month()
            .cast(pl.Int8)
            .alias("month_of_birth"),
        )
        .sort("school", "upn")
    )


def _characteristics(year: int, *, mobility: bool) -> list[pl.Expr]:
    """The pupil group columns of ``_uploaded_pupils``'s table (non-mobile is KS4's definition)."""
    known = pl.col("_on_roster")
    return [
        pl.col("sex"),
        pl.when(known).then(characteristics.disadvantaged()).alias("disadvantaged"),
        pl.col("sen"),
        pl.col("eal"),
        characteristics.ethnicity_group(),
        *([pl.when(known).then(characteristics.non_mobile(year)).alias("non_mobile")] if mobility else []),
        pl.col("month_of_birth"),
    ]


def database_tables(year: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The results (upn, qan, grade, exam_date) of every school's KS4 uploads in use in ``year``,
    and their pupils (school as DfE number, school_id, trust and la as organisation ids, upn, KS2 and
    characteristics from the roster)."""
    uploads = uploads_in_use(year)
    summer = date(year, 6, 1)  # the template has no exam dates: the collection's summer series
    columns = [
        "school",
        "school_id",
        "trust",
        "la",
        "upn",
        "ks2_reading",
        "ks2_maths",
        *no_progress8.KS1_COLUMNS,  # the roster's KS1 teacher assessment: prior attainment without KS2
        *_characteristics(year, mobility=True),
    ]
    pupils = _uploaded_pupils(uploads, year).select(columns)
    results = _frame(
        Result.objects.filter(upload__in=uploads)
        .values_list("pupil__upn", "qan", "value")
        .iterator(chunk_size=20000),
        {"upn": pl.String, "qan": pl.String, "grade": pl.String},
    ).with_columns(pl.lit(summer).alias("exam_date"))
    return _with_background(results, pupils, year, (11,), "ks4", columns)


def _with_background(
    results: pl.DataFrame,
    pupils: pl.DataFrame,
    year: int,
    year_groups: tuple[int, ...],
    kind: str,
    columns: list[Any],
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The year's synthetic background (if it has one) added to the platform's pupils and results:
    its pupils of schools with no results of their own in use (``background``)."""
    chosen = background_for(year)
    if chosen is None:
        return results, pupils
    extra_results, extra = background_tables(chosen, year_groups, kind=kind)
    # A column the synthetic pupils do not carry (e.g. KS1 assessments of Year 11) is empty for them.
    named = [c for c in columns if isinstance(c, str)]
    extra = extra.with_columns(
        pl.lit(None, dtype=pupils.schema[name]).alias(name) for name in named if name not in extra.columns
    )
    extra = extra.filter(
        ~pl.col("school").is_in(pupils.get_column("school").unique().implode())
        & ~pl.col("upn").is_in(pupils.get_column("upn").implode())
    ).select(columns)
    extra = extra.select(
        pl.col(name).cast(dtype) if dtype != pl.Null else pl.col(name)
        for name, dtype in pupils.schema.items()
    )
    extra_results = extra_results.join(extra.select("upn"), on="upn", how="semi").select(
        pl.col(name).cast(dtype) for name, dtype in results.schema.items()
    )
    return pl.concat([results, extra_results]), pl.concat([pupils, extra], how="vertical_relaxed")


# The collections each primary key stage's figures read.
PRIMARY_KINDS = {key: key_stages.KEY_STAGES[key].kinds for key in key_stages.PRIMARY}
KS1_TA = {"ks1_reading": "ks1_reading_ta", "ks1_writing": "ks1_writing_ta", "ks1_maths": "ks1_maths_ta"}
# KS1 is assessed in Year 2, KS2 in Year 6; Year 2's phonics reads the Year 1 check a year before.
KS1_TO_KS2_YEARS = key_stages.KEY_STAGES["ks2"].reads("ks1").years_before
PHONICS_YEARS_BEFORE = key_stages.KEY_STAGES["phonics"].reads("phonics").years_before


def _confirmed_results(uploads: Any, subjects: Iterable[str] | None = None) -> pl.DataFrame:
    # In upload order, so that where two uploads give a pupil a result the same one counts every time.
    rows = Result.objects.filter(upload__in=uploads).order_by("upload_id", "pk")
    if subjects is not None:
        rows = rows.filter(subject__in=list(subjects))
    return _frame(
        rows.values_list("pupil__upn", "subject", "value").iterator(chunk_size=20000), _RESULTS_SCHEMA
    )


def primary_database_tables(key_stage: str, year: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The results (upn, assessment, result) of every school's uploads in use of the key stage in
    ``year``, and their pupils (school, school_id, trust, la, upn, nc_year, characteristics).

    The results also carry what the figures need from earlier years: for phonics, a Year 2 pupil's
    Year 1 mark (``phonics_mark_year1``) from the year before's confirmed check, and last year's Year 1
    pupils who met the standard and are not checked again are Year 2 pupils of their school then (if it
    has confirmed this year's check, and they have not left it: see ``_still_on_roll``); for KS2 in the
    years DfE measures progress (``progress.PROGRESS_YEARS``), the pupils' KS1 teacher assessments
    from the KS1 collection four years before, else from the roster (CTFs carry them). Where both
    have one, the KS1 collection's counts (the first given is used)."""
    uploads = uploads_in_use(year, PRIMARY_KINDS[key_stage])
    pupils = _uploaded_pupils(uploads, year)
    results = _confirmed_results(uploads)
    upns = pupils.get_column("upn")
    if key_stage == "phonics" and pupils.height:
        last_year = uploads_in_use(year - PHONICS_YEARS_BEFORE, PRIMARY_KINDS["phonics"])
        earlier = _confirmed_results(last_year, [phonics.MARK])
        # Year 2's "met by the end of Year 2" counts every Year 2 pupil, and those who met the standard
        # in Year 1 are not checked again: last year's Year 1 pupils who met it, not in this year's
        # uploads, count as Year 2 pupils of last year's school, if that school has confirmed this
        # year's check (else its Year 2 would be last year's pupils alone).
        met = phonics.met_the_standard(earlier, primary_framework("phonics", year - PHONICS_YEARS_BEFORE))
        this_year = pupils.get_column("school_id").unique().implode()
        passed = _uploaded_pupils(last_year, year - PHONICS_YEARS_BEFORE).filter(
            (pl.col("nc_year") == 1)
            & pl.col("upn").is_in(met.implode())
            & ~pl.col("upn").is_in(upns.implode())
            & pl.col("school_id").is_in(this_year)
        )
        # DfE counts a Year 1 pass of a pupil "in the census in year 2": one who has left the school
        # since (by this year's rolls on the platform) is not its Year 2.
        passed = passed.join(_still_on_roll(year, passed), on=["school_id", "upn"], how="semi")
        pupils = pl.concat(
            [pupils, passed.with_columns(pl.lit(2, pl.Int64).alias("nc_year"))], how="vertical"
        )
        upns = pupils.get_column("upn")
        results = pl.concat(
            [
                results,
                earlier.filter(pl.col("upn").is_in(upns.implode())).with_columns(
                    pl.lit(phonics.YEAR1_MARK).alias("assessment")
                ),
            ]
        )
    if key_stage == "ks2" and year in progress.PROGRESS_YEARS:
        ks1 = _confirmed_results(
            uploads_in_use(year - KS1_TO_KS2_YEARS, PRIMARY_KINDS["ks1"]), KS1_TA.values()
        )
        on_roster = pupils.unpivot(
            index="upn", on=list(KS1_TA), variable_name="assessment", value_name="result"
        )
        on_roster = on_roster.filter(pl.col("result").str.strip_chars().fill_null("") != "").with_columns(
            pl.col("assessment").replace_strict(KS1_TA, return_dtype=pl.String)
        )
        results = pl.concat(
            [
                results,
                ks1.filter(pl.col("upn").is_in(upns.implode())),
                on_roster.select(list(_RESULTS_SCHEMA)),
            ]
        )
    years = {y for kind in PRIMARY_KINDS[key_stage] for y in KINDS[kind].nc_years}
    if len(years) == 1:  # a template without an NC year column (KS1's): the collection's year group
        pupils = pupils.with_columns(pl.col("nc_year").fill_null(years.pop()))
    columns = [
        "school",
        "school_id",
        "trust",
        "la",
        "upn",
        "nc_year",
        *_characteristics(year, mobility=False),
    ]
    return _with_background(
        results, pupils.select(columns), year, KEY_STAGES[key_stage].year_groups, "primary", columns
    )


def _still_on_roll(year: int, pupils: pl.DataFrame) -> pl.DataFrame:
    """(school_id, upn) of ``pupils`` who have not left their school by ``year``, by the platform's
    rolls of that year: a pupil marked as left there, or on another school's roll and not on theirs,
    has left; one on no roll of the year is taken as still there (nothing says otherwise)."""
    roll = _frame(
        Pupil.objects.filter(academic_year=year, nc_year=2)  # the year's Year 2 rolls
        .values_list("school_id", "upn", "on_roll")
        .iterator(chunk_size=5000),
        {"school_id": pl.Int64, "upn": pl.String, "on_roll": pl.Boolean},
    )
    keys = ["school_id", "upn"]
    own = pupils.select(keys).join(roll, on=keys, how="left")
    elsewhere = roll.filter(pl.col("on_roll")).select("upn").unique()
    stayed = pl.col("on_roll") | (
        pl.col("on_roll").is_null() & ~pl.col("upn").is_in(elsewhere.get_column("upn").implode())
    )
    return own.filter(stayed).select(keys)


# Storing ------------------------------------------------------------------------------------------

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


# Trends -------------------------------------------------------------------------------------------

KS4_TREND_MEASURES = ("a8", "p8", "ebacc_entry", "ebacc_aps", "em_4plus", "em_5plus")
# keystage's KS1-based value added, in the years without Progress 8 only.
KS4_GAP_TREND_MEASURES = ("ks1_va",)


def trend_table(
    key_stage: str,
    *,
    school: School | None = None,
    organisation_id: int | None = None,
    years: Iterable[int] | None = None,
) -> pl.DataFrame:
    """Every measure of a school (or trust or LA by ``organisation_id``, else the nation) year by year,
    from the latest complete run of each year that covers every school: one row per measure, and for
    each year its figure, the pupils it counts and the national figure, side by side
    (``<year> figure``, ``<year> pupils``, ``<year> national``), oldest year first. Years with no run
    are left out; a year whose run does not include the school has empty cells."""
    runs = MeasureRun.objects.filter(key_stage=key_stage, school__isnull=True, status=RunStatus.COMPLETE)
    if years is not None:
        runs = runs.filter(year__in=list(years))
    latest: dict[int, MeasureRun] = {}
    for run in runs.order_by("year", "computed_at", "pk"):
        latest[run.year] = run
    rows: list[tuple[int, str, float | None, int | None, float | None]] = []
    for year, run in sorted(latest.items()):
        rows.extend(_trend_rows(key_stage, run, school, organisation_id, year))
    long = pl.DataFrame(
        rows,
        schema={
            "year": pl.Int64,
            "measure": pl.String,
            "figure": pl.Float64,
            "pupils": pl.Int64,
            "national": pl.Float64,
        },
        orient="row",
    )
    measures = list(dict.fromkeys(long.get_column("measure").to_list()))
    table = pl.DataFrame({"measure": measures})
    for year in sorted(latest):
        one = long.filter(pl.col("year") == year).select(
            "measure",
            pl.col("figure").alias(f"{year} figure"),
            pl.col("pupils").alias(f"{year} pupils"),
            pl.col("national").alias(f"{year} national"),
        )
        table = table.join(one, on="measure", how="left", maintain_order="left")
    return table


def _trend_rows(
    key_stage: str, run: MeasureRun, school: School | None, organisation_id: int | None, year: int
) -> Iterator[tuple[int, str, float | None, int | None, float | None]]:
    where: dict[str, Any] = {"run": run, "group": "all", "value": "all"}
    if key_stage != KS4:
        national = PrimaryFigure.objects.national().filter(**where).first()
        if school is not None:
            mine = PrimaryFigure.objects.filter(school=school, **where).first()
        elif organisation_id is not None:
            mine = PrimaryFigure.objects.filter(organisation_id=organisation_id, **where).first()
        else:
            mine = national
        nation = national.figures if national is not None else {}
        for measure, entry in (mine.figures if mine is not None else nation).items():
            own = entry if mine is not None else {}
            yield year, measure, own.get("figure"), own.get("pupils"), nation.get(measure, {}).get("figure")
        return
    national_row = SchoolFigure.objects.national().filter(**where).first()
    if school is not None:
        row = SchoolFigure.objects.filter(school=school, **where).first()
    elif organisation_id is not None:
        row = SchoolFigure.objects.filter(organisation_id=organisation_id, **where).first()
    else:
        row = national_row
    gap = without_progress8(year) is not None
    for measure in (*KS4_TREND_MEASURES, *(KS4_GAP_TREND_MEASURES if gap else ())):
        counted = {"p8": "p8_pupils", "ks1_va": "ks1_va_pupils"}.get(measure, "cohort")
        pupils = None if row is None else getattr(row, counted)
        yield (
            year,
            measure,
            None if row is None else getattr(row, measure),
            pupils,
            None if national_row is None else getattr(national_row, measure),
        )


# The refresh --------------------------------------------------------------------------------------


def results_in_use_changed(upload: Upload) -> None:
    """Called by keystage.results.services when the results in use change: an upload confirmed, or the
    one in use deleted. The figures of its key stage and year are refreshed once the change is
    committed, and those of a later year that read these results and have been computed already
    (phonics the year after: Year 2's "met by the end of Year 2"; KS2 four years after: progress)."""
    collection = upload.collection
    key_stage = key_stages.key_stage_of(collection.kind)
    if key_stage is None:
        return
    year = collection.year
    later = key_stages.later_readers(key_stage, year)

    def refresh() -> None:
        queue_refresh(key_stage, year)
        for stage, later_year in later:
            if MeasureRun.objects.filter(key_stage=stage, year=later_year).exists():
                queue_refresh(stage, later_year)

    transaction.on_commit(refresh)


def _still_waiting(run: MeasureRun) -> bool:
    """Whether a queued refresh's task is still to start (if it was lost, another is queued)."""
    from django_tasks import TaskResultStatus

    from keystage.measures.tasks import refresh_measures

    if run.task_id:
        try:
            status = refresh_measures.get_result(run.task_id).status
        except Exception:  # the backend keeps no results, or lost this one: judge by age
            logger.debug("task result %s not found", run.task_id)
        else:
            return status in (TaskResultStatus.READY, TaskResultStatus.RUNNING)
    return run.queued_at is not None and run.queued_at > timezone.now() - LOST_AFTER


def queue_refresh(key_stage: str, year: int) -> MeasureRun | None:
    """Queue a refresh of the key stage's figures for the year, unless one is already queued and not
    started (debounced: many confirmations in a row make one refresh). Returns the queued run, or None."""
    from keystage.measures.tasks import refresh_measures

    waiting = MeasureRun.objects.filter(key_stage=key_stage, year=year, status=RunStatus.QUEUED).first()
    if waiting is not None:
        if _still_waiting(waiting):
            return None
        MeasureRun.objects.filter(pk=waiting.pk, status=RunStatus.QUEUED).update(
            status=RunStatus.FAILED, message="The queued refresh never started, so another was queued."
        )
    try:
        with transaction.atomic():
            run = MeasureRun.objects.create(
                key_stage=key_stage,
                year=year,
                status=RunStatus.QUEUED,
                source="refresh",
                queued_at=timezone.now(),
            )
    except IntegrityError:  # another confirmation queued one at the same moment
        return None
    result = refresh_measures.enqueue(key_stage, year)
    MeasureRun.objects.filter(pk=run.pk).update(task_id=str(result.id)[:64])
    run.task_id = str(result.id)[:64]
    return run


def run_queued_refresh(key_stage: str, year: int) -> MeasureRun | None:
    """The task's work: take the queued refresh of the key stage and year (so later confirmations
    queue a new one) and compute and store the figures. None when nothing is queued (another worker
    took it)."""
    with transaction.atomic():
        run = (
            MeasureRun.objects.select_for_update()
            .filter(key_stage=key_stage, year=year, status=RunStatus.QUEUED)
            .order_by("pk")
            .first()
        )
        if run is None:
            return None
        run.status = RunStatus.RUNNING
        run.started_at = timezone.now()
        run.save(update_fields=["status", "started_at"])
    try:
        if key_stage == KS4:
            stored = compute_and_store_ks4(year, run=run, source="refresh")[0]
        else:
            stored = compute_and_store_primary(key_stage, year, run=run, source="refresh")[0]
    except MeasuresError:
        run.refresh_from_db()
        return run
    return stored
