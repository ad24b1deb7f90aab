"""Primary results as the measures read them: one row per pupil, a column per assessment.

Results come long, as collections store them and as analysts' files give them: ``upn, assessment,
result`` (assessment codes as the frameworks name them, e.g. ``phonics_mark``, ``elg_word_reading``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

import numpy as np
import polars as pl

from keystage.core.measures.rows import pupil_rows
from keystage.core.reference.frameworks import Assessment

RESULTS_COLUMNS = ("upn", "assessment", "result")


def wide_results(results: pl.DataFrame, assessments: Sequence[str]) -> pl.DataFrame:
    """One row per pupil with a result in any of ``assessments``: upn, then a column per assessment
    with the result as written (trimmed, upper case, "2.0" as 2; null where none). A pupil given two
    results for one assessment keeps the first."""
    wanted = list(dict.fromkeys(assessments))
    long, texts = _long_results(results, wanted)
    if long.height == 0:
        return pl.DataFrame(schema={"upn": pl.String, **dict.fromkeys(wanted, pl.String)})
    # "first" keeps a pupil's first result for an assessment (cheaper than dropping repeats first).
    table = long.select(
        "upn",
        pl.lit(pl.Series(wanted)).gather(pl.col("assessment")).alias("assessment"),
        pl.lit(texts).gather(pl.col("result")).alias("result"),
    ).pivot(on="assessment", index="upn", values="result", aggregate_function="first")
    return table.select(
        "upn", *(pl.col(c) if c in table.columns else pl.lit(None, pl.String).alias(c) for c in wanted)
    )


def with_results(pupils: pl.DataFrame, results: pl.DataFrame, assessments: Sequence[str]) -> pl.DataFrame:
    """``pupils`` with a column per assessment from ``results``, as ``wide_results`` gives them (null
    for a pupil with none). A pupils column named like an assessment is replaced: results come from
    the results."""
    wanted = list(dict.fromkeys(assessments))
    clashing = [c for c in wanted if c in pupils.columns]
    table = pupils.drop(clashing).with_columns(pl.col("upn").cast(pl.String).str.strip_chars())
    if not wanted:
        return table
    long, texts = _long_results(results, wanted)
    # Speed: rather than pivoting the results and joining them to the pupils, each result is put in
    # its place in an array with a row per pupil and a column per assessment.
    upns = table.select("upn")
    repeated = upns.height != upns.n_unique()
    distinct = upns.unique(maintain_order=True) if repeated else upns
    row = pupil_rows(long, distinct).cast(pl.Int64).fill_null(-1).to_numpy()
    known = row >= 0
    width = len(wanted)
    cell = row[known] * width + long.get_column("assessment").to_numpy().astype(np.int64)[known]
    code = long.get_column("result").to_numpy().astype(np.int64)[known]
    none = texts.len()  # the code of no result: one past the texts
    grid = np.full(distinct.height * width, none, dtype=np.int64)
    if cell.size and np.bincount(cell, minlength=grid.size).max() > 1:
        # A pupil given two results for one assessment keeps the first.
        _, first = np.unique(cell, return_index=True)
        cell, code = cell[first], code[first]
    grid[cell] = code
    if repeated:  # each pupil's row of the grid; a pupil without a UPN has none (the last, empty)
        rows = pupil_rows(table, distinct).cast(pl.Int64).fill_null(distinct.height).to_numpy()
        empty = np.full(width, none, dtype=np.int64)
        grid = np.concatenate([grid, empty]).reshape(distinct.height + 1, width)[rows].reshape(-1)
    named = pl.concat([texts, pl.Series([None], dtype=pl.String)])
    return table.with_columns(
        named.gather(pl.Series(grid[index::width])).alias(name) for index, name in enumerate(wanted)
    )


def _long_results(results: pl.DataFrame, wanted: list[str]) -> tuple[pl.DataFrame, pl.Series]:
    """The results of the ``wanted`` assessments, numbered: upn (trimmed), assessment (its place in
    ``wanted``), result (its place in the texts, also returned: each result tidied); rows with no upn
    or no result are dropped."""
    # Speed: a results table holds few distinct assessment names and results, so each is tidied once
    # and the rows of other assessments are dropped before any work per row.
    names = results.get_column("assessment").cast(pl.String)
    place = {name: index for index, name in enumerate(wanted)}
    raw_names = {
        name: place[name.strip().lower()]
        for name in names.unique().drop_nulls().to_list()
        if name.strip().lower() in place
    }
    rows = results.filter(names.is_in(list(raw_names)))
    given = rows.get_column("result").cast(pl.String)
    raw_results = given.unique().drop_nulls().to_list()
    tidy = [_tidy_result(text) for text in raw_results]
    texts = sorted({text for text in tidy if text is not None})
    number = {text: index for index, text in enumerate(texts)}
    codes = {raw: number[text] for raw, text in zip(raw_results, tidy, strict=True) if text is not None}
    long = rows.select(
        pl.col("upn").cast(pl.String).str.strip_chars(),
        rows.get_column("assessment")
        .cast(pl.String)
        .replace_strict(raw_names, return_dtype=pl.Int64)
        .alias("assessment"),
        given.replace_strict(codes, default=None, return_dtype=pl.Int64).alias("result"),
    ).filter(pl.col("upn").is_not_null() & pl.col("result").is_not_null())
    return long, pl.Series(texts, dtype=pl.String)


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
