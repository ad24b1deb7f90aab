"""The adjusted Progress 8 floors come from national figures, never from the pupils of a run: the same
40 pupils get the same adjusted P8 (each pupil's, and their school's) computed alone and beside 2,000
pupils of another school, from files (`keystage measures ks4 --results --pupils`) and from the
database (compute_and_store_ks4), with and without a national background; a run for one school uses
the national run's floors."""

from __future__ import annotations

from datetime import date, timedelta
from io import StringIO
from pathlib import Path
from statistics import NormalDist

import polars as pl
import pytest
from django.core.management import call_command
from django.utils import timezone

from keystage.core.measures.ks4.estimates import load_dfe_estimates
from keystage.core.synth import SynthSpec, generate
from keystage.measures import background as background_module
from keystage.measures import reference_choice, services
from keystage.measures.background import set_background
from keystage.measures.models import PupilFigure, SchoolFigure
from keystage.pupils.models import Pupil
from keystage.results.models import Collection, Result, SubmittedPupil, Upload, UploadStatus
from tests.core.reference.test_ks4_catalogue import DFE_2019

YEAR = 2024  # a summer DfE measures Progress 8 for
RELEASE = "2024prov"
ESTIMATES = "dfe-2024-provisional"
QANS = ("60146084", "60142923", "60144476", "6018758X", "60182179", "60181576", "60180882")
NO_RESULTS = (7, 19, 33)  # pupils who took nothing: P8 far below any floor


def published_floor() -> float:
    """DfE's national SD of P8 in the release, 1% of a normal distribution below 0."""
    sd = load_dfe_estimates(reference_choice.progress8_base_folder(), RELEASE).sd["p8"]
    return -NormalDist().inv_cdf(0.99) * sd


def our_pupils(prefix: str = "H") -> tuple[pl.DataFrame, pl.DataFrame]:
    """40 pupils of one school: KS2 from 100 to 112, grades from 2 to 8; three took nothing."""
    pupils, results = [], []
    for n in range(40):
        upn = f"{prefix}{8004001:07d}{n:05d}"
        pupils.append({"upn": upn, "ks2_reading": 100.0 + n % 13, "ks2_maths": 101.0 + n % 11})
        if n in NO_RESULTS:
            continue
        for k, qan in enumerate(QANS):
            grade = 2 + (n + k) % 7
            results.append({"upn": upn, "qan": qan, "grade": f"{grade}{grade}" if k == 3 else str(grade)})
    return pl.DataFrame(pupils), pl.DataFrame(results)


def other_pupils(count: int = 2000) -> tuple[pl.DataFrame, pl.DataFrame]:
    """``count`` Year 11 pupils (and their results) of a synthetic year, as one other school's."""
    year = generate(SynthSpec.at_scale("small", year=YEAR, seed=23))
    pupils = (
        year.pupils.filter(pl.col("nc_year") == 11)
        .sort("upn")
        .head(count)
        .select("upn", "ks2_reading", "ks2_maths")
    )
    results = year.ks4_results.join(pupils.select("upn"), on="upn", how="semi").select("upn", "qan", "grade")
    assert pupils.height == count
    return pupils, results


# From files ---------------------------------------------------------------------------------------


def run_files(
    tmp_path: Path, name: str, pupils: pl.DataFrame, results: pl.DataFrame
) -> tuple[str, Path, Path]:
    pupils_csv, results_csv = tmp_path / f"{name}-pupils.csv", tmp_path / f"{name}-results.csv"
    pupils.write_csv(pupils_csv)
    results.with_columns(pl.lit(f"{YEAR}-06-10").alias("exam_date")).write_csv(results_csv)
    pupil_out, school_out = tmp_path / f"{name}-pupil-out.csv", tmp_path / f"{name}-school-out.csv"
    printed = StringIO()
    call_command(
        "measures",
        "ks4",
        "--results",
        str(results_csv),
        "--pupils",
        str(pupils_csv),
        "--catalogue",
        str(DFE_2019),
        "--estimates",
        ESTIMATES,
        "--pupil-out",
        str(pupil_out),
        "--school-out",
        str(school_out),
        stdout=printed,
    )
    return printed.getvalue(), pupil_out, school_out


@pytest.mark.django_db
def test_from_files_the_same_pupils_get_the_same_adjusted_p8_alone_and_beside_others(tmp_path):
    ours, our_results = our_pupils()
    others, other_results = other_pupils()
    ours = ours.with_columns(pl.lit("OURS").alias("school"))
    others = others.with_columns(pl.lit("OTHER").alias("school"))

    alone_text, alone_pupils, alone_schools = run_files(tmp_path, "alone", ours, our_results)
    both_text, both_pupils, both_schools = run_files(
        tmp_path, "beside", pl.concat([ours, others]), pl.concat([our_results, other_results])
    )

    columns = ["upn", "p8", "p8_adjusted", "p8_was_adjusted"]
    read = {"schema_overrides": {"upn": pl.String}}
    alone = pl.read_csv(alone_pupils, **read).select(columns).sort("upn")
    beside = pl.read_csv(both_pupils, **read).filter(pl.col("school") == "OURS").select(columns).sort("upn")
    assert alone.height == 40 and alone.equals(beside)
    # The pupils who took nothing are raised to the floor set from DfE's published figures.
    raised = alone.filter(pl.col("p8_was_adjusted"))
    assert raised.height == len(NO_RESULTS)
    assert raised.get_column("p8_adjusted").to_list() == pytest.approx([published_floor()] * len(NO_RESULTS))
    assert (raised.get_column("p8") < raised.get_column("p8_adjusted")).all()

    def school_p8(path: Path) -> tuple[float, float, float, int]:
        row = (
            pl.read_csv(path, schema_overrides={"school": pl.String})
            .filter((pl.col("school") == "OURS") & (pl.col("group") == "all"))
            .row(0, named=True)
        )
        return row["p8"], row["p8_ci_low"], row["p8_ci_high"], row["pupils_adjusted"]

    assert school_p8(alone_schools) == school_p8(both_schools)
    assert school_p8(alone_schools)[3] == len(NO_RESULTS)
    for printed in (alone_text, both_text):
        assert "Progress 8 floors" in printed and "from DfE's published figures" in printed
        assert "own Progress 8 distribution" not in printed


