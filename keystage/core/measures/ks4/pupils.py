"""Pupil-level KS4 measures, vectorised: each result scored, discounted, put in its Attainment 8 slot,
then A8 and its elements, EBacc entry and average point score, English and maths 4+/5+, and Progress 8
against the estimates. Rules: shared/domain/ks4-measures.md.

Every result ends in the ``slots`` table with what happened to it (the slot it filled, or why it does
not count), so each pupil's figures can be explained line by line.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import polars as pl

from keystage.core.measures.ks4.estimates import Estimates, national_floors
from keystage.core.measures.ks4.points import (
    EBACC_POOL,
    ENGLISH_LANGUAGE,
    ENGLISH_LITERATURE,
    MATHS,
    normalise_grades,
)

RESULTS_SCHEMA = {"upn": pl.String, "qan": pl.String, "grade": pl.String, "exam_date": pl.Date}

# What happened to a result: the slot it filled, or why it does not count.
MATHS_SLOT, ENGLISH_SLOT, EBACC_SLOT, OPEN_SLOT = "maths", "english", "ebacc", "open"
NOT_CATALOGUED = "not in the catalogue"
NOT_A_GRADE = "not a grade of this qualification"
DISCOUNTED = "discounted"
LATER_ENTRY = "later entry"
NOT_BEST = "not among the best"

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
    pupils: pl.DataFrame  # one row per pupil: PUPIL_COLUMNS, then the pupil table's other columns
    results: pl.DataFrame  # every result scored, with the reason it does not count (null if it does)
    estimates_label: str | None

    def slots(self, upns: list[str] | None = None) -> pl.DataFrame:
        """One row per result (a double award: per slot) of these pupils (all if None), with the
        slot it filled or why it does not count: what an explanation reads."""
        results = self.results if upns is None else self.results.filter(pl.col("upn").is_in(upns))
        entries = _fill_slots(results.filter(pl.col("reason").is_null()))
        return _slots_table(results, entries)

    def explain(self, upn: str) -> list[str]:
        """In words: each result and what it counted for, then the pupil's figures."""
        return explain(self, upn)


def _score(results: pl.DataFrame, points: pl.DataFrame) -> pl.DataFrame:
    """Each result with its points, discount code and pillar; an unknown qualification or grade is
    kept with the reason it does not count."""
    results = normalise_grades(results.select(list(RESULTS_SCHEMA)).cast(RESULTS_SCHEMA))  # type: ignore[arg-type]
    scored = results.with_row_index("_row").join(points, on=["qan", "grade"], how="left")
    # Only the few results that found no points need telling apart: unknown qualification or grade.
    catalogued = points.get_column("qan").unique().implode()
    return scored.with_columns(
        pl.when(pl.col("points").is_not_null())
        .then(None)
        .when(pl.col("qan").is_in(catalogued))
        .then(pl.lit(NOT_A_GRADE))
        .otherwise(pl.lit(NOT_CATALOGUED))
        .alias("reason"),
        pl.coalesce("discount_code", "qan").alias("_code"),
    )


def _discount(scored: pl.DataFrame) -> pl.DataFrame:
    """One result per pupil and discount code: the first series counts (early entry), and within
    it the best. Qualifications without a code discount only against themselves (their QAN).

    Only results that share a pupil and a code need ordering: those few are ranked apart and the
    ones that lose are marked on the whole table by their row number."""
    counts = pl.col("reason").is_null()
    shared = counts & pl.struct("upn", "_code").is_duplicated()
    group = ["upn", "_code"]
    first = pl.int_range(pl.len()).over(group) == 0
    same_series = pl.col("exam_date").eq_missing(pl.col("exam_date").first().over(group))
    losers = (
        scored.filter(shared)
        .sort(
            ["upn", "_code", "exam_date", "points", "qan", "grade", "_row"],
            descending=[False, False, False, True, False, False, False],
            nulls_last=True,
        )
        .select(
            "_row",
            pl.when(same_series).then(pl.lit(DISCOUNTED)).otherwise(pl.lit(LATER_ENTRY)).alias("_lost"),
            pl.col("qan").first().over(group).alias("discounted_by"),
            first.alias("_first"),
        )
        .filter(~pl.col("_first"))
        .drop("_first")
    )
    return (
        scored.join(losers, on="_row", how="left")
        .with_columns(pl.coalesce("reason", "_lost").alias("reason"))
        .drop("_lost")
    )


