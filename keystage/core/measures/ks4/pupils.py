"""Pupil-level KS4 measures, vectorised: each result scored, discounted, put in its Attainment 8 slot,
then A8 and its elements, EBacc entry and average point score, English and maths 4+/5+, and Progress 8
against the estimates. Rules: shared/domain/ks4-measures.md.

Every result ends in the ``slots`` table with what happened to it (the slot it filled, or why it does
not count), so each pupil's figures can be explained line by line.
"""

from __future__ import annotations

import dataclasses
import os
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from functools import cached_property
from typing import Any, Literal

import numpy as np
import polars as pl

from keystage.core.measures.ks4.estimates import Estimates, national_floors
from keystage.core.measures.ks4.points import (
    EBACC_POOL,
    ENGLISH_LANGUAGE,
    ENGLISH_LITERATURE,
    MATHS,
    normalise_grades,
)
from keystage.core.measures.ks4.series import Series, series_keys, series_labels, series_of, summer

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

# What happened to a result: the slot it filled, or why it does not count.
MATHS_SLOT, ENGLISH_SLOT, EBACC_SLOT, OPEN_SLOT = "maths", "english", "ebacc", "open"
NOT_CATALOGUED = "not in the catalogue"
NOT_A_GRADE = "not a grade of this qualification"
OFF_LIST = "not on DfE's list"
DISCOUNTED = "discounted"
LATER_ENTRY = "later entry"
NOT_BEST = "not among the best"
# The reasons a result is "not counted in performance measures": it never took part, as opposed to
# one that lost to another entry (discounted, a later entry, not among the best).
NOT_COUNTED_REASONS = (OFF_LIST, NOT_A_GRADE, NOT_CATALOGUED)

PUPIL_COLUMNS = [
    "upn",
    "a8",
    "a8_english",
    "a8_maths",
    "a8_ebacc",
    "a8_open",
    "ebacc_slots_filled",
    "open_slots_filled",
    "ebacc_entered",
    "ebacc_aps",
    "em_4plus",
    "em_5plus",
    "ks2_pa",
    "pag",
    "p8",
    "p8_english",
    "p8_maths",
    "p8_ebacc",
    "p8_open",
    "p8_adjusted",
    "p8_was_adjusted",
]


@dataclass(frozen=True)
class PupilMeasures:
    """The pupil table, and each result with what happened to it (``results``, ``slots``)."""

    pupils: pl.DataFrame  # one row per pupil: PUPIL_COLUMNS, then the pupil table's other columns
    # each result: upn, qan, grade, exam_date, series (as given) and numbers into the points table
    scored: pl.DataFrame
    points: pl.DataFrame  # the points table the results were scored with
    estimates_label: str | None
    year: int | None = None  # the results' academic year: a result of no known series is its summer's

    @property
    def list_year(self) -> int | None:
        """The year of DfE's list of approved qualifications the points table was read with."""
        if "list_year" not in self.points.columns or self.points.height == 0:
            return self.year
        return int(self.points.get_column("list_year")[0])

    @cached_property
    def results(self) -> pl.DataFrame:
        """Every result scored: its series (the key, and its label), its points, discount code,
        pillar and title from the catalogue, and the reason it does not count (null if it does) with
        the entry that counts instead (``discounted_by``: its qualification, title, grade and
        series)."""
        points = self.points

        def of(name: str, row: str = "_k") -> pl.Expr:
            return pl.lit(points.get_column(name)).gather(pl.col(row))

        series = _series_key(self.year)
        table = self.scored.select(
            "upn",
            "qan",
            "grade",
            "exam_date",
            series.alias("series"),
            _series_label(series).alias("series_label"),
            *(of(name).alias(name) for name in ("points", "discount_code", "pillar", "double_award")),
            of("title").alias("title"),
            pl.col("_reason")
            .replace_strict(_REASON_WORDS, default=None, return_dtype=pl.String)
            .alias("reason"),
            of("qan", "_by").alias("discounted_by"),
            of("title", "_by").alias("discounted_by_title"),
            of("grade", "_by").alias("discounted_by_grade"),
            of("points", "_by").alias("discounted_by_points"),
            series_labels(pl.col("_by_series")).alias("discounted_by_series"),
        )
        # A grade that is not its qualification's found no row, but the qualification has a title.
        untitled = (
            table.get_column("title").is_null() & (self.scored.get_column("_reason") == _NOT_A_GRADE)
        ).arg_true()
        if untitled.len():
            titles = points.select("qan", "title").unique("qan", keep="first")
            found = (
                table.select("qan").gather(untitled).join(titles, on="qan", how="left", maintain_order="left")
            )
            table = table.with_columns(table.get_column("title").scatter(untitled, found.get_column("title")))
        return table

    @cached_property
    def numbered(self) -> pl.DataFrame:
        """The points table as numbers, for the slot rule (_numbered_points)."""
        return _numbered_points(self.points)

    def only(self, upns: pl.Series | list[str]) -> PupilMeasures:
        """The same measures restricted to these pupils."""
        wanted = pl.Series(upns, dtype=pl.String).implode()
        return dataclasses.replace(
            self,
            pupils=self.pupils.filter(pl.col("upn").is_in(wanted)),
            scored=self.scored.filter(pl.col("upn").is_in(wanted)),
        )

    def slots(self, upns: list[str] | None = None) -> pl.DataFrame:
        """One row per result (a double award: per slot) of these pupils (all if None), with the
        slot it filled or why it does not count: what an explanation reads."""
        measures = self if upns is None else self.only(upns)
        results = measures.results
        return _slots_table(
            results, _slot_entries(results, measures.scored, measures.pupils, measures.numbered)
        )

    def explain(self, upn: str) -> list[str]:
        """In words: each result and what it counted for, then the pupil's figures."""
        return explain(self, upn)


# Why a result does not count, as a number while computing (0: it counts) and in words.
_COUNTS, _NOT_CATALOGUED, _NOT_A_GRADE, _DISCOUNTED, _LATER_ENTRY, _OFF_LIST = range(6)
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


