"""KS4 school-level measures: every headline figure for all pupils and for each pupil group, with
Progress 8 confidence intervals, banding and significance; national figures and comparators; school
percentiles and quintiles; trust and LA aggregates.

Input is the pupil table (one row per pupil, from ``pupils.py``) joined with the pupils'
characteristics; see ``school_measures`` for the columns. Everything is vectorised Polars: one
group-by per pupil group (a loop over the dozen groups, never over pupils). Rules:
shared/domain/ks4-measures.md.

Figures are unrounded; shares (``ebacc_entry``, ``em_4plus``, ``em_5plus``) are fractions from 0 to
1 of the group's cohort. Small groups are computed like any other (suppressing them is the reports'
job); a group value no pupil has is absent. The order of the input rows never changes a figure:
means are exact sums of fixed-point values (see ``_mean``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import polars as pl

from keystage.core.measures.ks4.estimates import ELEMENTS, Estimates

Z_95 = 1.96  # two-sided 95% confidence
WELL_ABOVE = 0.5  # banding thresholds on school P8 (with the CI wholly above/below 0)
WELL_BELOW = -0.5

# Prior attainment bands from the pupil's KS2 average scaled score (reading and maths), as DfE has
# banded them since the 2020/21 KS4 performance tables, the first whose pupils had KS2 scaled scores:
# low below 100 (below the expected standard), middle 100 up to 110, high 110 and above. Source: DfE's
# KS4 performance tables publication of 4 November 2021, as summarised for schools by 4Matrix
# (help.4matrix.com, "Key Stage 2 Prior Attainment Bands with Scaled Scores", August 2022). The earlier
# cut-off of 90 for low came from our own brief and was wrong.
PRIOR_BAND_MIDDLE_FROM = 100.0
PRIOR_BAND_HIGH_FROM = 110.0

MONTHS = (
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
)
ACADEMIC_YEAR_MONTHS = (*MONTHS[8:], *MONTHS[:8])  # September (oldest in the year group) first

REQUIRED_COLUMNS = (
    "school",
    "a8",
    "a8_english",
    "a8_maths",
    "a8_ebacc",
    "a8_open",
    "ebacc_entered",
    "ebacc_aps",
    "em_4plus",
    "em_5plus",
    "p8",
    "p8_english",
    "p8_maths",
    "p8_ebacc",
    "p8_open",
    "p8_adjusted",
    "p8_was_adjusted",
)

# The national figures copied next to a school's by ``with_comparators``.
COMPARED = (
    "cohort",
    "a8",
    "p8",
    "p8_english",
    "p8_maths",
    "p8_ebacc",
    "p8_open",
    "ebacc_entry",
    "ebacc_aps",
    "em_4plus",
    "em_5plus",
)


@dataclass(frozen=True, eq=False)
class Group:
    """A way of dividing pupils: ``value`` gives each pupil's value (Utf8) in it, null for a pupil in
    none of its values (e.g. EAL unknown, no KS2 for the prior attainment bands). ``values`` is the
    display order; None means the values found in the data, in alphabetical order."""

    name: str
    columns: tuple[str, ...]
    value: pl.Expr
    values: tuple[str, ...] | None


def _mapped(column: str, mapping: dict[Any, str]) -> pl.Expr:
    return pl.col(column).replace_strict(mapping, default=None, return_dtype=pl.String)


def _codes(column: str, mapping: dict[str, str]) -> pl.Expr:
    return (
        pl.col(column)
        .cast(pl.String)
        .str.strip_chars()
        .str.to_uppercase()
        .replace_strict(mapping, default=None, return_dtype=pl.String)
    )


def _flag(column: str, yes: str, no: str) -> pl.Expr:
    flag = pl.col(column).cast(pl.Boolean)
    return pl.when(flag).then(pl.lit(yes)).when(flag.not_()).then(pl.lit(no)).otherwise(None)


def _prior_band() -> pl.Expr:
    ks2 = pl.col("ks2_pa").cast(pl.Float64).fill_nan(None)
    return (
        pl.when(ks2.is_null())
        .then(None)
        .when(ks2 < PRIOR_BAND_MIDDLE_FROM)
        .then(pl.lit("low"))
        .when(ks2 < PRIOR_BAND_HIGH_FROM)
        .then(pl.lit("middle"))
        .otherwise(pl.lit("high"))
    )


def _ethnicity() -> pl.Expr:
    value = pl.col("ethnicity_group").cast(pl.String).str.strip_chars()
    return pl.when(value == "").then(None).otherwise(value)


GROUPS: dict[str, Group] = {
    group.name: group
    for group in (
        Group("all", (), pl.lit("all"), ("all",)),
        Group("sex", ("sex",), _codes("sex", {"M": "male", "F": "female"}), ("female", "male")),
        Group(
            "disadvantaged",
            ("disadvantaged",),
            _flag("disadvantaged", "disadvantaged", "other"),
            ("disadvantaged", "other"),
        ),
        Group(
            "sen",
            ("sen",),
            _codes("sen", {"E": "ehcp", "K": "support", "N": "none"}),
            ("ehcp", "support", "none"),
        ),
        Group("eal", ("eal",), _flag("eal", "eal", "english"), ("eal", "english")),
        Group("prior_attainment", ("ks2_pa",), _prior_band(), ("low", "middle", "high")),
        Group(
            "non_mobile",
            ("non_mobile",),
            _flag("non_mobile", "non_mobile", "mobile"),
            ("non_mobile", "mobile"),
        ),
        Group("ethnicity", ("ethnicity_group",), _ethnicity(), None),
        Group(
            "month_of_birth",
            ("month_of_birth",),
            _mapped("month_of_birth", {month: name for month, name in enumerate(MONTHS, start=1)}),
            ACADEMIC_YEAR_MONTHS,
        ),
    )
}

# The disadvantaged switch: by default, disadvantaged pupils are compared with other (non-disadvantaged)
# pupils nationally; every other group value is compared like for like.
DEFAULT_COMPARATORS: dict[tuple[str, str], tuple[str, str]] = {
    ("disadvantaged", "disadvantaged"): ("disadvantaged", "other"),
}

Banding = Literal["well above", "above", "average", "below", "well below"]

GroupSpec = Iterable[str] | Mapping[str, Group] | None


def school_measures(
    pupils: pl.DataFrame, estimates: Estimates, *, group_columns: GroupSpec = None
) -> pl.DataFrame:
    """One row per (school, group, value), including ("all", "all"), with:

    - cohort (pupils), p8_pupils (pupils with a P8);
    - a8, a8_english, a8_maths, a8_ebacc, a8_open: mean points;
    - p8 (mean of p8_adjusted, the headline), p8_unadjusted (mean of p8), p8_english, p8_maths,
      p8_ebacc, p8_open (means of the element scores);
    - p8_ci_low, p8_ci_high: p8 -/+ 1.96 * sd["p8"] / sqrt(p8_pupils); each element likewise
      (p8_english_ci_low ...) with its own national SD and its own count of pupils;
    - banding ("well above", "above", "average", "below", "well below"; null without a P8) and
      significance ("above", "below", "not significant"; null without a P8), both from the
      unrounded P8 and CI: see ``banding``;
    - pupils_adjusted: pupils whose P8 was raised to their group's floor;
    - ebacc_entry (share entered), ebacc_aps (mean), em_4plus, em_5plus (shares);
    - estimates: the label of the estimates used.

    ``pupils`` columns: school (DfE number), a8, a8_english, a8_maths, a8_ebacc, a8_open (Float64),
    ebacc_entered (Boolean), ebacc_aps (Float64), em_4plus, em_5plus (Boolean), p8, p8_english,
    p8_maths, p8_ebacc, p8_open, p8_adjusted (Float64, null without KS2), p8_was_adjusted (Boolean),
    and for the groups: sex ("M"/"F"), disadvantaged (Boolean), sen ("E"/"K"/"N"), eal (Boolean, null
    unknown), ks2_pa (Float64), non_mobile (Boolean), ethnicity_group (Utf8), month_of_birth (1-12).

    ``group_columns``: the names of ``GROUPS`` to compute, or a mapping of name to ``Group`` for groups
    of your own. By default, every group in ``GROUPS`` whose input columns the table has ("all"
    always); a group asked for by name whose columns are missing raises ValueError.

    Rows are sorted by school, then group (in the order asked for) and value (in the group's order).
    """
    return _measures(pupils, estimates, key="school", group_columns=group_columns)


def national_measures(
    pupils: pl.DataFrame, estimates: Estimates, *, group_columns: GroupSpec = None
) -> pl.DataFrame:
    """The same figures as ``school_measures`` over all pupils (school = "national"), for each group
    value: the like-for-like national comparators. CIs and banding are computed too, but of a whole
    nation's P8 they say little."""
    national = pupils.with_columns(pl.lit("national").alias("school"))
    return _measures(national, estimates, key="school", group_columns=group_columns)


def aggregate(
    pupils: pl.DataFrame,
    estimates: Estimates,
    *,
    by: str = "trust",
    group_columns: GroupSpec = None,
) -> pl.DataFrame:
    """Trust or LA figures: the same measures as ``school_measures`` over the pupils of their schools
    (so a trust's P8 is the mean of all its pupils' adjusted P8, not a mean of school figures).
    ``pupils`` has a column ``by`` (e.g. "trust" or "la") naming each pupil's trust or LA; pupils with
    none (a maintained school has no trust) are left out. The first column of the result is ``by``
    instead of "school"."""
    if by not in pupils.columns:
        raise ValueError(f"the pupils table has no column {by!r} to aggregate by")
    if by == "school":
        return school_measures(pupils, estimates, group_columns=group_columns)
    keyed = pupils.filter(pl.col(by).is_not_null()).with_columns(pl.col(by).cast(pl.String).alias("school"))
    return _measures(keyed, estimates, key="school", group_columns=group_columns).rename({"school": by})


def comparator_for(group: str, value: str, *, switch_like_for_like: bool = False) -> tuple[str, str]:
    """The national (group, value) that a school's (group, value) is compared with: like for like,
    except disadvantaged pupils, compared by default with national other (non-disadvantaged)
    pupils; ``switch_like_for_like`` compares them with national disadvantaged pupils instead."""
    if switch_like_for_like:
        return (group, value)
    return DEFAULT_COMPARATORS.get((group, value), (group, value))


def comparator(
    national: pl.DataFrame, group: str, value: str, switch_like_for_like: bool = False
) -> dict[str, Any] | None:
    """The national row (from ``national_measures``) to show beside a school's (group, value) figures,
    chosen by ``comparator_for``; None when the nation has no pupils in that group value."""
    wanted_group, wanted_value = comparator_for(group, value, switch_like_for_like=switch_like_for_like)
    rows = national.filter((pl.col("group") == wanted_group) & (pl.col("value") == wanted_value))
    if rows.height == 0:
        return None
    return rows.row(0, named=True)


def with_comparators(
    table: pl.DataFrame, national: pl.DataFrame, *, switch_like_for_like: bool = False
) -> pl.DataFrame:
    """``table`` (school, trust or LA figures) with the national comparator of each row beside it:
    comparator_group, comparator_value, and national_<figure> for each of ``COMPARED`` (null where the
    nation has no such pupils). Vectorised form of ``comparator``."""
    targets = {
        (group, value): comparator_for(group, value, switch_like_for_like=switch_like_for_like)
        for group, value in DEFAULT_COMPARATORS
    }
    pair = pl.concat_str(pl.col("group"), pl.col("value"), separator="\x1f")
    mapping_group = {f"{g}\x1f{v}": target[0] for (g, v), target in targets.items()}
    mapping_value = {f"{g}\x1f{v}": target[1] for (g, v), target in targets.items()}
    keyed = table.with_columns(
        pair.replace_strict(mapping_group, default=pl.col("group"), return_dtype=pl.String).alias(
            "comparator_group"
        ),
        pair.replace_strict(mapping_value, default=pl.col("value"), return_dtype=pl.String).alias(
            "comparator_value"
        ),
    )
    figures = national.select(
        pl.col("group").alias("comparator_group"),
        pl.col("value").alias("comparator_value"),
        *[pl.col(name).alias(f"national_{name}") for name in COMPARED],
    )
    return keyed.join(figures, on=["comparator_group", "comparator_value"], how="left", maintain_order="left")


def rank_schools(school_table: pl.DataFrame) -> pl.DataFrame:
    """Each school's place among all schools by P8, from the ("all", "all") rows of
    ``school_measures`` that have a P8: school, p8, rank, schools, percentile, quintile.

    rank: 1 for the highest P8; schools with the same P8 share the best rank of their tie ("1224"
    ranking), so ties never depend on row order. P8 is compared rounded to 9 decimal places, so
    that floating-point noise does not split a tie. percentile = ceil(100 * rank / schools): 1 means
    the school is in the top 1% of schools, 100 the bottom; quintile = ceil(5 * rank / schools): 1
    top fifth .. 5 bottom fifth. Sorted by rank, then school.
    """
    for column in ("school", "group", "value", "p8"):
        if column not in school_table.columns:
            raise ValueError(f"the school table lacks the column {column}")
    schools = school_table.filter(
        (pl.col("group") == "all") & (pl.col("value") == "all") & pl.col("p8").is_not_null()
    ).select("school", "p8")
    if schools["school"].n_unique() != schools.height:
        raise ValueError("a school appears twice among the ('all', 'all') rows")
    count = schools.height
    ranked = schools.with_columns(
        pl.col("p8").round(9).rank(method="min", descending=True).cast(pl.Int64).alias("rank"),
        pl.lit(count, dtype=pl.Int64).alias("schools"),
    )
    return ranked.with_columns(
        (pl.col("rank") * 100 / pl.col("schools")).ceil().cast(pl.Int64).alias("percentile"),
        (pl.col("rank") * 5 / pl.col("schools")).ceil().cast(pl.Int64).alias("quintile"),
    ).sort("rank", "school")


def banding(p8: pl.Expr, low: pl.Expr, high: pl.Expr) -> pl.Expr:
    """The rules doc's banding of a P8 and its CI: well above (P8 >= 0.5 and lower CI > 0); above
    (lower CI > 0); well below (P8 <= -0.5 and upper CI < 0); below (upper CI < 0); otherwise
    average (the CI includes 0). Null when P8 is null."""
    return (
        pl.when(p8.is_null() | low.is_null() | high.is_null())
        .then(None)
        .when((low > 0) & (p8 >= WELL_ABOVE))
        .then(pl.lit("well above"))
        .when(low > 0)
        .then(pl.lit("above"))
        .when((high < 0) & (p8 <= WELL_BELOW))
        .then(pl.lit("well below"))
        .when(high < 0)
        .then(pl.lit("below"))
        .otherwise(pl.lit("average"))
    )


def significance(low: pl.Expr, high: pl.Expr) -> pl.Expr:
    """ "above" when the whole CI is above 0, "below" when wholly below, else "not significant"."""
    return (
        pl.when(low.is_null() | high.is_null())
        .then(None)
        .when(low > 0)
        .then(pl.lit("above"))
        .when(high < 0)
        .then(pl.lit("below"))
        .otherwise(pl.lit("not significant"))
    )


def chosen_groups(pupils: pl.DataFrame, group_columns: GroupSpec) -> list[Group]:
    if group_columns is None:
        return [group for group in GROUPS.values() if all(c in pupils.columns for c in group.columns)]
    if isinstance(group_columns, Mapping):
        chosen = list(group_columns.values())
    else:
        names = list(group_columns)
        unknown = [name for name in names if name not in GROUPS]
        if unknown:
            raise ValueError(f"unknown pupil group(s): {', '.join(unknown)} (known: {', '.join(GROUPS)})")
        chosen = [GROUPS[name] for name in names]
    for group in chosen:
        missing = [c for c in group.columns if c not in pupils.columns]
        if missing:
            raise ValueError(f"the pupil group {group.name!r} needs the column(s) {', '.join(missing)}")
    if len({group.name for group in chosen}) != len(chosen):
        raise ValueError("a pupil group is asked for twice")
    return chosen


# Means are taken as exact sums of fixed-point integers (each value rounded to 1e-9), so that no
# figure depends on the order of rows (float addition is not associative); the rounding is far below
# anything reported.
_SCALE = 1_000_000_000
_MEANS = (
    *("a8", "a8_english", "a8_maths", "a8_ebacc", "a8_open", "p8_adjusted", "p8", "ebacc_aps"),
    *(f"p8_{e}" for e in ELEMENTS),
)
_SHARES = {"ebacc_entered": "ebacc_entry", "em_4plus": "em_4plus", "em_5plus": "em_5plus"}


def _fixed(column: str) -> pl.Expr:
    value = pl.col(column).cast(pl.Float64).fill_nan(None)
    return (value * _SCALE).round().cast(pl.Int64, strict=False)


def _counts(frame: pl.DataFrame) -> dict[str, str]:
    """For each averaged column, the column that will hold its count of values per group: "cohort"
    when it is never empty, the count of another column with the same empty rows, or its own. Fewer
    counts to aggregate (Attainment 8 is never empty; P8 and its elements are empty together)."""
    counts: dict[str, str] = {}
    masks: list[tuple[str, pl.Series]] = []
    for column in _MEANS:
        empty = frame.get_column(column).is_null()
        if not empty.any():
            counts[column] = "cohort"
            continue
        same = next((name for name, mask in masks if mask.equals(empty)), None)
        if same is None:
            masks.append((column, empty))
            same = column
        counts[column] = f"_n_{same}"
    return counts


def _sums(counts: dict[str, str]) -> list[pl.Expr]:
    """What each (school, group value) adds up: plain sums and counts, cheap to aggregate; the
    figures are worked out from them afterwards (_figures)."""
    return [
        pl.len().cast(pl.Int64).alias("cohort"),
        *(pl.col(c).sum().alias(f"_sum_{c}") for c in _MEANS),
        *(pl.col(c).count().cast(pl.Int64).alias(f"_n_{c}") for c in _MEANS if counts[c] == f"_n_{c}"),
        *(pl.col(c).sum().cast(pl.Int64).alias(f"_sum_{c}") for c in _SHARES),
        pl.col("_adjusted").sum().cast(pl.Int64).alias("pupils_adjusted"),
    ]


def _figures(counts: dict[str, str]) -> list[pl.Expr]:
    """Means (null when the group has no values) and shares of the cohort, from _sums."""

    def mean(column: str) -> pl.Expr:
        count = pl.col(counts[column])
        # One division of two exact whole numbers: the same answer whatever the layout of the table
        # (dividing by a constant may be done as multiplying by its inverse, a last digit apart).
        return pl.when(count > 0).then(pl.col(f"_sum_{column}") / (count * _SCALE)).cast(pl.Float64)

    return [
        pl.col(counts["p8_adjusted"]).alias("p8_pupils"),
        *(mean(c).alias(c) for c in ("a8", "a8_english", "a8_maths", "a8_ebacc", "a8_open", "ebacc_aps")),
        mean("p8_adjusted").alias("p8"),
        mean("p8").alias("p8_unadjusted"),
        *(mean(f"p8_{e}").alias(f"p8_{e}") for e in ELEMENTS),
        *(
            (pl.col(f"_sum_{flag}").cast(pl.Float64) / pl.col("cohort")).alias(share)
            for flag, share in _SHARES.items()
        ),
    ]


def _ci(measure: str, count: str, sd: float, side: int) -> pl.Expr:
    half = Z_95 * sd / pl.col(count).cast(pl.Float64).sqrt()
    return pl.when(pl.col(count) > 0).then(pl.col(measure) + side * half).otherwise(None)


def group_codes(frame: pl.DataFrame, group: Group) -> tuple[pl.Series, list[str]]:
    """Each pupil's value in the group as a number (null: in none of its values) and the values in
    display order (the group's own, then any others found, alphabetically), so a value's number is
    also its place in the order.

    Speed: a group of one text, yes/no or whole-number column has few distinct values, so its
    expression (trimming, upper-casing, mapping) is worked out once per distinct value and the
    answers looked up per pupil."""
    raw = frame.get_column(group.columns[0]) if len(group.columns) == 1 else None
    if raw is not None and (raw.dtype == pl.String or raw.dtype == pl.Boolean or raw.dtype.is_integer()):
        distinct = raw.unique().drop_nulls()
        answers = pl.DataFrame({raw.name: distinct}).select(group.value.cast(pl.String)).to_series()
        when_null = (
            pl.DataFrame({raw.name: pl.Series([None], dtype=raw.dtype)})
            .select(group.value.cast(pl.String))
            .item()
        )
        found = {*answers.drop_nulls().to_list(), *([when_null] if when_null is not None else [])}
        names = _value_names(group, found)
        number = {name: index for index, name in enumerate(names)}
        codes = [number.get(answer) if answer is not None else None for answer in answers.to_list()]
        default = number.get(when_null) if when_null is not None else None
        return raw.replace_strict(distinct, codes, default=default, return_dtype=pl.UInt32), names
    values = frame.select(group.value.cast(pl.String)).to_series()
    if values.len() == 1 and frame.height != 1:  # a constant, as "all" is
        values = values.new_from_index(0, frame.height)
    names = _value_names(group, set(values.drop_nulls().unique().to_list()))
    return values.replace_strict(names, list(range(len(names))), default=None, return_dtype=pl.UInt32), names


def value_names(names: list[str], codes: str = "_value_order") -> pl.Expr:
    """The group value named by each number in ``codes`` (as numbered by ``group_codes``), as text.
    A group no pupil has a value of (ethnicity with none recorded) has no names: Polars would then
    keep the numbers' type, even through a cast, and the group's table could not be stacked with
    the others'."""
    if not names:
        return pl.lit(None, dtype=pl.String).alias("value")
    return pl.col(codes).replace_strict(list(range(len(names))), names, return_dtype=pl.String).alias("value")


def _value_names(group: Group, found: set[str]) -> list[str]:
    declared = list(group.values or ())
    return declared + sorted(found - set(declared))


def _measures(
    pupils: pl.DataFrame, estimates: Estimates, *, key: str, group_columns: GroupSpec
) -> pl.DataFrame:
    missing = [c for c in REQUIRED_COLUMNS if c not in pupils.columns]
    if missing:
        raise ValueError(f"the pupils table lacks the column(s) {', '.join(missing)}")
    for name in ("p8", *ELEMENTS):
        if name not in estimates.sd or not estimates.sd[name] > 0:
            raise ValueError(f"{estimates.label}: no national standard deviation for {name}")
    groups = chosen_groups(pupils, group_columns)
    needed = list(dict.fromkeys([*REQUIRED_COLUMNS, *(c for group in groups for c in group.columns)]))
    points = [c for c in REQUIRED_COLUMNS if c.startswith(("a8", "p8")) and c != "p8_was_adjusted"]
    flags = ["ebacc_entered", "em_4plus", "em_5plus", "p8_was_adjusted"]
    frame = pupils.select(needed).with_columns(
        pl.col(key).cast(pl.String),
        *[_fixed(c).alias(c) for c in [*points, "ebacc_aps"]],
        *[pl.col(c).cast(pl.Boolean).fill_null(False).alias(c) for c in flags],
    )
    # Speed: grouping by one whole number (the school's and the value's numbers) with plain sums is
    # several times faster than by two strings with conditional means.
    frame = frame.with_columns(
        pl.col(key).cast(pl.Categorical).to_physical().cast(pl.UInt64).alias("_school"),
        (pl.col("p8_was_adjusted") & pl.col("p8_adjusted").is_not_null()).alias("_adjusted"),
    )
    lazy = frame.lazy()
    counts = _counts(frame)
    sums = _sums(counts)
    parts = []
    for order, group in enumerate(groups):
        codes, names = group_codes(frame, group)
        parts.append(
            lazy.with_columns(codes.alias("_value_order"))
            .group_by(pl.col("_school") * (1 << 32) + pl.col("_value_order").cast(pl.UInt64))
            .agg(pl.col(key).first(), pl.col("_value_order").first(), *sums)
            .filter(pl.col("_value_order").is_not_null())
            .with_columns(
                value_names(names),
                pl.lit(group.name).alias("group"),
                pl.lit(order, dtype=pl.Int64).alias("_group_order"),
            )
            .drop("_school")
        )
    if not parts:
        raise ValueError("no pupil groups to compute")
    sd = estimates.sd
    table = (
        pl.concat(pl.collect_all(parts), how="vertical")
        .lazy()
        .with_columns(_figures(counts))
        .with_columns(
            _ci("p8", "p8_pupils", sd["p8"], -1).alias("p8_ci_low"),
            _ci("p8", "p8_pupils", sd["p8"], +1).alias("p8_ci_high"),
            *[
                _ci(f"p8_{e}", counts[f"p8_{e}"], sd[e], side).alias(f"p8_{e}_ci_{end}")
                for e in ELEMENTS
                for side, end in ((-1, "low"), (+1, "high"))
            ],
        )
        .with_columns(
            banding(pl.col("p8"), pl.col("p8_ci_low"), pl.col("p8_ci_high")).alias("banding"),
            significance(pl.col("p8_ci_low"), pl.col("p8_ci_high")).alias("significance"),
            pl.lit(estimates.label).alias("estimates"),
        )
        .sort(key, "_group_order", "_value_order")
        .select(
            key,
            "group",
            "value",
            "cohort",
            "p8_pupils",
            "a8",
            "a8_english",
            "a8_maths",
            "a8_ebacc",
            "a8_open",
            "p8",
            "p8_unadjusted",
            *[f"p8_{e}" for e in ELEMENTS],
            "p8_ci_low",
            "p8_ci_high",
            *[f"p8_{e}_ci_{end}" for e in ELEMENTS for end in ("low", "high")],
            "banding",
            "significance",
            "pupils_adjusted",
            "ebacc_entry",
            "ebacc_aps",
            "em_4plus",
            "em_5plus",
            "estimates",
        )
    )
    return table.collect()
