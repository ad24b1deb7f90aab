"""Primary results as the measures read them: one row per pupil, a column per assessment.

Results come long, as collections store them and as analysts' files give them: ``upn, assessment,
result`` (assessment codes as the frameworks name them, e.g. ``phonics_mark``, ``elg_word_reading``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

import polars as pl

from keystage.core.reference.frameworks import Assessment

RESULTS_COLUMNS = ("upn", "assessment", "result")


def wide_results(results: pl.DataFrame, assessments: Sequence[str]) -> pl.DataFrame:
    """One row per pupil with a result in any of ``assessments``: upn, then a column per assessment
    with the result as written (trimmed, upper case, "2.0" as 2; null where none). A pupil given two
    results for one assessment keeps the first."""
    wanted = list(dict.fromkeys(assessments))
    # Speed: a results table holds few distinct assessment names and results, so each is tidied once
    # and the rows of other assessments are dropped before any work per row.
    names = results.get_column("assessment").cast(pl.String)
    raw_names = [
        name for name in names.unique().drop_nulls().to_list() if name.strip().lower() in set(wanted)
    ]
    rows = results.filter(names.is_in(raw_names))
    long = rows.select(
        pl.col("upn").cast(pl.String).str.strip_chars(),
        _tidied(rows.get_column("assessment").cast(pl.String), lambda text: text.strip().lower()),
        _tidied(rows.get_column("result").cast(pl.String), _tidy_result),
    ).filter(pl.col("upn").is_not_null() & pl.col("result").is_not_null())
    if long.height == 0:
        return pl.DataFrame(schema={"upn": pl.String, **dict.fromkeys(wanted, pl.String)})
    # "first" keeps a pupil's first result for an assessment (cheaper than dropping repeats first).
    table = long.pivot(on="assessment", index="upn", values="result", aggregate_function="first")
    return table.select(
        "upn", *(pl.col(c) if c in table.columns else pl.lit(None, pl.String).alias(c) for c in wanted)
    )


def _tidy_result(text: str) -> str | None:
    """A result as the frameworks write it: trimmed, upper case; "2.0" as 2; empty as none."""
    tidy = text.strip().upper()
    if re.fullmatch(r"[0-9]+\.0+", tidy):
        tidy = tidy.split(".")[0]
    return tidy or None


def _tidied(values: pl.Series, tidy: Callable[[str], str | None]) -> pl.Series:
    """``values`` tidied, each distinct value once."""
    distinct = values.unique().drop_nulls().to_list()
    changed = {value: tidy(value) for value in distinct if tidy(value) != value}
    if not changed:
        return values
    return values.replace(list(changed), list(changed.values()))


def flagged(assessment: Assessment, column: str, *flags: str) -> pl.Expr:
    """Whether the pupil's result in ``column`` is an outcome of ``assessment`` with any of ``flags``."""
    codes = [o.code for o in assessment.outcomes if any(o.has(flag) for flag in flags)]
    return pl.col(column).is_in(codes).fill_null(False)


def score(assessment: Assessment, column: str) -> pl.Expr:
    """The result in ``column`` as a number within the assessment's score range; null otherwise."""
    value = pl.col(column).cast(pl.Float64, strict=False)
    if assessment.score is None:
        return pl.lit(None, dtype=pl.Float64)
    inside = (value >= assessment.score.minimum) & (value <= assessment.score.maximum)
    if assessment.score.whole_numbers:
        inside = inside & (value == value.round(0))
    return pl.when(inside).then(value)


def judged(
    assessment: Assessment,
    column: str,
    *,
    met: tuple[str, ...],
    not_met: tuple[str, ...],
    score_from: float | None = None,
) -> pl.Expr:
    """A pupil's result as a yes/no for a measure, or null when it does not count: a score at or above
    ``score_from`` (when given) meets it, a lower score does not; an outcome with any of the ``met``
    flags meets it, one with any of the ``not_met`` flags (and none of ``met``) does not; anything
    else (no result, an outcome the rules leave out) is null."""
    meets = flagged(assessment, column, *met)
    fails = flagged(assessment, column, *not_met)
    value = score(assessment, column)
    expr = pl.when(meets).then(True).when(fails).then(False)
    if score_from is not None:
        expr = expr.when(value.is_not_null()).then(value >= score_from)
    return expr.otherwise(None)


def with_results(pupils: pl.DataFrame, results: pl.DataFrame, assessments: Sequence[str]) -> pl.DataFrame:
    """``pupils`` with a column per assessment from ``results`` (``wide_results``). A pupils column
    named like an assessment is replaced: results come from the results."""
    clashing = [c for c in assessments if c in pupils.columns]
    return (
        pupils.drop(clashing)
        .with_columns(pl.col("upn").cast(pl.String).str.strip_chars())
        .join(wide_results(results, assessments), on="upn", how="left")
    )
