"""keystage's KS1-based value added (not DfE's Progress 8): for the KS4 cohorts with no KS2 baseline
(``prior_attainment.NO_PROGRESS8``: summer 2025 and 2026), how pupils' Attainment 8 compares with that
of pupils nationally with the same KS1 teacher assessment. It is keystage's own measure, shown only in
those years and always under ``NAME``; DfE publishes nothing like it.

The method, step by step (the glossary says the same in plain words):

1. KS1 points. Each of the pupil's KS1 teacher assessments in reading, writing and maths (the
   roster's ``ks1_reading``, ``ks1_writing``, ``ks1_maths``: these pupils were assessed in Year 2 in
   summer 2016 and 2017, under the interim frameworks) scores the points of DfE's KS1-KS2 progress
   measure for the KS1 framework of 2016 on, the same table KS2 progress reads
   (``keystage/core/reference/data/ks2_progress.toml``: GDS 10, EXS 8, WTS 6, PKF and PK4 4, PK3
   3.5, PK2 3, PK1 2.5; each value names its source and is marked [check] there). Codes with no
   points give no point score: BLW (below the interim pre-key stage, assessed on P scales the roster
   does not carry), A (absent), D (disapplied), Q, EM, and a blank subject. Any strictly rising
   points that are evenly spaced across WTS, EXS and GDS (DfE has also been quoted as 13, 17, 21)
   give the same groups below, because step 3 groups pupils by equal point scores.
2. KS1 average point score (APS) = mean(mean(reading, writing), maths), as DfE's KS1-KS2 measure
   weights it (English and maths equally); null unless all three subjects have points.
3. Prior attainment group: pupils with the same APS form a group, numbered over every APS the points
   can give, lowest first (``progress.prior_attainment_group``), so a group's number depends only on
   the points table. Why not bands: KS1 teacher assessment has few outcomes, so there are few distinct
   APS values (about 30 occur), each with many pupils nationally; a band would put pupils of
   different KS1 outcomes in one group. (DfE bands KS1 APS into about 20 groups for KS2 progress; we
   do not have its band table.)
4. Group means: the national mean Attainment 8, and of each element, of the group's pupils that
   year, from the platform's national data (every pupil of the year on the platform, with any
   national background): ``national_groups``. They never come from the pupils of one run, so a
   school computed alone gets the same group means as beside others.
5. Pupil value added = (Attainment 8 - group mean) / 10; English and maths elements / 2; EBacc and
   open / 3 (the Progress 8 divisors). No floor is applied to extreme negative scores.
6. School (trust, LA, nation, pupil group) value added = the mean of its pupils' value added, with a
   95% confidence interval of +/- 1.96 x the national standard deviation (ddof 1) of pupils' value
   added / sqrt(pupils), and significance: above (the interval wholly above 0), below, or not
   significant. No banding: banding is Progress 8's.

Pupils without a KS1 APS are not in the value added and are counted, never dropped silently: those
with no KS1 assessment at all (``NO_KS1``), and those whose assessment gives no point score or whose
group has no pupils nationally (``NOT_SCORED``, ``NO_GROUP``).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import polars as pl

from keystage.core.measures.ks4.estimates import DIVISORS, ELEMENTS, PUPIL_POINTS
from keystage.core.measures.ks4.schools import (
    Z_95,
    GroupSpec,
    chosen_groups,
    group_codes,
    significance,
    value_names,
)
from keystage.core.measures.primary import progress
from keystage.core.reference.frameworks import FrameworkLibrary

NAME = "keystage's KS1-based value added (not DfE's Progress 8)"
SUBJECTS = ("reading", "writing", "maths")
KS1_COLUMNS = tuple(f"ks1_{s}" for s in SUBJECTS)  # the roster's KS1 teacher assessment codes
# Why a pupil is not in the value added (``ks1_missing``; null when they are).
NO_KS1 = "no KS1 assessment"
NOT_SCORED = "a KS1 assessment with no point score"
NO_GROUP = "no pupils nationally in their KS1 group"
# Interim KS1 codes of 2016-2018 that no framework file of keystage's carries (the 2022 framework
# has PK1-PK4 and EM instead): BLW, below the interim pre-key stage standards (STA's 2016 KS1 interim
# pre-key stage standards), assessed on P scales. PKF has points in the KS1 points table.
INTERIM_CODES = frozenset({"BLW"})

PUPIL_COLUMNS = (
    "ks1_aps",
    "ks1_pag",
    "ks1_va",
    *(f"ks1_va_{e}" for e in ELEMENTS),
    "ks1_missing",
)
"""The pupil columns ``with_value_added`` adds."""

SCHOOL_COLUMNS = (
    "ks1_va_pupils",
    "ks1_none",
    "ks1_other",
    "ks1_va",
    "ks1_va_ci_low",
    "ks1_va_ci_high",
    *(f"ks1_va_{e}{end}" for e in ELEMENTS for end in ("", "_ci_low", "_ci_high")),
    "ks1_va_significance",
)
"""The columns ``value_added_figures`` gives each (school, group, value) after the key, group, value:
pupils in the value added, pupils with no KS1 assessment, pupils not in it for another reason, the
value added and its interval, each element's, and significance."""