def _expand_double_awards(counted: pl.DataFrame) -> pl.DataFrame:
    """A double award (combined science) fills up to two slots, each scoring its points."""
    first = counted.with_columns(pl.lit(1, dtype=pl.Int8).alias("entry"))
    second = first.filter(pl.col("double_award").fill_null(False)).with_columns(
        pl.lit(2, dtype=pl.Int8).alias("entry")
    )
    return pl.concat([first, second])


def _best_first(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.sort(
        ["upn", "points", "qan", "grade", "entry"], descending=[False, True, False, False, False]
    )


def _rank_within(frame: pl.DataFrame, name: str) -> pl.DataFrame:
    return frame.with_columns(pl.int_range(pl.len()).over("upn").alias(name))


def _fill_slots(counted: pl.DataFrame) -> pl.DataFrame:
    """Put each counted entry in its slot: maths (the best maths, double), English (the better of
    language and literature, double only when both were taken), EBacc (best three of sciences,
    humanities, languages), open (best three of everything left). Adds slot and weight."""
    entries = _best_first(_expand_double_awards(counted))
    pillar = pl.col("pillar")
    # Maths and English: the best of each pillar; English language and literature compete for one.
    is_english = pillar.is_in([ENGLISH_LANGUAGE, ENGLISH_LITERATURE])
    entries = entries.with_columns(
        (pl.int_range(pl.len()).over(["upn", pillar == MATHS]) == 0).alias("_best_maths"),
        (pl.int_range(pl.len()).over(["upn", is_english]) == 0).alias("_best_english"),
        (
            (pillar == ENGLISH_LANGUAGE).any().over("upn") & (pillar == ENGLISH_LITERATURE).any().over("upn")
        ).alias("_both_englishes"),
    )
    maths = (pillar == MATHS) & pl.col("_best_maths")
    english = is_english & pl.col("_best_english")
    entries = entries.with_columns(
        pl.when(maths)
        .then(pl.lit(MATHS_SLOT))
        .when(english)
        .then(pl.lit(ENGLISH_SLOT))
        .otherwise(None)
        .alias("slot"),
        pl.when(maths)
        .then(2)
        .when(english)
        .then(pl.when(pl.col("_both_englishes")).then(2).otherwise(1))
        .otherwise(1)
        .cast(pl.Int8)
        .alias("weight"),
    )
    # EBacc: the best three of the EBacc pool not already used.
    in_pool = pl.col("slot").is_null() & pillar.is_in(EBACC_POOL)
    entries = entries.with_columns(
        pl.when(in_pool).then(pl.int_range(pl.len()).over(["upn", in_pool])).otherwise(None).alias("_e")
    ).with_columns(pl.when(pl.col("_e") < 3).then(pl.lit(EBACC_SLOT)).otherwise(pl.col("slot")).alias("slot"))
    # Open: the best three of whatever is left.
    left = pl.col("slot").is_null()
    entries = entries.with_columns(
        pl.when(left).then(pl.int_range(pl.len()).over(["upn", left])).otherwise(None).alias("_o")
    ).with_columns(
        pl.when(pl.col("_o") < 3).then(pl.lit(OPEN_SLOT)).otherwise(pl.col("slot")).alias("slot"),
    )
    return entries.with_columns(
        pl.when(pl.col("slot").is_null()).then(pl.lit(NOT_BEST)).otherwise(pl.col("reason")).alias("reason")
    ).drop("_best_maths", "_best_english", "_both_englishes", "_e", "_o")


# Each entry's category in Attainment 8, the order a pupil's entries are listed in for _headline.
_MATHS, _ENGLISH, _POOL, _OTHER = 0, 1, 2, 3
# Keys are whole numbers: points in hundredths (DfE's points have at most two decimals) below the span,
# so category * span + (span - 1 - hundredths) sorts by category, then by points from the highest.
_KEY_SPAN = 100_000


def _headline(entries: pl.DataFrame) -> pl.DataFrame:
    """Per pupil, in one pass: A8 and its elements, slots filled, EBacc entry and APS, English and
    maths 4+/5+. The same choices as _fill_slots, by arithmetic on each pupil's points: maths and
    English take their best, EBacc the best three of its pool, open the best three of everything
    left (the other English, further maths, EBacc beyond three, and the rest).

    Speed: one grouping makes one sorted list per pupil of keys (category, then points from the
    highest); each category is a slice of it, found from the category counts. Masks are plain
    columns made before grouping: aggregating plain columns is much faster than filtering inside
    each aggregation."""
    pillar = pl.col("pillar")
    points = pl.col("points")
    science = pillar == "science"
    category = (
        pl.when(pillar == MATHS)
        .then(_MATHS)
        .when(pillar.is_in([ENGLISH_LANGUAGE, ENGLISH_LITERATURE]))
        .then(_ENGLISH)
        .when(pillar.is_in(EBACC_POOL))
        .then(_POOL)
        .otherwise(_OTHER)
    )
    flags = {
        "_lang": pillar == ENGLISH_LANGUAGE,
        "_lit": pillar == ENGLISH_LITERATURE,
        "_maths_taken": pillar == MATHS,
        "_humanity": pillar == "humanities",
        "_language": pillar == "languages",
        "_combined": science & pl.col("double_award"),
    }
    masked = entries.select(
        "upn",
        # Highest points first within a category: the key counts down from the category's top.
        (category * _KEY_SPAN + (_KEY_SPAN - 1 - (points * 100).round(0).cast(pl.Int64))).alias("_key"),
        *((category == c).cast(pl.UInt8).alias(f"_n{c}") for c in (_MATHS, _ENGLISH, _POOL)),
        pl.when(science).then(points).alias("_science_points"),
        pl.when(pillar == "humanities").then(points).alias("_humanity_points"),
        pl.when(pillar == "languages").then(points).alias("_language_points"),
        (science & ~pl.col("double_award") & (pl.col("entry") == 1))
        .fill_null(False)
        .alias("_single_science"),
        *(mask.fill_null(False).alias(name) for name, mask in flags.items()),
    )
    per_pupil = masked.group_by("upn").agg(
        pl.col("_key").sort(),
        *(pl.col(f"_n{c}").sum() for c in (_MATHS, _ENGLISH, _POOL)),
        pl.col("_science_points").sort(descending=True, nulls_last=True).head(2).sum().alias("_science_two"),
        pl.col("_humanity_points").max().fill_null(0.0).alias("_humanity_best"),
        pl.col("_language_points").max().fill_null(0.0).alias("_language_best"),
        pl.col("_single_science").sum().alias("_single_sciences"),
        *(pl.col(name).any() for name in flags),
    )
    # Back from keys to points (key mod span is span - 1 - hundredths), then each category's slice.
    listed = per_pupil.with_columns(
        pl.col("_key").list.eval((_KEY_SPAN - 1 - (pl.element() % _KEY_SPAN)) / 100).alias("_points"),
        pl.col("_n0").cast(pl.Int64),
        (pl.col("_n0").cast(pl.Int64) + pl.col("_n1")).alias("_start_pool"),
    ).with_columns((pl.col("_start_pool") + pl.col("_n2")).alias("_start_other"))
    all_points = pl.col("_points")
    maths = all_points.list.slice(0, pl.col("_n0"))
    english = all_points.list.slice(pl.col("_n0"), pl.col("_n1"))
    pool = all_points.list.slice(pl.col("_start_pool"), pl.col("_n2"))
    other = all_points.list.slice(pl.col("_start_other"))
    ebacc = pool.list.head(3)
    open_ = (
        pl.concat_list(maths.list.slice(1), english.list.slice(1), pool.list.slice(3), other)
        .list.sort(descending=True)
        .list.head(3)
    )
    maths_best = maths.list.first()
    english_best = english.list.first()
    both_englishes = pl.col("_lang") & pl.col("_lit")
    return listed.select(
        "upn",
        (english_best.fill_null(0.0) * pl.when(both_englishes).then(2.0).otherwise(1.0)).alias("a8_english"),
        (maths_best.fill_null(0.0) * 2).alias("a8_maths"),
        (ebacc.list.sum() + 0.0).alias("a8_ebacc"),  # + 0.0: an empty sum is -0.0
        (open_.list.sum() + 0.0).alias("a8_open"),
        ebacc.list.len().cast(pl.Int8).alias("ebacc_slots_filled"),
        open_.list.len().cast(pl.Int8).alias("open_slots_filled"),
        # EBacc entry: both Englishes, maths, combined science or two sciences, a humanity, a language.
        (
            both_englishes
            & pl.col("_maths_taken")
            & (pl.col("_combined") | (pl.col("_single_sciences") >= 2))
            & pl.col("_humanity")
            & pl.col("_language")
        ).alias("ebacc_entered"),
        # EBacc APS: English, maths, best two science slots, best humanity, best language; 0 if none.
        (
            (
                english_best.fill_null(0.0)
                + maths_best.fill_null(0.0)
                + pl.col("_science_two")
                + pl.col("_humanity_best")
                + pl.col("_language_best")
            )
            / 6
        ).alias("ebacc_aps"),
        maths_best.alias("_maths"),
        english_best.alias("_english"),
    )


def pupil_measures(
    results: pl.DataFrame,
    pupils: pl.DataFrame,
    points: pl.DataFrame,
    estimates: Estimates | None = None,
) -> PupilMeasures:
    """The measures of every pupil in ``pupils`` (columns upn, ks2_reading, ks2_maths, and any
    characteristics, carried through) from their ``results`` (upn, qan, grade, exam_date), scored with
    ``points`` (points_table). Without estimates, Progress 8 is left empty."""
    scored = _discount(_score(results, points))
    headline = _headline(_expand_double_awards(scored.filter(pl.col("reason").is_null())))

    base = pupils.unique(subset="upn", keep="first", maintain_order=True).with_columns(
        pl.col("upn").cast(pl.String)
    )
    for column in ("ks2_reading", "ks2_maths"):
        if column not in base.columns:
            base = base.with_columns(pl.lit(None, dtype=pl.Float64).alias(column))
    table = base.join(headline, on="upn", how="left").with_columns(
        pl.col("a8_english", "a8_maths", "a8_ebacc", "a8_open").fill_null(0.0),
        pl.col("ebacc_slots_filled", "open_slots_filled").fill_null(0),
        pl.col("ebacc_entered").fill_null(False),
        pl.col("ebacc_aps").fill_null(0.0),
        # KS2 prior attainment: the mean of reading and maths (one alone when only one was taken).
        pl.mean_horizontal(
            pl.col("ks2_reading").cast(pl.Float64), pl.col("ks2_maths").cast(pl.Float64)
        ).alias("ks2_pa"),
    )
    table = table.with_columns(
        (pl.col("a8_english") + pl.col("a8_maths") + pl.col("a8_ebacc") + pl.col("a8_open")).alias("a8"),
        ((pl.col("_maths") >= 4) & (pl.col("_english") >= 4)).fill_null(False).alias("em_4plus"),
        ((pl.col("_maths") >= 5) & (pl.col("_english") >= 5)).fill_null(False).alias("em_5plus"),
    ).drop("_maths", "_english")
    table = _progress(table, estimates)
    others = [c for c in table.columns if c not in PUPIL_COLUMNS]
    return PupilMeasures(table.select(PUPIL_COLUMNS + others), scored, estimates.label if estimates else None)


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
    table = table.join(groups, on="pag", how="left")
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
        table.join(floors, on="pag", how="left")
        .with_columns(
            pl.when(below).then(pl.col("p8_floor")).otherwise(pl.col("p8")).alias("p8_adjusted"),
            pl.when(pl.col("p8").is_null())
            .then(None)
            .otherwise(below.fill_null(False))
            .alias("p8_was_adjusted"),
        )
        .drop("p8_floor")
    )


