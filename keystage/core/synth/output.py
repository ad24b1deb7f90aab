"""Writing a synthetic year as files: rosters and results in the formats keystage reads, and CTFs."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import polars as pl

from keystage.core.ctf.model import (
    CTFDocument,
    CTFHeader,
    CTFPupil,
    SchoolRef,
    StageResult,
    ctf_filename,
    ctf_version,
    la_destination,
    mapping_for,
)
from keystage.core.ctf.writer import write_ctf
from keystage.core.measures.characteristics import disadvantaged, ethnicity_group
from keystage.core.pupils.roster_csv import RosterRead, read_roster_csv
from keystage.core.synth.generator import SynthYear

ROSTER_COLUMNS = [
    "upn", "surname", "forename", "date_of_birth", "sex", "nc_year", "fsm6", "looked_after",
    "adopted_from_care", "sen", "eal", "ethnicity", "joined_on", "ks2_reading", "ks2_maths",
    "ks1_reading", "ks1_writing", "ks1_maths",
]  # fmt: skip


KS1_ON_ROSTER = {
    "ks1_reading_ta": "ks1_reading",
    "ks1_writing_ta": "ks1_writing",
    "ks1_maths_ta": "ks1_maths",
}


def ks1_on_roster(primary_results: pl.DataFrame, pupils: pl.DataFrame) -> pl.DataFrame:
    """The KS1 teacher assessments of ``pupils`` (upn) as the roster holds them: upn, ks1_reading,
    ks1_writing, ks1_maths (null where a pupil has none)."""
    ks1 = (
        primary_results.filter(pl.col("assessment").is_in(list(KS1_ON_ROSTER)))
        .join(pupils.select("upn"), on="upn", how="semi")
        .pivot(on="assessment", index="upn", values="result", aggregate_function="first")
        .rename(lambda name: KS1_ON_ROSTER.get(name, name))
    )
    return ks1.with_columns(
        pl.lit(None, dtype=pl.String).alias(c) for c in KS1_ON_ROSTER.values() if c not in ks1.columns
    ).select("upn", *KS1_ON_ROSTER.values())


def roster_frame(year: SynthYear) -> pl.DataFrame:
    """Pupils in the roster CSV format (keystage/core/pupils/roster_csv.py), with each school's DfE number.
    Pupils past Year 2 carry their KS1 teacher assessments, as an MIS holds them (from the KS1 CTF)."""
    yes_no = {True: "Y", False: "N"}
    flags = ("fsm6", "looked_after", "adopted_from_care", "eal")
    ks1 = ks1_on_roster(year.primary_results, year.pupils.filter(pl.col("nc_year") > 2).select("upn"))
    return (
        year.pupils.join(year.schools.select("school_id", "dfe_number"), on="school_id")
        .join(ks1, on="upn", how="left")
        .with_columns(
            *[pl.col(flag).replace_strict(yes_no, return_dtype=pl.String) for flag in flags],
            pl.when(pl.col("nc_year") == 0)
            .then(pl.lit("R"))
            .otherwise(pl.col("nc_year").cast(pl.String))
            .alias("nc_year"),
        )
        .select("dfe_number", *ROSTER_COLUMNS)
    )


def rosters_by_school(year: SynthYear) -> dict[str, RosterRead]:
    """Each school's synthetic roster, read through the roster reader so it is checked like any file."""
    rosters = roster_frame(year)
    return {
        dfe: read_roster_csv(frame.drop("dfe_number").write_csv().encode())
        for (dfe,), frame in rosters.group_by("dfe_number", maintain_order=True)
    }


def write_files(year: SynthYear, directory: Path, *, per_school: bool = False) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    targets = {
        "schools.csv": year.schools,
        "pupils.csv": roster_frame(year),
        "ks4_results.csv": year.ks4_results,
        "primary_results.csv": year.primary_results,
    }
    for name, frame in targets.items():
        frame.write_csv(directory / name)
        written.append(directory / name)
    if per_school:
        rosters = directory / "rosters"
        rosters.mkdir(exist_ok=True)
        for (dfe,), frame in roster_frame(year).group_by("dfe_number"):
            path = rosters / f"{dfe}.csv"
            frame.drop("dfe_number").write_csv(path)
            written.append(path)
    return written