_MEASURES = ("a8", *ELEMENTS)
_VA = {"a8": "ks1_va", **{e: f"ks1_va_{e}" for e in ELEMENTS}}
_SD_KEYS = {"a8": "va", **{e: e for e in ELEMENTS}}
_SCALE = 1_000_000_000  # means as exact sums of fixed-point values, as schools.py takes them


@functools.cache
def _tables() -> progress.ProgressTables:
    return progress.load_tables()


def points() -> dict[str, float]:
    """KS1 teacher assessment code -> points (module docstring, step 1)."""
    return progress.ProgressTables.numbers(_tables().ks1_points)


@functools.cache
def known_codes() -> frozenset[str]:
    """Every KS1 reading, writing or maths code keystage knows: the KS1 frameworks', the points
    table's and the interim ones. Any other value in a KS1 column is reported."""
    library = FrameworkLibrary.from_directory()
    framework_codes = {
        code
        for framework in library.versions("ks1")
        for assessment in framework.assessments
        if assessment.code in {f"ks1_{s}_ta" for s in SUBJECTS}
        for code in assessment.codes
    }
    return frozenset(framework_codes | set(points()) | INTERIM_CODES)


@dataclass(frozen=True)
class Ks1Groups:
    """The national figures the value added is measured against: per KS1 group (``ks1_pag``) its APS,
    its pupils and their mean Attainment 8 and elements; the national standard deviations of pupils'
    value added (None where there are too few pupils to measure one: no interval then)."""

    label: str  # e.g. "keystage's national KS1 groups for 2026 (120,345 pupils)"
    by_group: pl.DataFrame  # ks1_pag, ks1_aps, pupils, a8, english, maths, ebacc, open
    sd: Mapping[str, float | None]  # "va", "english", "maths", "ebacc", "open"

    def to_json(self) -> dict[str, Any]:
        """Plain JSON (no NaN): what a run stores, so a file's pupils can be measured against it."""
        return {
            "label": self.label,
            "groups": [
                {key: _finite(value) for key, value in row.items()}
                for row in self.by_group.iter_rows(named=True)
            ],
            "sd": {key: _finite(value) for key, value in self.sd.items()},
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Ks1Groups:
        rows = list(data.get("groups") or [])
        frame = pl.DataFrame(rows, schema=_GROUP_SCHEMA, orient="row") if rows else _empty_groups()
        sd = {key: data.get("sd", {}).get(key) for key in _SD_KEYS.values()}
        return cls(str(data.get("label", "")), frame, sd)

    def group(self, pag: int) -> dict[str, Any] | None:
        rows = self.by_group.filter(pl.col("ks1_pag") == pag)
        return rows.row(0, named=True) if rows.height else None


_GROUP_SCHEMA: dict[str, Any] = {
    "ks1_pag": pl.Int64,
    "ks1_aps": pl.Float64,
    "pupils": pl.Int64,
    **{m: pl.Float64 for m in _MEASURES},
}


def _empty_groups() -> pl.DataFrame:
    return pl.DataFrame(schema=_GROUP_SCHEMA)


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _code(column: str) -> pl.Expr:
    text = pl.col(column).cast(pl.String).str.strip_chars().str.to_uppercase()
    return pl.when(text == "").then(None).otherwise(text)


def with_ks1_prior(pupils: pl.DataFrame) -> pl.DataFrame:
    """``pupils`` with their KS1 codes tidied (trimmed, upper case, blank as null; a missing column
    as null), ``ks1_aps`` and ``ks1_pag`` (null without points in all three subjects) and
    ``ks1_missing`` (why a pupil has no APS: ``NO_KS1`` or ``NOT_SCORED``; null with one)."""
    frame = pupils.with_columns(
        _code(c).alias(c) if c in pupils.columns else pl.lit(None, pl.String).alias(c) for c in KS1_COLUMNS
    )
    table = points()
    reading, writing, maths = (
        pl.col(c).replace_strict(table, default=None, return_dtype=pl.Float64) for c in KS1_COLUMNS
    )
    aps = ((reading + writing) / 2 + maths) / 2  # as progress.ks1_aps, so the groups match
    frame = frame.with_columns(aps.alias("ks1_aps"))
    none = pl.all_horizontal(pl.col(c).is_null() for c in KS1_COLUMNS)
    return frame.with_columns(
        progress.prior_attainment_group(pl.col("ks1_aps"), _tables()).alias("ks1_pag"),
        pl.when(none)
        .then(pl.lit(NO_KS1))
        .when(pl.col("ks1_aps").is_null())
        .then(pl.lit(NOT_SCORED))
        .otherwise(None)
        .alias("ks1_missing"),
    )


def unknown_codes(pupils: pl.DataFrame) -> list[str]:
    """KS1 codes in the pupils' columns that are not KS1 teacher assessment codes, sorted."""
    known = known_codes()
    found: set[str] = set()
    for column in KS1_COLUMNS:
        if column in pupils.columns:
            found |= {
                v for v in pupils.select(_code(column)).to_series().drop_nulls().unique() if v not in known
            }
    return sorted(found)


def _sorted_mean(column: str) -> pl.Expr:
    return pl.col(column).cast(pl.Float64).fill_nan(None).sort().mean()


def national_groups(pupils: pl.DataFrame, label: str) -> Ks1Groups:
    """The group means and SDs (module docstring, steps 4-6) from the nation's pupils (``with_ks1_prior``
    applied; a8 and its elements as the pupil table names them). Row order changes nothing."""
    with_group = pupils.filter(pl.col("ks1_pag").is_not_null())
    if with_group.height == 0:
        return Ks1Groups(label, _empty_groups(), {key: None for key in _SD_KEYS.values()})
    by_group = (
        with_group.group_by("ks1_pag")
        .agg(
            pl.col("ks1_aps").first(),
            pl.len().cast(pl.Int64).alias("pupils"),
            *(_sorted_mean(PUPIL_POINTS[m]).alias(m) for m in _MEASURES),
        )
        .sort("ks1_pag")
        .select(list(_GROUP_SCHEMA))
        .cast(_GROUP_SCHEMA)  # type: ignore[arg-type]
    )
    scored = _scored(with_group, by_group)
    sd: dict[str, float | None] = {}
    for measure in _MEASURES:
        values = scored.get_column(_VA[measure]).drop_nulls().sort()
        spread = values.std(ddof=1) if values.len() >= 2 else None
        ok = isinstance(spread, float) and math.isfinite(spread) and spread > 0
        sd[_SD_KEYS[measure]] = float(spread) if ok and isinstance(spread, float) else None
    return Ks1Groups(label, by_group, sd)


def _scored(pupils: pl.DataFrame, by_group: pl.DataFrame) -> pl.DataFrame:
    means = by_group.select("ks1_pag", *(pl.col(m).alias(f"_mean_{m}") for m in _MEASURES))
    joined = pupils.join(means, on="ks1_pag", how="left", maintain_order="left")
    return joined.with_columns(
        ((pl.col(PUPIL_POINTS[m]) - pl.col(f"_mean_{m}")) / DIVISORS[m]).alias(_VA[m]) for m in _MEASURES
    ).drop(f"_mean_{m}" for m in _MEASURES)


def with_value_added(pupils: pl.DataFrame, groups: Ks1Groups) -> pl.DataFrame:
    """``pupils`` (``with_ks1_prior`` applied) with each pupil's value added against ``groups``
    (module docstring, step 5), and ``ks1_missing`` ``NO_GROUP`` for a pupil whose group the national
    figures do not have."""
    scored = _scored(pupils.drop([c for c in _VA.values() if c in pupils.columns]), groups.by_group)
    return scored.with_columns(
        pl.when(pl.col("ks1_missing").is_null() & pl.col("ks1_va").is_null())
        .then(pl.lit(NO_GROUP))
        .otherwise(pl.col("ks1_missing"))
        .alias("ks1_missing")
    )


def _fixed(column: str) -> pl.Expr:
    return (pl.col(column).cast(pl.Float64).fill_nan(None) * _SCALE).round().cast(pl.Int64, strict=False)


def value_added_figures(
    pupils: pl.DataFrame, groups: Ks1Groups, *, key: str = "school", group_columns: GroupSpec = None
) -> pl.DataFrame:
    """The value added of each (``key``, pupil group, value) that ``schools.school_measures`` gives a
    row (the same groups, so the tables join): ``key``, group, value, then ``SCHOOL_COLUMNS``.
    ``pupils`` carries ``with_value_added``'s columns and those of its pupil groups."""
    chosen = chosen_groups(pupils, group_columns)
    needed = list(dict.fromkeys([key, *_VA.values(), "ks1_missing", *(c for g in chosen for c in g.columns)]))
    frame = pupils.select(needed).with_columns(
        pl.col(key).cast(pl.String),
        *(_fixed(c).alias(c) for c in _VA.values()),
        (pl.col("ks1_missing") == NO_KS1).fill_null(False).alias("_none"),
        (pl.col("ks1_missing").is_not_null() & (pl.col("ks1_missing") != NO_KS1)).alias("_other"),
    )
    sums = [
        pl.col("ks1_va").count().cast(pl.Int64).alias("ks1_va_pupils"),
        pl.col("_none").sum().cast(pl.Int64).alias("ks1_none"),
        pl.col("_other").sum().cast(pl.Int64).alias("ks1_other"),
        *(pl.col(c).sum().alias(f"_sum_{c}") for c in _VA.values()),
        *(pl.col(c).count().cast(pl.Int64).alias(f"_n_{c}") for c in _VA.values()),
    ]
    parts = []
    for order, group in enumerate(chosen):
        codes, names = group_codes(frame, group)
        part = (
            frame.with_columns(codes.alias("_value_order"))
            .filter(pl.col("_value_order").is_not_null())
            .group_by(key, "_value_order")
            .agg(*sums)
            .with_columns(
                value_names(names),
                pl.lit(group.name).alias("group"),
                pl.lit(order, dtype=pl.Int64).alias("_group_order"),
            )
        )
        parts.append(part)
    if not parts:
        raise ValueError("no pupil groups to compute")
    table = pl.concat(parts, how="vertical").with_columns(
        pl.when(pl.col(f"_n_{c}") > 0)
        .then(pl.col(f"_sum_{c}") / (pl.col(f"_n_{c}") * _SCALE))
        .cast(pl.Float64)
        .alias(c)
        for c in _VA.values()
    )
    table = table.with_columns(
        _interval(measure, groups.sd.get(_SD_KEYS[measure]), side).alias(f"{_VA[measure]}_ci_{end}")
        for measure in _MEASURES
        for side, end in ((-1, "low"), (+1, "high"))
    ).with_columns(
        significance(pl.col("ks1_va_ci_low"), pl.col("ks1_va_ci_high")).alias("ks1_va_significance")
    )
    return table.sort(key, "_group_order", "_value_order").select(key, "group", "value", *SCHOOL_COLUMNS)


def _interval(measure: str, sd: float | None, side: int) -> pl.Expr:
    column, count = _VA[measure], pl.col(f"_n_{_VA[measure]}")
    if sd is None:
        return pl.lit(None, pl.Float64)
    half = Z_95 * sd / count.cast(pl.Float64).sqrt()
    return pl.when(count > 0).then(pl.col(column) + side * half).otherwise(None)


def national_value_added(
    pupils: pl.DataFrame, groups: Ks1Groups, *, group_columns: GroupSpec = None
) -> pl.DataFrame:
    """``value_added_figures`` over all pupils (school "national"), as ``schools.national_measures``."""
    national = pupils.with_columns(pl.lit("national").alias("school"))
    return value_added_figures(national, groups, group_columns=group_columns)


def aggregate_value_added(
    pupils: pl.DataFrame, groups: Ks1Groups, *, by: str, group_columns: GroupSpec = None
) -> pl.DataFrame:
    """``value_added_figures`` of each trust or LA (``by``), over the pupils of all its schools, as
    ``schools.aggregate``; the first column is ``by``."""
    keyed = pupils.filter(pl.col(by).is_not_null()).with_columns(pl.col(by).cast(pl.String).alias("_org"))
    return value_added_figures(keyed, groups, key="_org", group_columns=group_columns).rename({"_org": by})


# In words ----------------------------------------------------------------------------------------


def _pupils(count: int) -> str:
    return f"{count:,} pupil" + ("" if count == 1 else "s")


def missing_words(none: int, other: int) -> str:
    """Who is not in the value added, e.g. "12 pupils have no KS1 assessment and are not in the
    value added"; "" when everyone is."""
    parts = []
    if none:
        parts.append(f"{_pupils(none)} {'has' if none == 1 else 'have'} no KS1 assessment")
    if other:
        parts.append(
            f"{_pupils(other)} {'has' if other == 1 else 'have'} a KS1 assessment that gives no KS1 point "
            "score (e.g. BLW, absent, disapplied or a subject missing)"
        )
    if not parts:
        return ""
    return " and ".join(parts) + (" and is" if none + other == 1 else " and are") + " not in the value added"


def explanation(pupil: Mapping[str, Any], groups: Ks1Groups | None) -> list[str]:
    """A pupil's KS1 prior attainment, group and value added, in words (after their Attainment 8)."""
    codes = ", ".join(f"{s} {pupil.get(f'ks1_{s}') or 'none'}" for s in SUBJECTS)
    missing = pupil.get("ks1_missing")
    if missing == NO_KS1:
        return [f"No {NAME}: no KS1 assessment on record."]
    if missing == NOT_SCORED:
        return [f"No {NAME}: the KS1 assessment ({codes}) gives no KS1 average point score."]
    group = groups.group(int(pupil["ks1_pag"])) if groups is not None and pupil.get("ks1_pag") else None
    prior = (
        f"KS1 prior attainment: {codes}; KS1 average point score {pupil['ks1_aps']:g}, "
        f"KS1 group {pupil['ks1_pag']}"
    )
    if missing == NO_GROUP or group is None or pupil.get("ks1_va") is None:
        return [f"{prior}. No {NAME}: no pupils nationally in that group."]
    label = groups.label if groups is not None else ""
    return [
        f"{prior}.",
        f"{NAME}: {pupil['ks1_va']:+.2f}, Attainment 8 {pupil['a8']:g} against "
        f"{group['a8']:.2f}, the mean of the group's {group['pupils']:,} pupils nationally ({label}).",
    ]


def rows_missing(rows: Iterable[Mapping[str, Any]]) -> tuple[int, int]:
    """(no KS1 assessment, not in the value added for another reason) over pupil rows."""
    none = other = 0
    for row in rows:
        reason = row.get("ks1_missing")
        none += reason == NO_KS1
        other += reason is not None and reason != NO_KS1
    return none, other
