"""The tables the measures pipeline takes, gathered from the database: every school's confirmed results of
a key stage and year with their pupils, the earlier years' results the figures read (keystage.core.
key_stages), and the year's synthetic national background where there is one.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import date
from typing import Any

import polars as pl

from keystage.core import key_stages
from keystage.core.measures import characteristics
from keystage.core.measures.ks4 import no_progress8
from keystage.core.measures.pipeline import (
    primary_framework,
)
from keystage.core.measures.primary import KEY_STAGES, phonics, progress
from keystage.core.results.kinds import KINDS
from keystage.measures.background import background_for, background_tables
from keystage.measures.models import KeyStage
from keystage.organisations.models import School
from keystage.pupils.models import Pupil
from keystage.results.models import Result, SubmittedPupil, Upload

logger = logging.getLogger(__name__)
KS4 = KeyStage.KS4.value
KS4_KINDS = key_stages.KEY_STAGES["ks4"].kinds


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
