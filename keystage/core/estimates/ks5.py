"""KS5 (A level) outcomes: the national dataset KS4 to KS5 benchmark estimates are fitted on, its file
format, and the outcomes read from it.

The import format: a CSV (UTF-8, a header row) or Parquet file, one row per A level result of a student
in the year, with these columns (others are ignored):

    upn               the student's UPN (13 characters)
    institution       the DfE number (7 digits) of the school or college where the A level was taken
    sex               M or F
    month_of_birth    1-12
    disadvantaged     Y or N (empty: N); disadvantaged at the end of KS4
    ks4_aps           the student's KS4 average point score (the mean points of their KS4 subjects,
                      as keystage's KS4 measures work it out: GCSE 9-1 grades are their points)
    subject           the A level's subject, e.g. "Mathematics"
    grade             A*, A, B, C, D, E or U

A student's rows must agree on everything but subject and grade. A student with no A level (only
other level 3 qualifications) is simply not in the file.

Points: A*=60, A=50, B=40, C=30, D=20, E=10, U=0 (DfE's 16-18 performance points for A levels, 2016
on). The outcomes are the student's average points per A level (in bands of 5) and each subject's
grade for its students.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from keystage.core.estimates.datasets import FEWEST_ENTRANTS, OutcomeData, banded_outcome, graded_outcome
from keystage.core.estimates.model import EstimatesError, months_younger
from keystage.core.results import rules
from keystage.core.results.rules import Issue

KS5_COLUMNS = (
    "upn", "institution", "sex", "month_of_birth", "disadvantaged", "ks4_aps", "subject", "grade",
)  # fmt: skip
A_LEVEL_POINTS = {"U": 0.0, "E": 10.0, "D": 20.0, "C": 30.0, "B": 40.0, "A": 50.0, "A*": 60.0}
A_LEVEL_MARKS = (("grade C or above", 30.0), ("grade A or above", 50.0))
AVERAGE_MARKS = (("an average of grade C or above", 30.0), ("an average of grade A or above", 50.0))
_SCHEMA = {
    "upn": pl.String,
    "institution": pl.String,
    "sex": pl.String,
    "month_of_birth": pl.String,
    "disadvantaged": pl.String,
    "ks4_aps": pl.String,
    "subject": pl.String,
    "grade": pl.String,
}
_MOST_ERRORS_SHOWN = 5


class Ks5FileError(EstimatesError):
    """A KS5 outcomes file that cannot be read: ``issues`` are every kind of problem found (each with
    its first few rows), and str() says them all."""

    def __init__(self, issues: list[Issue], words: str | None = None) -> None:
        super().__init__(words or issues[0].message)
        self.issues = issues


def _refused(name: str, issues: list[Issue]) -> Ks5FileError:
    """Problems of the file's rows, said together after its name as one sentence."""
    words = "; ".join(issue.message for issue in issues)
    return Ks5FileError(issues, f"{name}: {words}" + ("" if words.endswith(".") else "."))


def read_ks5_outcomes(path: Path) -> pl.DataFrame:
    """The file's rows, checked and typed: upn, institution, sex, month_of_birth (Int8), disadvantaged
    (Boolean), ks4_aps (Float64), subject, grade, points (Float64). Raises Ks5FileError naming the
    rows (as numbered in the file, the header being row 1) of every kind of problem."""
    try:
        if path.suffix.lower() == ".parquet":
            raw = pl.read_parquet(path)
            raw = raw.cast({c: pl.String for c in KS5_COLUMNS if c in raw.columns}, strict=False)
        else:
            raw = pl.read_csv(path, infer_schema=False, encoding="utf8")
    except (OSError, pl.exceptions.PolarsError, UnicodeDecodeError) as error:
        raise Ks5FileError([rules.KS5_UNREADABLE.issue(file=path.name, reason=error)]) from None
    missing = [c for c in KS5_COLUMNS if c not in raw.columns]
    if missing:
        raise Ks5FileError([rules.KS5_COLUMNS_MISSING.issue(file=path.name, missing=", ".join(missing))])
    return check_ks5_rows(raw.select(*(pl.col(c).cast(t) for c, t in _SCHEMA.items())), path.name)