def with_national_floors(measures: PupilMeasures) -> tuple[PupilMeasures, pl.DataFrame]:
    """For a national cohort scored against estimates without floors (DfE publishes none): the
    floors from this cohort's own P8 distribution, as DfE sets them, applied. Returns the measures
    and the floors."""
    floors = national_floors(measures.pupils.select("pag", "p8").drop_nulls())
    pupils = _apply_floors(measures.pupils, floors).select(measures.pupils.columns)
    return dataclasses.replace(measures, pupils=pupils), floors


def _slots_table(scored: pl.DataFrame, entries: pl.DataFrame) -> pl.DataFrame:
    columns = [
        "upn",
        "qan",
        "title",
        "grade",
        "exam_date",
        "points",
        "double_award",
        "entry",
        "slot",
        "weight",
        "reason",
    ]
    not_counted = scored.filter(pl.col("reason").is_not_null()).with_columns(
        pl.lit(1, dtype=pl.Int8).alias("entry"),
        pl.lit(None, dtype=pl.String).alias("slot"),
        pl.lit(0, dtype=pl.Int8).alias("weight"),
    )
    both = pl.concat(
        [
            entries.select([*columns, "discounted_by"]),
            not_counted.select([*columns, "discounted_by"]),
        ],
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


def _result_line(row: dict[str, Any]) -> str:
    """One result and what it counted for."""
    what = f"{row['title'] or row['qan']} ({row['qan']}) grade {row['grade']}"
    if row["slot"] is not None:
        weight = ", counted twice" if row["weight"] == 2 else ""
        double = f" (double award, slot {row['entry']} of 2)" if row["double_award"] else ""
        return f"{what}: {row['points']:g} points{weight} in {_SLOT_WORDS[row['slot']]}{double}."
    if row["reason"] == DISCOUNTED:
        return f"{what}: discounted, it shares a discount code with {row['discounted_by']}, which counts."
    if row["reason"] == LATER_ENTRY:
        return f"{what}: a later entry; the first entry ({row['discounted_by']}) counts."
    if row["reason"] == NOT_BEST:
        return f"{what}: {row['points']:g} points, not among the best three for the open slots."
    return f"{what}: does not count ({row['reason']})."


def _figure_lines(p: dict[str, Any], label: str | None) -> list[str]:
    """A pupil's figures, after the results."""
    lines = [
        f"Attainment 8 {p['a8']:g}: English {p['a8_english']:g}, maths {p['a8_maths']:g}, "
        f"EBacc {p['a8_ebacc']:g} ({p['ebacc_slots_filled']} of 3 slots), open {p['a8_open']:g} "
        f"({p['open_slots_filled']} of 3 slots)."
    ]
    if p["p8"] is None:
        reason = "no KS2 prior attainment" if p["ks2_pa"] is None else "no estimates for this year"
        lines.append(f"No Progress 8: {reason}.")
    else:
        adjusted = f", raised to the floor {p['p8_adjusted']:.2f}" if p["p8_was_adjusted"] else ""
        lines.append(
            f"Progress 8 {p['p8']:.2f}{adjusted}: KS2 prior attainment {p['ks2_pa']:g}, group {p['pag']}, "
            f"against {label}."
        )
    return lines


def explanations(measures: PupilMeasures, upns: list[str] | None = None) -> dict[str, list[str]]:
    """Each pupil's explanation (all pupils if ``upns`` is None), in one pass over their results:
    each result and what it counted for, then their figures, in plain words."""
    lines: dict[str, list[str]] = defaultdict(list)
    for row in measures.slots(upns).iter_rows(named=True):
        lines[row["upn"]].append(_result_line(row))
    pupils = measures.pupils if upns is None else measures.pupils.filter(pl.col("upn").is_in(upns))
    for pupil in pupils.iter_rows(named=True):
        lines[pupil["upn"]].extend(_figure_lines(pupil, measures.estimates_label))
    return dict(lines)


def explain(measures: PupilMeasures, upn: str) -> list[str]:
    """One pupil's explanation."""
    return explanations(measures, [upn]).get(upn, [])