# Hashes pair results with catalogue rows and pupils quickly; every pairing is then confirmed (see
# _row_numbers), so the seeds only need to be fixed within a run.
_SEEDS = (0x6B73_0001, 0x6B73_0002)
_CONFIRM_SEEDS = (0x6B73_0101, 0x6B73_0102)


def _key_hash(columns: list[str], seeds: tuple[int, ...] = _SEEDS) -> pl.Expr:
    present = pl.all_horizontal(pl.col(c).is_not_null() for c in columns)
    combined = pl.col(columns[0]).hash(seeds[0])
    for column, seed in zip(columns[1:], seeds[1:], strict=False):
        combined = combined ^ pl.col(column).hash(seed)
    return pl.when(present).then(combined)


def _has_repeats(hashes: pl.Series) -> bool:
    """Whether a value (nulls aside) appears twice; sorting beats hashing the hashes again."""
    ordered = hashes.drop_nulls().to_numpy().copy()
    ordered.sort()
    return bool((ordered[1:] == ordered[:-1]).any())


def _row_numbers(
    frame: pl.DataFrame, table: pl.DataFrame, on: list[str], *, confirm: Literal["values", "second hash"]
) -> pl.Series:
    """For each row of ``frame``, the number of the row of ``table`` (whose ``on`` values are unique)
    with the same ``on`` values; null if none or if a value is null.

    Speed: joining on one 64-bit hash of the values is several times faster than joining on the
    strings. Each pair found is then confirmed, by comparing the values, or (for long strings, where
    that comparison costs as much as the join) by a second, independently seeded 64-bit hash, so a
    wrong pair needs two different values to agree in 128 bits of hash (for a national cohort a
    chance of about 1 in 10^26). If a pair is ever refused, an exact join on the values answers."""
    keys = table.select(
        _key_hash(on).alias("_hash"), _key_hash(on, _CONFIRM_SEEDS).alias("_confirm")
    ).with_row_index("_n")
    if _has_repeats(keys.get_column("_hash")):
        return _exact_row_numbers(frame, table, on)
    by_hash = keys.drop_nulls() if confirm == "second hash" else keys.drop_nulls().drop("_confirm")
    hashed = frame.select(
        _key_hash(on).alias("_hash"),
        *([_key_hash(on, _CONFIRM_SEEDS).alias("_own")] if confirm == "second hash" else []),
    )
    paired = hashed.join(by_hash, on="_hash", how="left", maintain_order="left")
    found = paired.get_column("_n")
    if confirm == "second hash":
        refused = paired.select((pl.col("_n").is_not_null() & (pl.col("_own") != pl.col("_confirm"))).any())
        if refused.item():
            return _exact_row_numbers(frame, table, on)
        return found
    for column in on:
        same = frame.get_column(column) == table.get_column(column).gather(found)
        if (found.is_not_null() & ~same.fill_null(False)).any():
            return _exact_row_numbers(frame, table, on)
    return found


def pupil_rows(frame: pl.DataFrame, pupils: pl.DataFrame) -> pl.Series:
    """For each row of ``frame``, the number of its pupil's row in ``pupils`` (by UPN; UPNs unique
    there), null when the pupil is not in it."""
    return _row_numbers(frame, pupils, ["upn"], confirm="second hash")


def _exact_row_numbers(frame: pl.DataFrame, table: pl.DataFrame, on: list[str]) -> pl.Series:
    numbered = table.select(on).with_row_index("_n")
    return frame.select(on).join(numbered, on=on, how="left", maintain_order="left").get_column("_n")


# Each result's category in Attainment 8 and, in the EBacc pool, its kind.
_MATHS, _ENGLISH, _POOL, _OTHER = 0, 1, 2, 3
_SCIENCE, _HUMANITY, _LANGUAGE, _NOT_POOL = 0, 1, 2, 3
# A pupil's entries are sorted by one whole number each, from the highest bits: pupil, category, the
# rank of the entry's points-table row best first (points from the highest, then qualification number
# and grade: so equal points fill slots in the order the slots table lists them), which entry of a
# double award it is, the pool kind, and flags (below) that the EBacc entry and the English weighting
# ask about.
_FLAG_BITS, _KIND_BITS, _ENTRY_BITS, _RANK_BITS, _CATEGORY_BITS = 4, 2, 1, 20, 2
_KIND_SHIFT = _FLAG_BITS
_ENTRY_SHIFT = _KIND_SHIFT + _KIND_BITS
_RANK_SHIFT = _ENTRY_SHIFT + _ENTRY_BITS
_CATEGORY_SHIFT = _RANK_SHIFT + _RANK_BITS
_PUPIL_SHIFT = _CATEGORY_SHIFT + _CATEGORY_BITS
_RANK_TOP = (1 << _RANK_BITS) - 1
_CATEGORY_TOP = (1 << _CATEGORY_BITS) - 1
_KIND_TOP = (1 << _KIND_BITS) - 1
_POINTS_TOP = (1 << 16) - 1  # the most points a grade may have, in hundredths
_LANGUAGE_BIT, _LITERATURE_BIT, _COMBINED_SCIENCE_BIT, _SINGLE_SCIENCE_BIT = 1, 2, 4, 8
# Entries worked on at once: small enough for the working arrays to stay in the processor's cache and
# be reused rather than fetched fresh from the system.
_CHUNK_ENTRIES = 1 << 18