def check_ks5_rows(raw: pl.DataFrame, name: str = "the file") -> pl.DataFrame:
    rows = raw.with_row_index("_row", offset=2).with_columns(pl.col(c).str.strip_chars() for c in KS5_COLUMNS)
    typed = rows.with_columns(
        pl.col("sex").str.to_uppercase(),
        pl.col("month_of_birth").cast(pl.Int8, strict=False).alias("_month"),
        pl.col("ks4_aps").cast(pl.Float64, strict=False).alias("_aps"),
        pl.col("grade")
        .str.to_uppercase()
        .replace_strict(A_LEVEL_POINTS, default=None, return_dtype=pl.Float64)
        .alias("points"),
        pl.col("disadvantaged").fill_null("N").str.to_uppercase().alias("_disadvantaged"),
    )
    checks = {
        "a UPN of 13 characters": pl.col("upn").str.len_chars() == 13,
        "an institution's 7-digit DfE number": pl.col("institution").str.contains(r"^\d{7}$"),
        "sex M or F": pl.col("sex").is_in(["M", "F"]),
        "a month of birth 1-12": pl.col("_month").is_between(1, 12),
        "disadvantaged Y or N": pl.col("_disadvantaged").is_in(["Y", "N", ""]),
        "a KS4 average point score from 0 to 9": pl.col("_aps").is_between(0, 9),
        "a subject": pl.col("subject").str.len_chars() > 0,
        "a grade A*, A, B, C, D, E or U": pl.col("points").is_not_null(),
    }
    problems = []
    for wanted, ok in checks.items():
        bad = typed.filter(~ok.fill_null(False)).get_column("_row").to_list()
        if bad:
            shown = ", ".join(str(r) for r in bad[:_MOST_ERRORS_SHOWN]) + (
                " …" if len(bad) > _MOST_ERRORS_SHOWN else ""
            )
            problems.append(rules.KS5_ROW_CHECKS[wanted].issue(file=name, count=f"{len(bad):,}", rows=shown))
    if problems:
        raise _refused(name, problems)
    if typed.height == 0:
        raise Ks5FileError([rules.KS5_NO_RESULTS.issue(file=name)])
    students = typed.group_by("upn").agg(
        pl.struct("institution", "sex", "_month", "_disadvantaged", "_aps").n_unique().alias("_kinds"),
        pl.col("_row").min(),
    )
    twice = typed.filter(pl.struct("upn", "subject").is_duplicated()).get_column("_row").to_list()
    if twice:
        shown = ", ".join(str(r) for r in twice[:_MOST_ERRORS_SHOWN])
        raise _refused(name, [rules.KS5_SUBJECT_TWICE.issue(file=name, rows=shown)])
    split = students.filter(pl.col("_kinds") > 1)
    if split.height:
        shown = ", ".join(split.sort("_row").get_column("upn").head(_MOST_ERRORS_SHOWN).to_list())
        disagree = rules.KS5_ROWS_DISAGREE.issue(file=name, count=f"{split.height:,}", upns=shown)
        raise _refused(name, [disagree])
    return typed.select(
        "upn",
        "institution",
        "sex",
        pl.col("_month").alias("month_of_birth"),
        (pl.col("_disadvantaged") == "Y").alias("disadvantaged"),
        pl.col("_aps").alias("ks4_aps"),
        "subject",
        pl.col("grade").str.to_uppercase(),
        "points",
    )


def ks5_outcomes(results: pl.DataFrame) -> list[OutcomeData]:
    """KS4 to KS5: each student's average points per A level (bands of 5), then each subject's grade
    for subjects with ``FEWEST_ENTRANTS`` or more students. ``results``: ``read_ks5_outcomes`` rows
    (several years together: each institution-year should be its own ``institution``)."""
    students = results.group_by("upn").agg(
        pl.col("institution").first().alias("school"),
        pl.col("sex").first(),
        pl.col("month_of_birth").first(),
        pl.col("disadvantaged").first(),
        pl.col("ks4_aps").first().alias("prior"),
        pl.col("points").mean().alias("aps"),
    )
    base = students.select(
        "school",
        "upn",
        "prior",
        (pl.col("sex") == "F").alias("female"),
        months_younger(pl.col("month_of_birth")).alias("months_younger"),
        "disadvantaged",
        "aps",
    ).sort("upn")
    found = [
        banded_outcome(
            "A level average points", base, "aps", width=5, top=60, unit="A level points",
            marks=AVERAGE_MARKS, key="ks5_aps",
        )
    ]  # fmt: skip
    counts = results.group_by("subject").len().filter(pl.col("len") >= FEWEST_ENTRANTS).sort("subject")
    for subject in counts.get_column("subject"):
        taken = results.filter(pl.col("subject") == subject).select("upn", "points", "grade")
        frame = base.drop("aps").join(taken, on="upn", how="inner")
        try:
            found.append(
                graded_outcome(f"alevel:{subject}", f"A level {subject}", frame, marks=A_LEVEL_MARKS)
            )
        except EstimatesError:
            continue  # e.g. more grades than a graded outcome takes: no estimate of this subject
    return found
