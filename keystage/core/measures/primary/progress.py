"""KS2 progress from KS1 in reading, writing and maths: each pupil's KS2 score against the mean KS2 score
of the pupils nationally with the same KS1 prior attainment, as DfE measured it for KS2 in 2016-2019
and 2022-2023. The measure returns for KS2 in 2025/26 and 2026/27, whose pupils had KS1 assessments
(DfE, "Primary school accountability in 2025: technical guide"); from 2027/28 the baseline is the
Reception Baseline Assessment.

The numbers (KS1 points, KS2 nominal scores, writing points) are data, each with its source, in
``keystage/core/reference/data/ks2_progress.toml``; "[check]" marks what is second-hand or inferred.
Confidence: [DfE] DfE's own text; [2nd] a schools' data service, consultant or vendor quoting DfE;
[inf] our inference. The rules, in order:

1. KS1 average point score (APS). Each of the pupil's KS1 teacher assessments in reading, writing and
   maths (results ``ks1_reading_ta``, ``ks1_writing_ta``, ``ks1_maths_ta``, in the same results table
   as the KS2 results) is given its points from the table ``ks1_points`` (GDS 10, EXS 8, WTS 6, PK4
   and the older PKF 4, PK3 3.5, PK2 3, PK1 2.5 [check, 2nd]). APS = mean(mean(reading, writing),
   maths), so maths counts double [2nd: hfleducation.org 2022, "reading and writing are first averaged
   to produce an English score, then this is averaged with the maths"]. A pupil without a result with
   points in all three (A, D, M at KS1 [2nd: NCER's KS1-KS2 progress methodology, from DfE's 2022
   guide]; Q, EM, BLW, a missing or unknown result [inf, check]), or with no KS1 at all, has no APS and
   is left out of progress in every subject.
2. Prior attainment group (PAG): pupils with the same APS form a group, numbered from 1 (the lowest APS
   the points table can give) upwards, over every APS the table can give, so a group's number depends
   only on the table, never on the pupils. [check] DfE bands APS values into about 19 to 24 groups
   (19 in 2022/23 [2nd]); we do not have its band table. ``prior_attainment_group`` holds this rule
   alone, so a band table can replace it.
3. KS2 score, per subject:
   - reading and maths: the test scaled score (80-120). Without one: a test result in
     ``test_without_score`` (NS, sat the test without reaching a scaled score: 79 [2nd: sigplus 2022])
     gives that nominal score; a test result in ``below_test_results`` (B, working below the test) or
     no test result gives the nominal score of the pupil's KS2 teacher assessment (``ks2_reading_ta``,
     ``ks2_maths_ta``) from ``below_test`` (PK6 79 down to PK1 64 [check, 2nd: DfE's 2019 values as
     Juniper/Sisra tabulate them]). Anything else is left out of the subject: A (absent), M
     (missing), Q (maladministration), T (unable to access), AS, L (left) [inf: no score to measure;
     DfE leaves A, Q, M and L out], a B pupil whose teacher assessment has no nominal score (EM, A,
     none) [check], and an unknown result.
   - writing: the teacher assessment's points from ``writing`` (GDS 113, EXS 103, WTS 91 [check, 2nd:
     sigplus 2017 quoting DfE's 2016/17 guide]; PK6-PK1 as reading and maths [check, inf]). A, L, F,
     P, EM and anything else are left out of writing.
4. Expected score: the mean KS2 score of all the pupils given (the nation) in the same PAG with a score
   in the subject; pupil progress (``ks2_<subject>_progress_unadjusted``) = KS2 score - expected
   score [2nd: hub4leaders, hfleducation]. Means are exact sums of fixed-point values (1e-9), so the
   order of rows never changes a figure.
5. Floor on extreme negative scores (DfE from 2018 [DfE via 2nd: sigplus 2018/04, the minimum score of
   each PAG is "fixed at a set number of standard deviations below the mean so that approximately 1%
   of pupils are identified nationally"]): per subject, one k for all PAGs, chosen from the pupils
   given so that the number of pupils more than k PAG standard deviations (ddof 1) below their PAG's
   mean is as close as possible to 1% of the pupils with a score; a PAG's floor is its mean progress
   minus k SDs; a pupil below the floor is raised to it (``ks2_<subject>_progress``, the headline, with
   ``ks2_<subject>_progress_was_adjusted``). A PAG of one pupil, or whose pupils all score the same,
   raises nobody. No cap on positive scores. The method is KS4's (``ks4.estimates.national_floors``).
6. School (trust, LA, national) progress: the mean of its pupils' adjusted progress (``Mean`` in
   ``ks2.MEASURES``). ``progress_confidence`` adds the 95% confidence interval, progress +/- 1.96 *
   the national standard deviation (ddof 1) of pupils' adjusted progress in the subject / sqrt(pupils)
   [inf, check: from memory of Annex A of DfE's guide; whether DfE's SD is of adjusted scores is not
   confirmed], and significance as KS4 words it: "above" (the interval wholly above 0), "below"
   (wholly below), "not significant".
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from dataclasses import dataclass
from itertools import product
from pathlib import Path
from typing import Any

import polars as pl

from keystage.core.measures.ks4.estimates import national_floors
from keystage.core.measures.ks4.schools import Z_95, significance
from keystage.core.measures.primary.results import score
from keystage.core.reference.frameworks import Framework
from keystage.core.reference.toml_files import read_toml
from keystage.core.refusals import Refused

DATA_FILE = Path(__file__).parents[2] / "reference" / "data" / "ks2_progress.toml"

# The KS2 years (by their end) whose progress DfE measures from KS1 under the KS1 framework of 2016 on,
# which these points are for: KS1 in 2018, 2019, 2022 and 2023. None in 2024 and 2025 (KS1 was not
# assessed in 2020 and 2021) and none from 2028 (the Reception Baseline Assessment) [DfE: "Primary
# school accountability in 2025: technical guide"].
PROGRESS_YEARS = (2022, 2023, 2026, 2027)
SUBJECTS = ("reading", "writing", "maths")
KS1_ASSESSMENTS = tuple(f"ks1_{s}_ta" for s in SUBJECTS)
FLOOR_SHARE = 0.01  # about 1% of pupils nationally below their PAG's floor
_SCALE = 1_000_000_000

COLUMNS: tuple[str, ...] = (
    "ks1_aps",
    "ks2_pag",
    *(
        column
        for s in SUBJECTS
        for column in (
            f"ks2_{s}_progress",
            f"ks2_{s}_progress_unadjusted",
            f"ks2_{s}_progress_was_adjusted",
        )
    ),
)
"""The pupil columns ``with_progress`` adds (null where a pupil has no progress)."""

_SCHEMA: dict[str, Any] = {
    "ks1_aps": pl.Float64,
    "ks2_pag": pl.Int64,
    **{
        column: pl.Boolean if column.endswith("_was_adjusted") else pl.Float64
        for column in COLUMNS
        if column.startswith("ks2_") and column != "ks2_pag"
    },
}


class ProgressTableError(Refused, ValueError):
    """A point table that cannot be used; str() names the file and what is wrong."""


@dataclass(frozen=True)
class Value:
    """One value of a point table, with where it comes from."""

    code: str
    value: float
    source: str

    @property
    def check(self) -> bool:
        """Whether the source is second-hand or inferred (marked "[check]")."""
        return "[check]" in self.source


@dataclass(frozen=True)
class ProgressTables:
    """The point tables of ``ks2_progress.toml``, each code to its value."""

    ks1_points: Mapping[str, Value]
    test_without_score: Mapping[str, Value]
    below_test: Mapping[str, Value]
    writing: Mapping[str, Value]
    below_test_results: tuple[str, ...]

    @staticmethod
    def numbers(table: Mapping[str, Value]) -> dict[str, float]:
        return {code: v.value for code, v in table.items()}

    def possible_aps(self) -> list[float]:
        """Every KS1 APS the points can give, lowest first."""
        points = sorted(set(self.numbers(self.ks1_points).values()))
        return sorted({_aps(r, w, m) for r, w, m in product(points, repeat=3)})


def _aps(reading: float, writing: float, maths: float) -> float:
    # Written as the polars expression computes it, so both give the same floating-point number.
    return ((reading + writing) / 2 + maths) / 2


def _values(data: Mapping[str, Any], key: str, number: str, where: str) -> dict[str, Value]:
    rows = data.get(key)
    if not isinstance(rows, list) or not rows:
        raise ProgressTableError(f"{where}: “{key}” must be a non-empty list of tables ([[{key}]])")
    values: dict[str, Value] = {}
    for row in rows:
        if not isinstance(row, Mapping):
            raise ProgressTableError(f"{where}: each {key} entry must be a table")
        code, amount, source = row.get("code"), row.get(number), row.get("source")
        if not isinstance(code, str) or not code.strip():
            raise ProgressTableError(f"{where}: a {key} entry has no code")
        code = code.strip().upper()
        if isinstance(amount, bool) or not isinstance(amount, int | float) or not math.isfinite(amount):
            raise ProgressTableError(f"{where}: {key} {code} needs a number “{number}”")
        if not isinstance(source, str) or not source.strip():
            raise ProgressTableError(f"{where}: {key} {code} needs a source")
        if code in values:
            raise ProgressTableError(f"{where}: {key} {code} appears twice")
        values[code] = Value(code, float(amount), source.strip())
    return values


def parse_tables(data: Mapping[str, Any], where: str = "<data>") -> ProgressTables:
    """The tables from the parsed contents of the TOML file, or ProgressTableError saying what is wrong."""
    below = data.get("below_test_results", [])
    if not isinstance(below, list) or not all(isinstance(code, str) for code in below):
        raise ProgressTableError(f'{where}: “below_test_results” must be a list of codes, e.g. ["B"]')
    return ProgressTables(
        ks1_points=_values(data, "ks1_points", "points", where),
        test_without_score=_values(data, "test_without_score", "score", where),
        below_test=_values(data, "below_test", "score", where),
        writing=_values(data, "writing", "score", where),
        below_test_results=tuple(code.strip().upper() for code in below),
    )


@functools.cache
def load_tables(path: Path = DATA_FILE) -> ProgressTables:
    """The point tables shipped with keystage (or in ``path``)."""
    return parse_tables(read_toml(path, ProgressTableError), str(path))


def ks1_aps(tables: ProgressTables) -> pl.Expr:
    """The pupil's KS1 APS: mean(mean(reading, writing), maths) of the KS1 teacher assessment points;
    null unless all three have points."""
    points = tables.numbers(tables.ks1_points)
    reading, writing, maths = (
        pl.col(code).replace_strict(points, default=None, return_dtype=pl.Float64) for code in KS1_ASSESSMENTS
    )
    return ((reading + writing) / 2 + maths) / 2


def prior_attainment_group(aps: pl.Expr, tables: ProgressTables) -> pl.Expr:
    """The pupil's PAG from their KS1 APS: pupils with the same APS form a group, numbered 1, 2, ...
    over every APS the points table can give, lowest first; null without an APS. [check] DfE bands
    APS into about 19-24 groups; its band table would replace this function."""
    possible = tables.possible_aps()
    return aps.replace_strict(
        possible, list(range(1, len(possible) + 1)), default=None, return_dtype=pl.Int64
    )


def ks2_score(subject: str, framework: Framework, tables: ProgressTables) -> pl.Expr:
    """The pupil's KS2 score in ``subject`` for progress (module docstring, rule 3); null when the
    pupil is left out of the subject."""
    if subject == "writing":
        writing = tables.numbers(tables.writing)
        return pl.col("ks2_writing_ta").replace_strict(writing, default=None, return_dtype=pl.Float64)
    paper = framework.assessment(f"ks2_{subject}_test")
    test = pl.col(paper.code)
    nominal = tables.numbers(tables.test_without_score)
    below = tables.numbers(tables.below_test)
    teacher = pl.col(f"ks2_{subject}_ta").replace_strict(below, default=None, return_dtype=pl.Float64)
    scaled = score(paper, paper.code)
    return (
        pl.when(scaled.is_not_null())
        .then(scaled)
        .when(test.is_in(list(nominal)))
        .then(test.replace_strict(nominal, default=None, return_dtype=pl.Float64))
        .when(test.is_null() | test.is_in(list(tables.below_test_results)))
        .then(teacher)
        .otherwise(None)
        .cast(pl.Float64)
    )


# The results progress reads, as columns of the pupils table.
RESULT_COLUMNS = (
    *KS1_ASSESSMENTS,
    "ks2_reading_test",
    "ks2_maths_test",
    "ks2_reading_ta",
    "ks2_maths_ta",
    "ks2_writing_ta",
)


def with_progress(
    table: pl.DataFrame, framework: Framework, tables: ProgressTables | None = None
) -> pl.DataFrame:
    """``table`` (one row per pupil: the nation, or whoever is given, with their KS1 and KS2 results
    as columns named like the assessments) with the columns of ``COLUMNS`` added. Expected scores and
    floors come from the pupils of ``table``; the order of its rows changes nothing."""
    tables = tables or load_tables()
    missing = [c for c in RESULT_COLUMNS if c not in table.columns]
    if missing:
        raise ValueError(f"the pupils table lacks the result column(s) {', '.join(missing)}")
    frame = table.drop([c for c in COLUMNS if c in table.columns]).with_columns(
        ks1_aps(tables).alias("ks1_aps")
    )
    frame = frame.with_columns(prior_attainment_group(pl.col("ks1_aps"), tables).alias("ks2_pag"))
    for subject in SUBJECTS:
        frame = _subject_progress(frame, subject, ks2_score(subject, framework, tables))
    return frame.with_columns(pl.col(name).cast(dtype) for name, dtype in _SCHEMA.items())


def _subject_progress(frame: pl.DataFrame, subject: str, ks2: pl.Expr) -> pl.DataFrame:
    """Progress in one subject: the score against its PAG's mean, then the floor."""
    name = f"ks2_{subject}_progress"
    counted = pl.when(pl.col("ks2_pag").is_not_null()).then(ks2)
    fixed = (pl.col("_score") * _SCALE).round().cast(pl.Int64)
    frame = frame.with_columns(counted.alias("_score")).with_columns(
        (
            pl.col("_score")
            - fixed.sum().over("ks2_pag") / (pl.col("_score").count().over("ks2_pag").cast(pl.Int64) * _SCALE)
        ).alias(f"{name}_unadjusted")
    )
    scores = frame.select(
        pl.col("ks2_pag").alias("pag"), pl.col(f"{name}_unadjusted").alias("p8")
    ).drop_nulls()
    unadjusted = pl.col(f"{name}_unadjusted")
    if scores.height == 0:
        return frame.drop("_score").with_columns(
            unadjusted.alias(name), pl.lit(None, pl.Boolean).alias(f"{name}_was_adjusted")
        )
    floors = national_floors(scores, share=FLOOR_SHARE).rename({"pag": "ks2_pag", "p8_floor": "_floor"})
    below = unadjusted < pl.col("_floor")
    return (
        frame.join(floors, on="ks2_pag", how="left", maintain_order="left")
        .with_columns(
            pl.when(below).then(pl.col("_floor")).otherwise(unadjusted).alias(name),
            pl.when(unadjusted.is_null())
            .then(None)
            .otherwise(below.fill_null(False))
            .alias(f"{name}_was_adjusted"),
        )
        .drop("_score", "_floor")
    )