def _numbered_points(points: pl.DataFrame) -> pl.DataFrame:
    """The points table with what the pupil pass needs as numbers: each row's discount code (a
    qualification without one discounts only against itself), points in hundredths, category, pool
    kind, and its entries' sort key below the pupil (low_key)."""
    if points.height > _RANK_TOP + 1:
        raise ValueError(f"the points table has more than {_RANK_TOP + 1:,} rows")
    pillar = pl.col("pillar")
    # Each row's place best first: the order _best_first puts a pupil's entries in.
    best_first = _best_first(points.with_row_index("_row")).get_column("_row").to_numpy()
    rank = np.empty(points.height, dtype=np.int64)
    rank[best_first] = np.arange(points.height)
    numbered = points.select(
        pl.coalesce("discount_code", "qan").rank("dense").cast(pl.Int64).alias("code"),
        (pl.col("points") * 100).round(0).cast(pl.Int64).alias("hundredths"),
        pl.Series("rank", rank),
        pl.when(pillar == MATHS)
        .then(_MATHS)
        .when(pillar.is_in([ENGLISH_LANGUAGE, ENGLISH_LITERATURE]))
        .then(_ENGLISH)
        .when(pillar.is_in(EBACC_POOL))
        .then(_POOL)
        .otherwise(_OTHER)
        .cast(pl.Int64)
        .alias("category"),
        pl.when(pillar == "science")
        .then(_SCIENCE)
        .when(pillar == "humanities")
        .then(_HUMANITY)
        .when(pillar == "languages")
        .then(_LANGUAGE)
        .otherwise(_NOT_POOL)
        .cast(pl.Int64)
        .alias("kind"),
        pl.col("double_award").fill_null(False).alias("double"),
        (pillar == ENGLISH_LANGUAGE).fill_null(False).alias("language"),
        (pillar == ENGLISH_LITERATURE).fill_null(False).alias("literature"),
    )
    hundredths = numbered.get_column("hundredths").to_numpy()
    if (
        numbered.get_column("hundredths").null_count()
        or ((hundredths < 0) | (hundredths > _POINTS_TOP)).any()
    ):
        raise ValueError("the points table has points that are missing, negative or too large")
    science = pl.col("kind") == _SCIENCE
    flags = (
        pl.col("language").cast(pl.Int64) * _LANGUAGE_BIT
        + pl.col("literature").cast(pl.Int64) * _LITERATURE_BIT
        + (science & pl.col("double")).cast(pl.Int64) * _COMBINED_SCIENCE_BIT
        + (science & ~pl.col("double")).cast(pl.Int64) * _SINGLE_SCIENCE_BIT
    )
    low_key = (
        pl.col("category") * (1 << _CATEGORY_SHIFT)
        + pl.col("rank") * (1 << _RANK_SHIFT)
        + pl.col("kind") * (1 << _KIND_SHIFT)
        + flags
    )
    return numbered.with_columns(low_key.alias("low_key"))


def _results_table(results: pl.DataFrame) -> pl.DataFrame:
    """The results as RESULTS_SCHEMA, an absent exam date or series column taken as empty."""
    missing = [c for c in _OPTIONAL_RESULT_COLUMNS if c not in results.columns]
    if missing:
        results = results.with_columns(pl.lit(None, dtype=RESULTS_SCHEMA[c]).alias(c) for c in missing)
    return normalise_grades(results.select(list(RESULTS_SCHEMA)).cast(RESULTS_SCHEMA))  # type: ignore[arg-type]


def _on_list_first(points: pl.DataFrame) -> tuple[pl.DataFrame, int]:
    """The points table with the rows of qualifications on the year's list first, and how many
    there are: results are looked up among those alone, so the rest never match (and never count)."""
    if "on_list" not in points.columns:
        return points, points.height
    listed = points.get_column("on_list").fill_null(True)
    if listed.all():
        return points, points.height
    return points.sort(~listed, maintain_order=True), int(listed.sum())


def _score(results: pl.DataFrame, points: pl.DataFrame, listed: int, pupils: pl.DataFrame) -> pl.DataFrame:
    """Each result with the number of its points-table row (_k, null if it has none), of its pupil
    (_p, null if not in ``pupils``) and why it does not count (_reason: not catalogued, not a grade
    of the qualification, not on the year's list, or 0 for now). The first ``listed`` rows of
    ``points`` are the qualifications on the year's list (_on_list_first)."""
    on_list = points.head(listed)
    # The two lookups are independent: side by side, each on a core.
    with ThreadPoolExecutor(max_workers=2) as pool:
        finding_k = pool.submit(_row_numbers, results, on_list, ["qan", "grade"], confirm="values")
        finding_p = pool.submit(_row_numbers, results, pupils, ["upn"], confirm="second hash")
        k, p = finding_k.result(), finding_p.result()
    # Only the few results that found no points need telling apart: a qualification off the year's
    # list (its row found among the rest, so its points and title are shown), an unknown grade, or
    # an unknown qualification.
    reason = np.zeros(results.height, dtype=np.uint8)
    unmatched = k.is_null().arg_true()
    if unmatched.len():
        asked = results.select("qan", "grade").gather(unmatched)
        off_rows = points.slice(listed)
        found = _exact_row_numbers(asked, off_rows, ["qan", "grade"])
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


