"""The Attainment 8 slot rule, once: each pupil's counted entries put in their slots (maths, the best
maths, counted twice; English, the better of language and literature, twice when both were taken;
EBacc, the best three of sciences, humanities and languages; open, the best three of everything left),
and the figures that follow: A8 and its elements, EBacc entry and average point score, English and
maths 4+/5+. Rules: shared/domain/ks4-measures.md.

One pass (_slot_pass) gives both: every pupil's figures (headline_figures, for pupil_measures) and,
when asked, the slot each entry fills (slots_table, what an explanation reads).
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import polars as pl

from keystage.core.measures.ks4.points import EBACC_POOL, ENGLISH_LANGUAGE, ENGLISH_LITERATURE, MATHS
from keystage.core.measures.ks4.scoring import COUNTS
from keystage.core.measures.rows import pupil_rows

# The slots a counted entry fills, and the reason one fills none.
MATHS_SLOT, ENGLISH_SLOT, EBACC_SLOT, OPEN_SLOT = "maths", "english", "ebacc", "open"
NOT_BEST = "not among the best"


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


def numbered_points(points: pl.DataFrame) -> pl.DataFrame:
    """The points table with what the slot rule needs as numbers: each row's points in hundredths,
    rank best first, category, pool kind, whether a double award, and its entries' sort key below the
    pupil (low_key)."""
    if points.height > _RANK_TOP + 1:
        raise ValueError(f"the points table has more than {_RANK_TOP + 1:,} rows")
    pillar = pl.col("pillar")
    # Each row's place best first: the order _best_first puts a pupil's entries in.
    best_first = _best_first(points.with_row_index("_row")).get_column("_row").to_numpy()
    rank = np.empty(points.height, dtype=np.int64)
    rank[best_first] = np.arange(points.height)
    numbered = points.select(
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


def headline_figures(scored: pl.DataFrame, numbered: pl.DataFrame, pupils: int) -> dict[str, pl.Series]:
    """Per pupil (by pupil number 0 .. pupils - 1): A8 and its elements, slots filled, EBacc entry and
    APS, English and maths 4+/5+, by the slot rule (_slot_pass)."""
    # Results that do not count, or of no pupil asked about, are put after the last pupil (and never
    # read): cheaper than filtering them out.
    numbers = scored.select(
        pl.when(pl.col("_reason") == COUNTS).then(pl.col("_p")).fill_null(pupils).cast(pl.Int64),
        pl.col("_k").fill_null(0),
    )
    keys, _ = _entry_keys(numbers.get_column("_p").to_numpy(), numbers.get_column("_k").to_numpy(), numbered)
    parts, _ = _slot_pass(keys, pupils, numbered)
    return _figures(parts)


def _figures(parts: dict[str, np.ndarray]) -> dict[str, pl.Series]:
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


def slots_table(
    results: pl.DataFrame, scored: pl.DataFrame, pupils: pl.DataFrame, numbered: pl.DataFrame
) -> pl.DataFrame:
    """One row per result of ``results`` (scoring.scored_results; ``scored``: the same results as
    numbers) and per slot of a double award, with the slot it filled (and its weight, and which
    entry of a double award it is) or why it does not count: what an explanation reads. Sorted by
    pupil, slot, points from the highest."""
    entries = _slot_entries(results, scored, pupils, numbered)
    not_counted = results.filter(pl.col("reason").is_not_null()).with_columns(
        pl.lit(1, dtype=pl.Int8).alias("entry"),
        pl.lit(None, dtype=pl.String).alias("slot"),
        pl.lit(0, dtype=pl.Int8).alias("weight"),
    )
    both = pl.concat(
        [entries.select(_EXPLAINED), not_counted.select(_EXPLAINED)],
        how="vertical_relaxed",
    )
    order = pl.col("slot").replace_strict(
        {name: number for number, name in enumerate(_SLOT_NAMES)}, default=_NO_SLOT, return_dtype=pl.Int8
    )
    return both.sort(
        [pl.col("upn"), order, pl.col("points").neg(), pl.col("qan"), pl.col("entry")], nulls_last=True
    )


def _slot_entries(
    results: pl.DataFrame, scored: pl.DataFrame, pupils: pl.DataFrame, numbered: pl.DataFrame
) -> pl.DataFrame:
    """Each counted entry of ``results`` (a double award: two) with the slot it fills (slot, weight,
    entry: 1, or 2 for a double award's second), or the reason not among the best: by the slot rule
    (_slot_pass). ``scored``: the same results as numbers; ``pupils``: whose they are (a result of a
    pupil not among them is slotted with the other results of its UPN)."""
    counts = scored.get_column("_reason") == COUNTS
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