def national_sd(pupils: pl.DataFrame, subject: str) -> float | None:
    """The standard deviation (ddof 1) of the pupils' adjusted progress in ``subject``; None with fewer
    than two pupils. The values are sorted first, so row order never changes it."""
    values = pupils.get_column(f"ks2_{subject}_progress").cast(pl.Float64).drop_nulls().drop_nans().sort()
    if values.len() < 2:
        return None
    sd = values.std(ddof=1)
    return float(sd) if isinstance(sd, int | float) and math.isfinite(sd) else None


def progress_confidence(figures: pl.DataFrame, pupils: pl.DataFrame) -> pl.DataFrame:
    """``figures`` (from ``group_figures``: school, trust, LA or national rows, with
    ``ks2_<subject>_progress`` and ``ks2_<subject>_progress_pupils``) with, per subject,
    ``ks2_<subject>_progress_ci_low`` and ``_ci_high`` (progress -/+ 1.96 * the national SD of pupils'
    progress, from ``pupils``, the KS2 pupil table of the nation, / sqrt(pupils)) and
    ``ks2_<subject>_progress_significance`` ("above", "below", "not significant"; null without a
    figure, e.g. suppressed)."""
    columns = []
    for subject in SUBJECTS:
        name = f"ks2_{subject}_progress"
        for needed, where in ((name, figures), (f"{name}_pupils", figures), (name, pupils)):
            if needed not in where.columns:
                what = "figures" if where is figures else "pupils"
                raise ValueError(f"the {what} table lacks the column {needed}")
        sd = national_sd(pupils, subject)
        count = pl.col(f"{name}_pupils").cast(pl.Float64)
        figure = pl.col(name).cast(pl.Float64)
        if sd is None:
            low = high = pl.lit(None, pl.Float64)
        else:
            half = Z_95 * sd / count.sqrt()
            known = figure.is_not_null() & (count > 0)
            low, high = (pl.when(known).then(figure + side * half) for side in (-1, 1))
        columns.append((name, low, high))
    table = figures.with_columns(
        expr
        for name, low, high in columns
        for expr in (low.alias(f"{name}_ci_low"), high.alias(f"{name}_ci_high"))
    )
    return table.with_columns(
        significance(pl.col(f"{name}_ci_low"), pl.col(f"{name}_ci_high")).alias(f"{name}_significance")
        for name, _, _ in columns
    )