def _discount(
    scored: pl.DataFrame, numbered: pl.DataFrame, points: pl.DataFrame, year: int | None
) -> pl.DataFrame:
    """One result per pupil and discount code: the first series in which the pupil sat any
    qualification of the code counts (DfE's early entry rule), and within it the best grade (by
    points; equal points: the earlier exam). Sets _reason (discounted: another entry of the same
    series counts; later entry: an entry of an earlier series counts), _by (the points-table row of
    the result that counts) and _by_series (its series). Only results that count take part: one off
    the year's list, or with a grade that is not the qualification's, discounts nothing.

    Only results that share a pupil and a code need ordering: a hash of (pupil, code) finds the
    candidates (a collision only adds a candidate), those few are ranked exactly, and the losers are
    marked on the whole table by their row number."""
    code = pl.lit(numbered.get_column("code")).gather(pl.col("_k"))
    pair = scored.select(
        pl.when(pl.col("_reason") == _COUNTS).then(pl.col("upn").hash(_SEEDS[0]) ^ code.hash(_SEEDS[1]))
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


def _best_first(frame: pl.DataFrame, *, per: str | None = None, then: str | None = None) -> pl.DataFrame:
    """Best first: points from the highest, then qualification number and grade (within each ``per``,
    then by ``then``)."""
    columns = [*([per] if per else []), "points", "qan", "grade", *([then] if then else [])]
    return frame.sort(columns, descending=[column == "points" for column in columns])


def _places_in_runs(run_key: np.ndarray) -> np.ndarray:
    """For a sorted array: each element's place within its run of equal keys (0 for the first)."""
    starts = np.empty(run_key.size, dtype=bool)
    starts[:1] = True
    np.not_equal(run_key[1:], run_key[:-1], out=starts[1:])
    run = np.cumsum(starts) - 1
    places: np.ndarray = np.arange(run_key.size) - np.flatnonzero(starts)[run]
    return places


_PARTS = (
    "maths_best",
    "english_best",
    "ebacc_sum",
    "ebacc_filled",
    "science_two",
    "humanity_best",
    "language_best",
    "open_sum",
    "open_filled",
    "languages",
    "literatures",
    "combined_sciences",
    "single_sciences",
)
# The slot an entry fills, as a number while computing (the order the slots table lists them in), and
# in words; _NO_SLOT: not among the best.
_SLOT_NAMES = (MATHS_SLOT, ENGLISH_SLOT, EBACC_SLOT, OPEN_SLOT)
_NO_SLOT = len(_SLOT_NAMES)


def _pupil_parts(
    keys: np.ndarray,
    first_pupil: int,
    pupils: int,
    hundredths: np.ndarray,
    slots: tuple[np.ndarray, np.ndarray] | None = None,
) -> dict[str, np.ndarray]:
    """The slot rule for the pupils first_pupil .. first_pupil + pupils - 1, from their sorted entry
    keys: maths and English take their best, EBacc the best three of its pool, open the best three of
    everything left (the other English, further maths, EBacc beyond three, and the rest). Returns the
    pieces of the figures: best maths and English, EBacc and open sums and slots, what the EBacc APS
    adds, and counts of the flags (points in hundredths; a best of -1 means none). ``slots``: arrays as
    long as ``keys`` to fill with each entry's slot (a number, _NO_SLOT for none) and weight.

    ``hundredths``: the points of each best-first rank."""
    pupil = (keys >> _PUPIL_SHIFT) - first_pupil
    cat = (keys >> _CATEGORY_SHIFT) & _CATEGORY_TOP
    value = hundredths[(keys >> _RANK_SHIFT) & _RANK_TOP]
    place = _places_in_runs(keys >> _CATEGORY_SHIFT)

    def best(where: np.ndarray, of: np.ndarray = pupil, values: np.ndarray = value) -> np.ndarray:
        out = np.full(pupils, -1, dtype=np.int64)
        out[of[where]] = values[where]
        return out

    def total(where: np.ndarray, of: np.ndarray = pupil, values: np.ndarray = value) -> np.ndarray:
        return np.bincount(of[where], weights=values[where], minlength=pupils).astype(np.int64)

    def count(where: np.ndarray, of: np.ndarray = pupil) -> np.ndarray:
        return np.bincount(of[where], minlength=pupils)

    maths = (cat == _MATHS) & (place == 0)
    english = (cat == _ENGLISH) & (place == 0)
    parts = {"maths_best": best(maths), "english_best": best(english)}
    in_pool = cat == _POOL
    ebacc = in_pool & (place < 3)
    parts["ebacc_sum"] = total(ebacc)
    parts["ebacc_filled"] = count(ebacc)

    # For the EBacc APS: the best two science entries, the best humanity and the best language: the
    # pool sorted again with its kind before its rank.
    pool = keys[in_pool]
    by_kind = (pool >> _CATEGORY_SHIFT << (_KIND_BITS + _RANK_BITS)) | (
        ((pool >> _KIND_SHIFT) & _KIND_TOP) << _RANK_BITS
    )
    by_kind |= (pool >> _RANK_SHIFT) & _RANK_TOP
    by_kind.sort()
    pool_pupil = (by_kind >> (_KIND_BITS + _RANK_BITS + _CATEGORY_BITS)) - first_pupil
    kind = (by_kind >> _RANK_BITS) & _KIND_TOP
    pool_value = hundredths[by_kind & _RANK_TOP]
    pool_place = _places_in_runs(by_kind >> _RANK_BITS)
    parts["science_two"] = total((kind == _SCIENCE) & (pool_place < 2), pool_pupil, pool_value)
    parts["humanity_best"] = best((kind == _HUMANITY) & (pool_place == 0), pool_pupil, pool_value)
    parts["language_best"] = best((kind == _LANGUAGE) & (pool_place == 0), pool_pupil, pool_value)

    # Open: the best three left over. Only the best three left in each category can win, so only
    # those are sorted again (by rank and entry): maths and English after their first, the pool after
    # its three.
    left = (
        (((cat == _MATHS) | (cat == _ENGLISH)) & (place >= 1) & (place < 4))
        | (in_pool & (place >= 3) & (place < 6))
        | ((cat == _OTHER) & (place < 3))
    )
    below_pupil = _RANK_BITS + _ENTRY_BITS
    open_keys = (pupil[left] << below_pupil) | ((keys[left] >> _ENTRY_SHIFT) & ((1 << below_pupil) - 1))
    if slots is None:
        open_keys.sort()
    else:
        open_order = np.argsort(open_keys, kind="stable")
        open_keys = open_keys[open_order]
    open_pupil = open_keys >> below_pupil
    taken = _places_in_runs(open_pupil) < 3
    open_value = hundredths[(open_keys >> _ENTRY_BITS) & _RANK_TOP]
    parts["open_sum"] = total(taken, open_pupil, open_value)
    parts["open_filled"] = count(taken, open_pupil)

    # Flags over the pupil's entries (a single science is never a double award's, so counts right).
    for name, bit in (
        ("languages", _LANGUAGE_BIT),
        ("literatures", _LITERATURE_BIT),
        ("combined_sciences", _COMBINED_SCIENCE_BIT),
        ("single_sciences", _SINGLE_SCIENCE_BIT),
    ):
        parts[name] = count((keys & bit) != 0)

    if slots is not None:
        slot, weight = slots
        slot[:] = _NO_SLOT
        slot[maths] = _SLOT_NAMES.index(MATHS_SLOT)
        slot[english] = _SLOT_NAMES.index(ENGLISH_SLOT)
        slot[ebacc] = _SLOT_NAMES.index(EBACC_SLOT)
        slot[np.flatnonzero(left)[open_order[taken]]] = _SLOT_NAMES.index(OPEN_SLOT)
        # Maths counts twice; English twice when the pupil took both language and literature.
        both_englishes = (parts["languages"] > 0) & (parts["literatures"] > 0)
        weight[:] = 1 + maths + (english & both_englishes[pupil])
    return parts


def _entry_keys(pupil: np.ndarray, k: np.ndarray, numbered: pl.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Each entry's sort key, from its pupil's number and its points-table row: one per result, then
    a second for each double award (combined science: two entries, each with its points). Also the
    number of the result each second entry is of."""
    keys = pupil << _PUPIL_SHIFT
    keys |= numbered.get_column("low_key").to_numpy()[k]
    seconds = np.flatnonzero(numbered.get_column("double").to_numpy()[k])
    return np.concatenate([keys, keys[seconds] | (1 << _ENTRY_SHIFT)]), seconds


def _slot_pass(
    keys: np.ndarray, pupils: int, numbered: pl.DataFrame, *, with_slots: bool = False
) -> tuple[dict[str, np.ndarray], tuple[np.ndarray, np.ndarray] | None]:
    """The slot rule for every pupil (numbers 0 .. pupils - 1; keys of higher numbers are never read):
    the pieces of the figures (_pupil_parts) and, ``with_slots``, the slot and weight of each entry,
    in the order of ``keys``.

    Speed: one sort of the keys orders every pupil's entries; places within a category come from
    comparing neighbours, and sums per pupil from counting (np.bincount), a slice of pupils at a time.
    Points are in hundredths throughout, so every sum is exact. The slots need to know where each
    entry went, so they cost an argsort instead of the sort."""
    rank = numbered.get_column("rank").to_numpy()
    hundredths = np.empty(rank.size, dtype=np.int64)
    hundredths[rank] = numbered.get_column("hundredths").to_numpy()
    if with_slots:
        order = np.argsort(keys, kind="stable")
        keys = keys[order]
        slot = np.empty(keys.size, dtype=np.int8)
        weight = np.empty(keys.size, dtype=np.int8)
    else:
        keys.sort()

    parts = {name: np.empty(pupils, dtype=np.int64) for name in _PARTS}
    step = max(1, pupils * _CHUNK_ENTRIES // max(1, keys.size))
    starts = list(range(0, pupils, step))
    bounds = np.searchsorted(keys, np.array([*starts, pupils], dtype=np.int64) << _PUPIL_SHIFT)

    def work(index: int) -> None:
        first, last = starts[index], min(starts[index] + step, pupils)
        begin, end = bounds[index], bounds[index + 1]
        filled = (slot[begin:end], weight[begin:end]) if with_slots else None
        chunk = _pupil_parts(keys[begin:end], first, last - first, hundredths, filled)
        for name, values in chunk.items():
            parts[name][first:last] = values

    # numpy lets go of the interpreter lock while it works, so slices run side by side on each core.
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        list(pool.map(work, range(len(starts))))
    if not with_slots:
        return parts, None
    slot_of, weight_of = np.empty_like(slot), np.empty_like(weight)
    slot_of[order], weight_of[order] = slot, weight
    return parts, (slot_of, weight_of)


def _headline(scored: pl.DataFrame, numbered: pl.DataFrame, pupils: int) -> dict[str, pl.Series]:
    """Per pupil (by pupil number 0 .. pupils - 1): A8 and its elements, slots filled, EBacc entry and
    APS, English and maths 4+/5+, by the slot rule (_slot_pass)."""
    # Results that do not count, or of no pupil asked about, are put after the last pupil (and never
    # read): cheaper than filtering them out.
    numbers = scored.select(
        pl.when(pl.col("_reason") == _COUNTS).then(pl.col("_p")).fill_null(pupils).cast(pl.Int64),
        pl.col("_k").fill_null(0),
    )
    keys, _ = _entry_keys(numbers.get_column("_p").to_numpy(), numbers.get_column("_k").to_numpy(), numbered)
    parts, _ = _slot_pass(keys, pupils, numbered)
    return _headline_figures(parts)


def _slot_entries(
    results: pl.DataFrame, scored: pl.DataFrame, pupils: pl.DataFrame, numbered: pl.DataFrame
) -> pl.DataFrame:
    """Each counted entry of ``results`` (a double award: two) with the slot it fills (slot, weight,
    entry: 1, or 2 for a double award's second), or the reason not among the best: by the slot rule
    (_slot_pass). ``scored``: the same results as numbers; ``pupils``: whose they are (a result of a
    pupil not among them is slotted with the other results of its UPN)."""
    counts = scored.get_column("_reason") == _COUNTS
    counted, numbers = results.filter(counts), scored.filter(counts)
    pupil = pupil_rows(numbers, pupils).cast(pl.Int64)
    strangers = pupil.is_null().arg_true()
    if strangers.len():
        # Numbered after the pupils, one number per UPN (a missing UPN: its own).
        upns = numbers.get_column("upn").gather(strangers)
        pupil = pupil.scatter(strangers, upns.rank("dense").fill_null(0).cast(pl.Int64) + pupils.height)
    number = pupil.to_numpy()
    keys, seconds = _entry_keys(number, numbers.get_column("_k").to_numpy(), numbered)
    _, filled = _slot_pass(keys, int(number.max(initial=-1)) + 1, numbered, with_slots=True)
    assert filled is not None
    slot, weight = filled
    names = pl.Series(slot).replace_strict(dict(enumerate(_SLOT_NAMES)), default=None, return_dtype=pl.String)
    entries = pl.concat(
        [
            counted.with_columns(pl.lit(1, dtype=pl.Int8).alias("entry")),
            counted[seconds].with_columns(pl.lit(2, dtype=pl.Int8).alias("entry")),
        ]
    ).with_columns(names.alias("slot"), pl.Series("weight", weight, dtype=pl.Int8))
    entries = _best_first(entries, per="upn", then="entry")
    return entries.with_columns(
        pl.when(pl.col("slot").is_null()).then(pl.lit(NOT_BEST)).otherwise(pl.col("reason")).alias("reason")
    )


def _headline_figures(parts: dict[str, np.ndarray]) -> dict[str, pl.Series]:
    maths_best, english_best = parts["maths_best"], parts["english_best"]
    humanity_best, language_best = parts["humanity_best"], parts["language_best"]
    has_maths, has_english = maths_best >= 0, english_best >= 0
    both_englishes = (parts["languages"] > 0) & (parts["literatures"] > 0)
    maths_points = np.maximum(maths_best, 0)
    english_points = np.maximum(english_best, 0)
    # The EBacc's English pillar needs both English language and literature (the better counts);
    # with one, it scores 0 (unlike A8, where a lone English counts once).
    aps = (
        np.where(both_englishes, english_points, 0)
        + maths_points
        + parts["science_two"]
        + np.maximum(humanity_best, 0)
        + np.maximum(language_best, 0)
    )
    return {
        "a8_english": pl.Series(english_points * np.where(both_englishes, 2, 1) / 100),
        "a8_maths": pl.Series(maths_points * 2 / 100),
        "a8_ebacc": pl.Series(parts["ebacc_sum"] / 100),
        "a8_open": pl.Series(parts["open_sum"] / 100),
        "ebacc_slots_filled": pl.Series(parts["ebacc_filled"], dtype=pl.Int8),
        "open_slots_filled": pl.Series(parts["open_filled"], dtype=pl.Int8),
        # EBacc entry: both Englishes, maths, combined science or three single sciences (biology,
        # chemistry, physics, computer science), a humanity, a language.
        "ebacc_entered": pl.Series(
            both_englishes
            & has_maths
            & ((parts["combined_sciences"] > 0) | (parts["single_sciences"] >= 3))
            & (humanity_best >= 0)
            & (language_best >= 0)
        ),
        # EBacc APS: English (with both), maths, best two science slots, best humanity, best
        # language, over 6; 0 for a missing pillar.
        "ebacc_aps": pl.Series(aps / 100 / 6),
        "em_4plus": pl.Series(has_maths & has_english & (maths_best >= 400) & (english_best >= 400)),
        "em_5plus": pl.Series(has_maths & has_english & (maths_best >= 500) & (english_best >= 500)),
    }


def ks2_prior_attainment() -> pl.Expr:
    """KS2 prior attainment: the mean of reading and maths (one alone when only one was taken)."""
    return pl.mean_horizontal(pl.col("ks2_reading").cast(pl.Float64), pl.col("ks2_maths").cast(pl.Float64))


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


def pupil_measures(
    results: pl.DataFrame,
    pupils: pl.DataFrame,
    points: pl.DataFrame,
    estimates: Estimates | None = None,
    *,
    year: int | None = None,
) -> PupilMeasures:
    """The measures of every pupil in ``pupils`` (columns upn, ks2_reading, ks2_maths, and any
    characteristics, carried through) from their ``results`` (upn, qan, grade, and an exam_date
    and/or a series key, each optional: RESULTS_SCHEMA), scored with ``points`` (points_table).
    Without estimates, Progress 8 is left empty.

    ``year``: the academic year the results are for (default: that of their latest series). A
    result with neither a date nor a series is taken as sat in its summer series."""
    base = pupils.with_columns(pl.col("upn").cast(pl.String))
    # A pupil listed twice counts once (the first row). Different hashes are different UPNs, so the
    # exact check is only needed when two hashes agree.
    upn_hashes = base.select(_key_hash(["upn"])).to_series()
    if _has_repeats(upn_hashes) or upn_hashes.null_count() > 1:
        base = base.unique(subset="upn", keep="first", maintain_order=True)
    for column in ("ks2_reading", "ks2_maths"):
        if column not in base.columns:
            base = base.with_columns(pl.lit(None, dtype=pl.Float64).alias(column))
    results = _results_table(results)
    year = year if year is not None else results_year(results)
    points, listed = _on_list_first(points)
    numbered = _numbered_points(points)
    scored = _discount(_score(results, points, listed, base), numbered, points, year)
    figures = _headline(scored, numbered, base.height)

    table = base.with_columns(
        *(series.alias(name) for name, series in figures.items()),
        ks2_prior_attainment().alias("ks2_pa"),
    )
    table = table.with_columns(
        (pl.col("a8_english") + pl.col("a8_maths") + pl.col("a8_ebacc") + pl.col("a8_open")).alias("a8")
    )
    table = _progress(table, estimates)
    others = [c for c in table.columns if c not in PUPIL_COLUMNS]
    return PupilMeasures(
        table.select(PUPIL_COLUMNS + others),
        scored.select("upn", "qan", "grade", "exam_date", "series", "_k", "_reason", "_by", "_by_series"),
        points,
        estimates.label if estimates else None,
        year,
    )


def _progress(table: pl.DataFrame, estimates: Estimates | None) -> pl.DataFrame:
    """Progress 8 and its elements against the estimates of the pupil's prior attainment group;
    the adjusted score raises an extreme negative score to its group's floor."""
    columns = ["p8", "p8_english", "p8_maths", "p8_ebacc", "p8_open", "p8_adjusted"]
    if estimates is None:
        return table.with_columns(
            pl.lit(None, dtype=pl.Int64).alias("pag"),
            *(pl.lit(None, dtype=pl.Float64).alias(c) for c in columns),
            pl.lit(None, dtype=pl.Boolean).alias("p8_was_adjusted"),
        )
    table = estimates.assign_pag(table, "ks2_pa")
    groups = estimates.by_pag.select(
        pl.col("pag").cast(pl.Int64),
        *(pl.col(c).cast(pl.Float64).alias(f"_est_{c}") for c in ("a8", "english", "maths", "ebacc", "open")),
    )
    table = table.join(groups, on="pag", how="left", maintain_order="left")
    table = table.with_columns(
        ((pl.col("a8") - pl.col("_est_a8")) / 10).alias("p8"),
        ((pl.col("a8_english") - pl.col("_est_english")) / 2).alias("p8_english"),
        ((pl.col("a8_maths") - pl.col("_est_maths")) / 2).alias("p8_maths"),
        ((pl.col("a8_ebacc") - pl.col("_est_ebacc")) / 3).alias("p8_ebacc"),
        ((pl.col("a8_open") - pl.col("_est_open")) / 3).alias("p8_open"),
    ).drop("_est_a8", "_est_english", "_est_maths", "_est_ebacc", "_est_open")
    return _apply_floors(table, estimates.floors)


def _apply_floors(table: pl.DataFrame, floors: pl.DataFrame | None) -> pl.DataFrame:
    """p8_adjusted: P8 raised to its group's floor where it is below it; P8 itself without floors."""
    table = table.drop("p8_adjusted", "p8_was_adjusted", strict=False)
    if floors is None:
        return table.with_columns(
            pl.col("p8").alias("p8_adjusted"),
            pl.when(pl.col("p8").is_null()).then(None).otherwise(False).alias("p8_was_adjusted"),
        )
    floors = floors.select(pl.col("pag").cast(pl.Int64), pl.col("p8_floor").cast(pl.Float64))
    below = pl.col("p8") < pl.col("p8_floor")
    return (
        table.join(floors, on="pag", how="left", maintain_order="left")
        .with_columns(
            pl.when(below).then(pl.col("p8_floor")).otherwise(pl.col("p8")).alias("p8_adjusted"),
            pl.when(pl.col("p8").is_null())
            .then(None)
            .otherwise(below.fill_null(False))
            .alias("p8_was_adjusted"),
        )
        .drop("p8_floor")
    )


def with_national_floors(
    measures: PupilMeasures, floors: pl.DataFrame | None = None
) -> tuple[PupilMeasures, pl.DataFrame]:
    """The measures with negative-score floors (pag, p8_floor) applied, replacing any, and the floors.

    Floors come from national figures, never from the pupils of a run (the same pupils must get the
    same adjusted P8 alone or beside others): pass them (``estimates.national_floors`` of a national
    cohort, or ``estimates.published_floors``). Without ``floors``, ``measures`` must be that national
    cohort itself: its own P8 distribution sets them, as DfE sets them."""
    if floors is None:
        floors = national_floors(measures.pupils.select("pag", "p8").drop_nulls())
    pupils = _apply_floors(measures.pupils, floors).select(measures.pupils.columns)
    return dataclasses.replace(measures, pupils=pupils), floors


_EXPLAINED = [
    "upn",
    "qan",
    "title",
    "grade",
    "exam_date",
    "series",
    "series_label",
    "points",
    "double_award",
    "entry",
    "slot",
    "weight",
    "reason",
    "discounted_by",
    "discounted_by_title",
    "discounted_by_grade",
    "discounted_by_points",
    "discounted_by_series",
]


def _slots_table(scored: pl.DataFrame, entries: pl.DataFrame) -> pl.DataFrame:
    not_counted = scored.filter(pl.col("reason").is_not_null()).with_columns(
        pl.lit(1, dtype=pl.Int8).alias("entry"),
        pl.lit(None, dtype=pl.String).alias("slot"),
        pl.lit(0, dtype=pl.Int8).alias("weight"),
    )
    both = pl.concat(
        [entries.select(_EXPLAINED), not_counted.select(_EXPLAINED)],
        how="vertical_relaxed",
    )
    order = pl.col("slot").replace_strict(
        {MATHS_SLOT: 0, ENGLISH_SLOT: 1, EBACC_SLOT: 2, OPEN_SLOT: 3}, default=4, return_dtype=pl.Int8
    )
    return both.sort(
        [pl.col("upn"), order, pl.col("points").neg(), pl.col("qan"), pl.col("entry")], nulls_last=True
    )


_SLOT_WORDS = {
    MATHS_SLOT: "maths",
    ENGLISH_SLOT: "English",
    EBACC_SLOT: "an EBacc slot",
    OPEN_SLOT: "an open slot",
}


def _entry_words(title: str | None, qan: str, grade: str | None) -> str:
    return f"{title} ({qan}) grade {grade}" if title else f"{qan} grade {grade}"


def not_counted_words(reason: str, year: int | None, list_year: int | None) -> str:
    """Why a result is not counted in performance measures (one of NOT_COUNTED_REASONS), in the
    words a person reads: for one off the list, the year and, if DfE's list read is older, that."""
    if reason == OFF_LIST:
        if year is None or list_year is None or list_year == year:
            return f"not on DfE's list of approved qualifications for {year or list_year}"
        return (
            f"not on DfE's list of approved qualifications for {year} "
            f"(the {list_year} list is the newest keystage has)"
        )
    if reason == NOT_CATALOGUED:
        return "not in the catalogue (no qualification has this number)"
    return reason


def _result_line(
    row: dict[str, Any], year: int | None, list_year: int | None, grades: dict[str, str] | None = None
) -> str:
    """One result and what it counted for, or why not and which entry counts instead."""
    what = _entry_words(row["title"], row["qan"], row["grade"])
    if row["slot"] is not None:
        weight = ", counted twice" if row["weight"] == 2 else ""
        double = f" (double award, slot {row['entry']} of 2)" if row["double_award"] else ""
        return f"{what}: {row['points']:g} points{weight} in {_SLOT_WORDS[row['slot']]}{double}."
    series = row["series_label"] or "series not given"
    winner = _entry_words(row["discounted_by_title"], row["discounted_by"], row["discounted_by_grade"])
    if row["reason"] == DISCOUNTED:
        why = (
            "an equal grade; the earlier exam counts"
            if row["points"] == row["discounted_by_points"]
            else "best grade in the first series"
        )
        return f"{what}: discounted: {winner} in the same series ({series}) counts ({why})."
    if row["reason"] == LATER_ENTRY:
        first = row["discounted_by_series"] or "series not given"
        return f"{what}: a later entry ({series}); the first series, {first}, counts: {winner}."
    if row["reason"] == NOT_BEST:
        return f"{what}: {row['points']:g} points, not among the best three for the open slots."
    in_year = f" in {year}" if year is not None else ""
    known = (grades or {}).get(row["qan"]) if row["reason"] == NOT_A_GRADE else None
    its_grades = f" (its grades: {known})" if known else ""
    return (
        f"{what}: not counted in performance measures{in_year}: "
        f"{not_counted_words(row['reason'], year, list_year)}{its_grades}."
    )


def _grades_of(points: pl.DataFrame, qans: list[str]) -> dict[str, str]:
    """The grades of each of these qualifications, lowest points first ("U, 1, 2, ... 9")."""
    if not qans:
        return {}
    listed = (
        points.filter(pl.col("qan").is_in(qans))
        .sort("qan", "points", "grade")
        .group_by("qan", maintain_order=True)
        .agg(pl.col("grade").unique(maintain_order=True).str.join(", "))
    )
    return dict(listed.iter_rows())


def _figure_lines(p: dict[str, Any], label: str | None, no_progress8: str | None = None) -> list[str]:
    """A pupil's figures, after the results. ``no_progress8``: why no pupil has Progress 8 this year
    (DfE publishes none), said in place of each pupil's own reason."""
    lines = [
        f"Attainment 8 {p['a8']:g}: English {p['a8_english']:g}, maths {p['a8_maths']:g}, "
        f"EBacc {p['a8_ebacc']:g} ({p['ebacc_slots_filled']} of 3 slots), open {p['a8_open']:g} "
        f"({p['open_slots_filled']} of 3 slots)."
    ]
    if no_progress8 is not None:
        lines.append(f"No Progress 8: {no_progress8}.")
    elif p["p8"] is None:
        reason = "no KS2 prior attainment" if p["ks2_pa"] is None else "no estimates for this year"
        lines.append(f"No Progress 8: {reason}.")
    else:
        adjusted = f", raised to the floor {p['p8_adjusted']:.2f}" if p["p8_was_adjusted"] else ""
        lines.append(
            f"Progress 8 {p['p8']:.2f}{adjusted}: KS2 prior attainment {p['ks2_pa']:g}, group {p['pag']}, "
            f"against {label}."
        )
    return lines


def explanations(
    measures: PupilMeasures, upns: list[str] | None = None, *, no_progress8: str | None = None
) -> dict[str, list[str]]:
    """Each pupil's explanation (all pupils if ``upns`` is None), in one pass over their results:
    each result and what it counted for, then their figures, in plain words. ``no_progress8``: as
    for ``_figure_lines``, in a year DfE publishes no Progress 8 for."""
    lines: dict[str, list[str]] = defaultdict(list)
    year, list_year = measures.year, measures.list_year
    slots = measures.slots(upns)
    wrong = slots.filter(pl.col("reason") == NOT_A_GRADE).get_column("qan").unique().to_list()
    grades = _grades_of(measures.points, wrong)
    for row in slots.iter_rows(named=True):
        lines[row["upn"]].append(_result_line(row, year, list_year, grades))
    pupils = measures.pupils if upns is None else measures.pupils.filter(pl.col("upn").is_in(upns))
    for pupil in pupils.iter_rows(named=True):
        lines[pupil["upn"]].extend(_figure_lines(pupil, measures.estimates_label, no_progress8))
    return dict(lines)


def explain(measures: PupilMeasures, upn: str) -> list[str]:
    """One pupil's explanation."""
    return explanations(measures, [upn]).get(upn, [])


NOT_COUNTED_COLUMNS = ("school", "upn", "qan", "title", "grade", "series", "reason")


def not_counted(measures: PupilMeasures) -> pl.DataFrame:
    """Every result of the measures' pupils that is not counted in performance measures at all: a
    qualification off DfE's list of approved qualifications for the year, a grade that is not one
    of its qualification's, or a qualification number not in the catalogue (NOT_COUNTED_REASONS).
    Results that lost to another entry (discounted, a later entry, not among the best) are not
    here: they took part. Each result is listed, so none is dropped without a word.

    Columns (stable, NOT_COUNTED_COLUMNS): school (the pupil's, null when the pupils have no school
    column), upn, qan, title (null when not in the catalogue), grade, series (its label, e.g.
    "Summer 2026"), reason (in words, ``not_counted_words``). Sorted by school, upn, qan, grade."""
    pupils = measures.pupils
    school = pl.col("school").cast(pl.String) if "school" in pupils.columns else pl.lit(None, pl.String)
    words = {
        reason: not_counted_words(reason, measures.year, measures.list_year) for reason in NOT_COUNTED_REASONS
    }
    return (
        measures.results.filter(pl.col("reason").is_in(list(NOT_COUNTED_REASONS)))
        .join(pupils.select("upn", school.alias("school")), on="upn", how="inner")
        .select(
            "school",
            "upn",
            "qan",
            "title",
            "grade",
            pl.col("series_label").alias("series"),
            pl.col("reason").replace_strict(words, return_dtype=pl.String),
        )
        .sort("school", "upn", "qan", "grade", nulls_last=True)
    )


def not_counted_summary(measures: PupilMeasures, by: str | None = "school") -> pl.DataFrame:
    """How many results (and of how many pupils) are not counted in performance measures, per
    ``by`` (a column of the pupils, e.g. school; None: over all pupils) and reason.

    Columns (stable): ``by`` (when given), reason (as in ``not_counted``), results, pupils. Sorted
    by ``by``, then most results first."""
    table = not_counted(measures)
    keys = ["reason"]
    if by is not None:
        keys.insert(0, by)
        if by != "school":
            column = pl.col(by).cast(pl.String) if by in measures.pupils.columns else pl.lit(None, pl.String)
            table = table.join(measures.pupils.select("upn", column.alias(by)), on="upn", how="left")
    summary = table.group_by(keys).agg(
        pl.len().cast(pl.Int64).alias("results"), pl.col("upn").n_unique().cast(pl.Int64).alias("pupils")
    )
    order = [*([by] if by is not None else []), "results", "reason"]
    descending = [*([False] if by is not None else []), True, False]
    return summary.sort(order, descending=descending, nulls_last=True).select(*keys, "results", "pupils")
