"""Each KS4 result scored and discounted: matched to its points-table row and its pupil, told why it
does not count (not in the catalogue, not a grade of its qualification, not on the year's list), and
one result kept per pupil and discount code (the first series, then the best grade: DfE's early entry
rule). Rules: shared/domain/ks4-measures.md.

The matching is by hash and then confirmed (keystage.core.measures.rows): several times faster than
joining on the strings, and never wrong.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import date

import numpy as np
import polars as pl

from keystage.core.measures.ks4.points import normalise_grades
from keystage.core.measures.ks4.series import Series, series_keys, series_labels, series_of, summer
from keystage.core.measures.rows import SEEDS, exact_row_numbers, row_numbers

# A result: its exam date and its series (a key of keystage.core.measures.ks4.series) are each
# optional; the series is the one given, else that of the date, else (neither known) the summer of
# the results' year.
RESULTS_SCHEMA = {
    "upn": pl.String,
    "qan": pl.String,
    "grade": pl.String,
    "exam_date": pl.Date,
    "series": pl.Int32,
}
_OPTIONAL_RESULT_COLUMNS = ("exam_date", "series")

# Why a result does not count, in words.
NOT_CATALOGUED = "not in the catalogue"
NOT_A_GRADE = "not a grade of this qualification"
OFF_LIST = "not on DfE's list"
DISCOUNTED = "discounted"
LATER_ENTRY = "later entry"
# The reasons a result is "not counted in performance measures": it never took part, as opposed to
# one that lost to another entry (discounted, a later entry, not among the best).
NOT_COUNTED_REASONS = (OFF_LIST, NOT_A_GRADE, NOT_CATALOGUED)

# Why a result does not count, as a number while computing (COUNTS: it counts).
COUNTS, _NOT_CATALOGUED, _NOT_A_GRADE, _DISCOUNTED, _LATER_ENTRY, _OFF_LIST = range(6)
_REASON_WORDS = {
    _NOT_CATALOGUED: NOT_CATALOGUED,
    _NOT_A_GRADE: NOT_A_GRADE,
    _DISCOUNTED: DISCOUNTED,
    _LATER_ENTRY: LATER_ENTRY,
    _OFF_LIST: OFF_LIST,
}


def _series_key(year: int | None) -> pl.Expr:
    """Each result's series: the one given, else its exam date's, else (neither known, or a date in
    no series) the summer of ``year``."""
    given = pl.coalesce(pl.col("series"), series_keys(pl.col("exam_date")))
    return given if year is None else given.fill_null(summer(year).key).cast(pl.Int32)


def _series_label(key: pl.Expr) -> pl.Expr:
    return pl.when(key.is_null()).then(pl.lit("series not given")).otherwise(series_labels(key))


def scored_results(scored: pl.DataFrame, points: pl.DataFrame, year: int | None) -> pl.DataFrame:
    """Every result of ``scored`` (as ``score`` and ``discount`` leave it) in words: its series (the
    key, and its label), its points, discount code, pillar and title from ``points``, and the reason
    it does not count (null if it does) with the entry that counts instead (``discounted_by``: its
    qualification, title, grade and series)."""

    def of(name: str, row: str = "_k") -> pl.Expr:
        return pl.lit(points.get_column(name)).gather(pl.col(row))

    series = _series_key(year)
    table = scored.select(
        "upn",
        "qan",
        "grade",
        "exam_date",
        series.alias("series"),
        _series_label(series).alias("series_label"),
        *(of(name).alias(name) for name in ("points", "discount_code", "pillar", "double_award")),
        of("title").alias("title"),
        pl.col("_reason").replace_strict(_REASON_WORDS, default=None, return_dtype=pl.String).alias("reason"),
        of("qan", "_by").alias("discounted_by"),
        of("title", "_by").alias("discounted_by_title"),
        of("grade", "_by").alias("discounted_by_grade"),
        of("points", "_by").alias("discounted_by_points"),
        series_labels(pl.col("_by_series")).alias("discounted_by_series"),
    )
    # A grade that is not its qualification's found no row, but the qualification has a title.
    untitled = (
        table.get_column("title").is_null() & (scored.get_column("_reason") == _NOT_A_GRADE)
    ).arg_true()
    if untitled.len():
        titles = points.select("qan", "title").unique("qan", keep="first")
        found = table.select("qan").gather(untitled).join(titles, on="qan", how="left", maintain_order="left")
        table = table.with_columns(table.get_column("title").scatter(untitled, found.get_column("title")))
    return table


def as_results_schema(results: pl.DataFrame) -> pl.DataFrame:
    """The results as RESULTS_SCHEMA, an absent exam date or series column taken as empty."""
    missing = [c for c in _OPTIONAL_RESULT_COLUMNS if c not in results.columns]
    if missing:
        results = results.with_columns(pl.lit(None, dtype=RESULTS_SCHEMA[c]).alias(c) for c in missing)
    return normalise_grades(results.select(list(RESULTS_SCHEMA)).cast(RESULTS_SCHEMA))  # type: ignore[arg-type]


def on_list_first(points: pl.DataFrame) -> tuple[pl.DataFrame, int]:
    """The points table with the rows of qualifications on the year's list first, and how many
    there are: results are looked up among those alone, so the rest never match (and never count)."""
    if "on_list" not in points.columns:
        return points, points.height
    listed = points.get_column("on_list").fill_null(True)
    if listed.all():
        return points, points.height
    return points.sort(~listed, maintain_order=True), int(listed.sum())


def score(results: pl.DataFrame, points: pl.DataFrame, listed: int, pupils: pl.DataFrame) -> pl.DataFrame:
    """Each result with the number of its points-table row (_k, null if it has none), of its pupil
    (_p, null if not in ``pupils``) and why it does not count (_reason: not catalogued, not a grade
    of the qualification, not on the year's list, or 0 for now). The first ``listed`` rows of
    ``points`` are the qualifications on the year's list (on_list_first)."""
    on_list = points.head(listed)
    # The two lookups are independent: side by side, each on a core.
    with ThreadPoolExecutor(max_workers=2) as pool:
        finding_k = pool.submit(row_numbers, results, on_list, ["qan", "grade"], confirm="values")
        finding_p = pool.submit(row_numbers, results, pupils, ["upn"], confirm="second hash")
        k, p = finding_k.result(), finding_p.result()
    # Only the few results that found no points need telling apart: a qualification off the year's
    # list (its row found among the rest, so its points and title are shown), an unknown grade, or
    # an unknown qualification.
    reason = np.zeros(results.height, dtype=np.uint8)
    unmatched = k.is_null().arg_true()
    if unmatched.len():
        asked = results.select("qan", "grade").gather(unmatched)
        off_rows = points.slice(listed)
        found = exact_row_numbers(asked, off_rows, ["qan", "grade"])
        off_list = asked.get_column("qan").is_in(off_rows.get_column("qan").implode())
        catalogued = asked.get_column("qan").is_in(on_list.get_column("qan").implode())
        reason[unmatched.to_numpy()] = np.select(
            [off_list.to_numpy(), catalogued.to_numpy()], [_OFF_LIST, _NOT_A_GRADE], _NOT_CATALOGUED
        )
        k = k.clone().scatter(unmatched, found + listed)
    return results.with_columns(
        k.alias("_k"),
        p.alias("_p"),
        pl.Series("_reason", reason),
        pl.lit(None, dtype=pl.UInt32).alias("_by"),
        pl.lit(None, dtype=pl.Int32).alias("_by_series"),
    )


def discount(scored: pl.DataFrame, points: pl.DataFrame, year: int | None) -> pl.DataFrame:
    """One result per pupil and discount code: the first series in which the pupil sat any
    qualification of the code counts (DfE's early entry rule), and within it the best grade (by
    points; equal points: the earlier exam). Sets _reason (discounted: another entry of the same
    series counts; later entry: an entry of an earlier series counts), _by (the points-table row of
    the result that counts) and _by_series (its series). Only results that count take part: one off
    the year's list, or with a grade that is not the qualification's, discounts nothing.

    Only results that share a pupil and a code need ordering: a hash of (pupil, code) finds the
    candidates (a collision only adds a candidate), those few are ranked exactly, and the losers are
    marked on the whole table by their row number."""
    # Each points-table row's discount code as a number (a qualification without one discounts only
    # against itself).
    codes = points.select(pl.coalesce("discount_code", "qan").rank("dense").cast(pl.Int64)).to_series()
    code = pl.lit(codes).gather(pl.col("_k"))
    pair = scored.select(
        pl.when(pl.col("_reason") == COUNTS).then(pl.col("upn").hash(SEEDS[0]) ^ code.hash(SEEDS[1]))
    ).to_series()
    # Pairs seen more than once: sorted, a pair equal to its neighbour (sorting beats hashing here).
    ordered = pair.drop_nulls().to_numpy().copy()
    ordered.sort()
    repeated = ordered[1:][ordered[1:] == ordered[:-1]]
    if repeated.size == 0:
        return scored
    candidate = pair.is_in(pl.Series(np.unique(repeated)).implode())
    rows = scored.with_row_index("_row").filter(candidate.fill_null(False))
    group = ["upn", "_code"]
    # With no known series at all (year None) every result is in the same, unknown, one.
    series = _series_key(year).fill_null(0)
    same_series = pl.col("_series") == pl.col("_series").first().over(group)
    losers = (
        rows.select(
            "_row",
            "upn",
            code.alias("_code"),
            series.alias("_series"),
            pl.lit(points.get_column("points")).gather(pl.col("_k")).alias("_points"),
            "exam_date",
            "qan",
            "grade",
            "_k",
        )
        .sort(
            ["upn", "_code", "_series", "_points", "exam_date", "qan", "grade", "_row"],
            descending=[False, False, False, True, False, False, False, False],
            nulls_last=True,
        )
        .select(
            "_row",
            pl.when(same_series).then(_DISCOUNTED).otherwise(_LATER_ENTRY).cast(pl.UInt8).alias("_lost"),
            pl.col("_k").first().over(group).alias("_winner"),
            pl.col("_series").first().over(group).alias("_winner_series"),
            (pl.int_range(pl.len()).over(group) > 0).alias("_loses"),
        )
        .filter(pl.col("_loses"))
    )
    reason = scored.get_column("_reason").to_numpy().copy()
    by = np.full(scored.height, -1, dtype=np.int64)
    by_series = np.full(scored.height, -1, dtype=np.int64)
    at = losers.get_column("_row").to_numpy()
    reason[at] = losers.get_column("_lost").to_numpy()
    by[at] = losers.get_column("_winner").to_numpy()
    by_series[at] = losers.get_column("_winner_series").to_numpy()
    return scored.with_columns(
        pl.Series("_reason", reason, dtype=pl.UInt8),
        pl.Series("_by", by).replace(-1, None).cast(pl.UInt32),
        pl.Series("_by_series", by_series).replace([-1, 0], None).cast(pl.Int32),
    )


def results_year(results: pl.DataFrame) -> int | None:
    """The academic year of the latest series among the results (given, or of an exam date), None
    when no result has either."""
    latest: list[int] = []
    if "series" in results.columns:
        given = results.get_column("series").cast(pl.Int32).max()
        if isinstance(given, int):
            latest.append(given)
    if "exam_date" in results.columns:
        day = results.get_column("exam_date").max()
        if isinstance(day, date):
            # Keys grow with dates, so the latest date's series is the latest, unless that date is
            # in no series (the file readers refuse those): then every date is looked at.
            found = series_of(day)
            dated = (
                found.key
                if found is not None
                else results.select(series_keys(pl.col("exam_date").cast(pl.Date)).max()).item()
            )
            if isinstance(dated, int):
                latest.append(dated)
    return Series(max(latest)).academic_year if latest else None