# From the database --------------------------------------------------------------------------------


def store_upload(school, pupils: pl.DataFrame, results: pl.DataFrame) -> Upload:
    """The school's confirmed KS4 upload of YEAR in use, with its roster (as a school's MIS and the
    results service leave them), written straight to the tables compute_and_store_ks4 reads."""
    now = timezone.now()
    collection, _ = Collection.objects.get_or_create(
        kind="ks4-gcse",
        year=YEAR,
        defaults={
            "opens_at": now - timedelta(days=30),
            "provisional_deadline": now - timedelta(days=20),
            "final_deadline": now - timedelta(days=10),
        },
    )
    upload = Upload.objects.create(
        collection=collection,
        school=school,
        filename="results.xlsx",
        sha256="0" * 64,
        status=UploadStatus.SUCCESSFUL,
        in_use=True,
        confirmed_at=now,
    )
    rows = list(pupils.iter_rows(named=True))
    Pupil.objects.bulk_create(
        Pupil(
            school=school,
            academic_year=YEAR,
            upn=row["upn"],
            surname="Pupil",
            forename=str(n),
            date_of_birth=date(YEAR - 16, 1 + n % 12, 1),
            sex="FM"[n % 2],
            nc_year=11,
            ks2_reading=row["ks2_reading"],
            ks2_maths=row["ks2_maths"],
            fsm6=n % 3 == 1,
            eal=False,
            ethnicity="WBRI",
            joined_on=date(YEAR - 5, 9, 1),
        )
        for n, row in enumerate(rows)
    )
    submitted = SubmittedPupil.objects.bulk_create(
        SubmittedPupil(
            upload=upload,
            row=n + 2,
            upn=row["upn"],
            forename=str(n),
            surname="Pupil",
            date_of_birth=date(YEAR - 16, 1 + n % 12, 1),
            sex="FM"[n % 2],
            nc_year=11,
        )
        for n, row in enumerate(rows)
    )
    by_upn = {p.upn: p for p in submitted}
    Result.objects.bulk_create(
        Result(upload=upload, pupil=by_upn[upn], subject=qan, qan=qan, value=grade)
        for upn, qan, grade in results.unique(subset=["upn", "qan"], keep="first").iter_rows()
    )
    return upload


def stored(run, school) -> tuple[dict[str, tuple[float | None, bool | None]], tuple[float, float, int]]:
    pupils = {
        f.upn: (f.p8_adjusted, f.p8_was_adjusted) for f in PupilFigure.objects.filter(run=run, school=school)
    }
    row = SchoolFigure.objects.get(run=run, school=school, group="all", value="all")
    return pupils, (row.p8, row.p8_ci_low, row.pupils_adjusted)


def alone_beside_and_scoped(world):
    """School One's 40 pupils worked out alone, then School Three's 2,000 confirmed too and worked out
    again (every school, and School One alone): what each run stored for School One."""
    ours, our_results = our_pupils()
    store_upload(world.s1, ours, our_results)
    alone, _figures = services.compute_and_store_ks4(YEAR, estimates=ESTIMATES)
    others, other_results = other_pupils()
    store_upload(world.s3, others, other_results)
    beside, _figures = services.compute_and_store_ks4(YEAR, estimates=ESTIMATES)
    scoped, _figures = services.compute_and_store_ks4(YEAR, school=world.s1, estimates=ESTIMATES)
    assert (alone.pupils, beside.pupils, scoped.pupils) == (40, 2040, 40)
    return alone, beside, scoped


def test_from_the_database_without_a_national_cohort_the_floors_are_dfes_published_ones(world, ks4_catalogue):
    alone, beside, scoped = alone_beside_and_scoped(world)
    first = stored(alone, world.s1)
    assert stored(beside, world.s1) == first == stored(scoped, world.s1)
    raised = {upn: p8 for upn, (p8, was) in first[0].items() if was}
    assert len(raised) == len(NO_RESULTS) and first[1][2] == len(NO_RESULTS)
    assert list(raised.values()) == pytest.approx([published_floor()] * len(NO_RESULTS))
    for run in (alone, beside, scoped):
        assert "from DfE's published figures" in run.message


def test_from_the_database_a_national_background_sets_the_floors_once_for_the_year(
    world, ks4_catalogue, monkeypatch
):
    set_background(YEAR, scale="small", seed=31, schools=[])
    scored = []
    engine = background_module.pupil_measures

    def counting(*args, **kwargs):
        scored.append(args[1].height)
        return engine(*args, **kwargs)

    monkeypatch.setattr(background_module, "_FLOORS", {})
    monkeypatch.setattr(background_module, "pupil_measures", counting)
    alone, beside, scoped = alone_beside_and_scoped(world)
    first = stored(alone, world.s1)
    assert stored(beside, world.s1) == first == stored(scoped, world.s1)
    assert len(scored) == 1  # the background's floors, worked out once for the three runs
    raised = [p8 for p8, was in first[0].values() if was]
    assert raised and first[1][2] == len(raised)
    # Not the published floor: the background's own groups' spreads set them, as DfE's do.
    assert raised != pytest.approx([published_floor()] * len(raised))
    for run in (alone, beside, scoped):
        assert "pupils of the year's national cohort (Synthetic small-scale background" in run.message