def _year_taken(year: int, assessment: str, nc_year: str) -> int:
    """The year a result was assessed: a Year 2 pupil's Year 1 check the year before, a later year
    group's KS1 assessments in its Year 2 (four years before for Year 6), anything else this year."""
    if assessment == "phonics_mark_year1":
        return year - 1
    if assessment.startswith("ks1_") and nc_year.isdigit() and int(nc_year) > 2:
        return year - (int(nc_year) - 2)
    return year


def write_ctfs(year: SynthYear, directory: Path) -> list[Path]:
    """A CTF per primary school to its LA, with the pupils' results, as an MIS would send them."""
    mapping = mapping_for(year.spec.year)
    directory.mkdir(parents=True, exist_ok=True)
    results = year.primary_results.group_by("upn").agg(pl.col("assessment"), pl.col("result"))
    pupils = roster_frame(year).join(results, on="upn", how="left")
    written = []
    primary = year.schools.filter(pl.col("phase") == "primary")
    for school in primary.iter_rows(named=True):
        source = SchoolRef(
            la=school["la_code"],
            estab=school["dfe_number"][3:],
            urn=str(school["urn"]),
            name=school["name"],
            academic_year=year.spec.year - 1,
        )
        destination = la_destination(school["la_code"])
        ctf_pupils = []
        for row in pupils.filter(pl.col("dfe_number") == school["dfe_number"]).iter_rows(named=True):
            stage_results = []
            for assessment, value in zip(row["assessment"] or [], row["result"] or [], strict=True):
                taken = _year_taken(year.spec.year, assessment, row["nc_year"])
                entry = mapping.entry_for(
                    "phonics_mark" if assessment == "phonics_mark_year1" else assessment
                )
                if entry is not None:
                    stage_results.append(
                        StageResult(
                            entry.stage,
                            "ENG",
                            str(taken),
                            entry.subject,
                            entry.method,
                            entry.component,
                            "R",
                            entry.result_qualifier,
                            value,
                        )
                    )
            ctf_pupils.append(
                CTFPupil(
                    upn=row["upn"],
                    surname=row["surname"],
                    forename=row["forename"],
                    date_of_birth=row["date_of_birth"],
                    sex=row["sex"],
                    nc_year=row["nc_year"],
                    ethnicity=row["ethnicity"],
                    sen_provision=row["sen"],
                    first_language="" if row["eal"] is None else ("OTH" if row["eal"] == "Y" else "ENG"),
                    fsm_eligible=True if row["fsm6"] == "Y" else None,
                    in_care=row["looked_after"] == "Y" or None,
                    results=tuple(stage_results),
                )
            )
        header = CTFHeader(
            version=ctf_version(year.spec.year),
            generated_at=datetime(year.spec.year, 7, 10, 9, 0),
            document_qualifier="partial",
            supplier_id="keystage-synth",
            source=source,
            destination=destination,
        )
        path = directory / ctf_filename(source, destination, 1)
        path.write_bytes(write_ctf(CTFDocument(header, ctf_pupils)))
        written.append(path)
    return written


def measures_pupils(year: SynthYear, year_groups: tuple[int, ...], *columns: str | pl.Expr) -> pl.DataFrame:
    """The synthetic year's pupils in ``year_groups`` as the measures take them: school (DfE number),
    upn, ``columns``, then the pupil groups' characteristics."""
    schools = year.schools.select("school_id", pl.col("dfe_number").alias("school"))
    return (
        year.pupils.filter(pl.col("nc_year").is_in(year_groups))
        .join(schools, on="school_id", how="left")
        .select(
            "school",
            "upn",
            *columns,
            "sex",
            disadvantaged(),
            "sen",
            "eal",
            ethnicity_group(),
            pl.col("date_of_birth").dt.month().cast(pl.Int8).alias("month_of_birth"),
        )
    )


def ks4_measures_pupils(year: SynthYear) -> pl.DataFrame:
    """Year 11 of the synthetic year, with KS2 and whether each pupil joined before Year 10."""
    joined_before_year_10 = pl.col("joined_on") < date(year.spec.year - 2, 10, 1)
    return measures_pupils(year, (11,), "ks2_reading", "ks2_maths", joined_before_year_10.alias("non_mobile"))
