"""KS4 subject-level measures: for each subject, its entries, the share of the cohort entered, average
points, the distribution of grades and subject value added, for every school (or trust, or LA) and
pupil group, and nationally.

A subject is DfE's discount code: the same subject whoever awards it (AQA's and OCR's GCSE Biology are
both "Biology"), named by DfE's description of the code. A qualification without a code is a subject of
its own, named by its title. An entry is a result that counts after discounting (``pupils.py``), so a
pupil has at most one entry per subject. A double award (combined science) is one entry whose points
are those of each of its two slots.

Subject value added compares each entry's points with the national mean points in that subject of the
entrants in the same prior attainment group (PAG): value added = points - expected points. A school's
(a group's) value added in a subject is the mean over its entrants who have a PAG, with a 95% confidence
interval of +/- 1.96 x SD / sqrt(n), SD being the national standard deviation of entrants' value added
in the subject. DfE publishes no subject estimates, so the expected points always come from the pupils
given: on the platform, every school's that year (``SubjectMeasures.label`` says how many). This is the
usual subject value added of school analysis services (e.g. the "EBacc value added by subject" of seed
004); [check] that DfE's subject progress methodology, if it publishes one, agrees.

Every figure is worked from exact whole numbers (points in hundredths, value added fixed to 1e-9), so the
order of the rows never changes one.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import polars as pl

from keystage.core.measures.ks4.pupils import PupilMeasures
from keystage.core.measures.ks4.schools import (
    Z_95,
    GroupSpec,
    chosen_groups,
    group_codes,
    significance,
    value_names,
)
from keystage.core.measures.ks4.scoring import pupil_rows

SUBJECT_COLUMNS = (
    "group",
    "value",
    "subject",
    "subject_name",
    "cohort",
    "entries",
    "entry_share",
    "average_points",
    "va_pupils",
    "va",
    "va_ci_low",
    "va_ci_high",
    "significance",
    "grades",
)
NATIONAL = "national"

_SCALE = 1_000_000_000  # value added is summed as whole billionths: exact, whatever the order of rows
_VALUE_BITS, _SUBJECT_BITS = 20, 20  # an aggregation key: (school << 40) | (value << 20) | subject
_GROUP_BITS = 5  # the sort key: owner, group (at most 32), value, subject
_MOST_OWNERS = 1 << (63 - _GROUP_BITS - _VALUE_BITS - _SUBJECT_BITS)


class SubjectMeasures:
    """The subject entries of ``measures`` (pupils with a PAG are compared with the national expected
    points), ready to be aggregated by school, trust or LA and pupil group (``table``) or over all
    pupils (``national``).

    ``descriptions``: DfE's description of each discount code (``Catalogue.discount_descriptions``);
    ``basis`` says in the label whose mean points the entries are compared with."""

    def __init__(
        self,
        measures: PupilMeasures,
        descriptions: Mapping[str, str] | None = None,
        *,
        basis: str = "the national",
    ) -> None:
        self.pupils = measures.pupils
        self.subjects, by_row = _subjects(measures.points, descriptions or {})
        scored = measures.scored.filter((pl.col("_reason") == 0) & pl.col("_k").is_not_null())
        pupil = pupil_rows(scored, self.pupils)
        entries = scored.select(pl.col("_k").cast(pl.Int64), pupil.alias("_pupil")).filter(
            pl.col("_pupil").is_not_null()
        )
        k = entries.get_column("_k").to_numpy()
        self._pupil = entries.get_column("_pupil").cast(pl.Int64).to_numpy()
        self._subject = by_row["subject"][k]
        self._hundredths = by_row["hundredths"][k]
        self._grade = by_row["grade"][k]
        self._grade_names = by_row["grade_names"]
        pags = (
            self.pupils.get_column("pag").cast(pl.Int64)
            if "pag" in self.pupils.columns
            else pl.Series([None] * self.pupils.height, dtype=pl.Int64)
        )
        self.expectations, self._residual, self._sd = self._expected(pags)
        self._cache: dict[tuple[str, ...] | None, _Sums] = {}
        # Rows list subjects by name: each subject's place in that order, as a number to sort by.
        self._subject_order = self.subjects.select(
            pl.struct("subject_name", "subject").rank("ordinal").cast(pl.Int64)
        ).to_series()
        with_pag = int((self._residual != _NO_VA).sum())
        self.label = (
            f"Subject value added against {basis} mean points of entrants with the same prior "
            f"attainment ({with_pag:,} entries)"
        )

    def entries(self) -> pl.DataFrame:
        """Every entry: the pupil (upn), the subject (code and name), its points and its grade."""
        grades = pl.Series([json.loads(text) for text in self._grade_names], dtype=pl.String)
        return pl.DataFrame(
            {
                "upn": self.pupils.get_column("upn").gather(self._pupil),
                "subject": self.subjects.get_column("subject").gather(self._subject),
                "subject_name": self.subjects.get_column("subject_name").gather(self._subject),
                "points": self._hundredths / 100,
                "grade": grades.gather(self._grade),
            }
        )

    def average_points(self) -> pl.DataFrame:
        """Each pupil's KS4 average point score: the mean points of their entries (each subject once,
        after discounting), the prior attainment KS5 estimates read; pupils without an entry are left
        out. (upn, ks4_aps)"""
        if len(self._pupil) == 0:
            return pl.DataFrame(schema={"upn": pl.String, "ks4_aps": pl.Float64})
        total = np.bincount(self._pupil, weights=self._hundredths, minlength=self.pupils.height)
        count = np.bincount(self._pupil, minlength=self.pupils.height)
        entered = count > 0
        return pl.DataFrame(
            {
                "upn": self.pupils.get_column("upn").filter(pl.Series(entered)),
                "ks4_aps": total[entered] / count[entered] / 100,
            }
        )

    def _expected(self, pags: pl.Series) -> tuple[pl.DataFrame, np.ndarray, np.ndarray]:
        """The national expected points per subject and PAG, each entry's value added (fixed point;
        _NO_VA without a PAG) and each subject's SD of value added."""
        pag = pags.to_numpy(allow_copy=True)
        entry_pag = pag[self._pupil] if self._pupil.size else np.array([], dtype=float)
        has_pag = ~np.isnan(entry_pag.astype(float))
        subjects = self.subjects.height
        width = int(np.nanmax(pag)) + 1 if has_pag.any() else 1
        cell = np.where(has_pag, self._subject * width + np.nan_to_num(entry_pag).astype(np.int64), -1)
        known = cell >= 0
        cells = subjects * width
        counts = np.bincount(cell[known], minlength=cells)
        h = self._hundredths[known]
        sums = np.bincount(cell[known], weights=h.astype(np.float64), minlength=cells)
        squares = np.bincount(cell[known], weights=(h * h).astype(np.float64), minlength=cells)
        # Whole hundredths, so these float sums are exact (well below 2**53) and so order-free.
        count_int = counts.astype(np.int64)
        sum_int = np.rint(sums).astype(np.int64)
        square_int = np.rint(squares).astype(np.int64)
        residual = np.full(self._pupil.size, _NO_VA, dtype=np.int64)
        n = count_int[cell[known]]
        residual[known] = np.rint(
            (h * n - sum_int[cell[known]]).astype(np.float64) / (n * 100) * _SCALE
        ).astype(np.int64)
        # The SD of value added in a subject: the spread of points about each PAG's mean, pooled.
        sd = np.zeros(subjects)
        for subject in range(subjects):
            spread, total = 0.0, 0
            for index in range(subject * width, (subject + 1) * width):
                c = int(count_int[index])
                if c:
                    s = int(sum_int[index])
                    spread += (c * int(square_int[index]) - s * s) / c / 10_000
                    total += c
            sd[subject] = math.sqrt(spread / total) if total else 0.0
        occupied = np.flatnonzero(count_int)
        expectations = pl.DataFrame(
            {
                "subject": self.subjects.get_column("subject").gather(occupied // width),
                "subject_name": self.subjects.get_column("subject_name").gather(occupied // width),
                "pag": pl.Series(occupied % width, dtype=pl.Int64),
                "entrants": pl.Series(count_int[occupied], dtype=pl.Int64),
                "expected_points": sum_int[occupied] / (count_int[occupied] * 100),
            }
        ).sort("subject", "pag")
        return expectations, residual, sd

    def national(self, *, group_columns: GroupSpec = None) -> pl.DataFrame:
        """The figures over all pupils (first column "national", always "national"), per pupil group
        value: the like-for-like comparators of schools' figures."""
        return self._rolled_up(NATIONAL, lambda schools: pl.Series([NATIONAL] * schools.len()), group_columns)

    def table(self, by: str = "school", *, group_columns: GroupSpec = None) -> pl.DataFrame:
        """One row per (``by``, group, value, subject) with at least one entry, ``by`` being "school"
        or a column of the pupils naming each school's trust or LA ("trust", "la"; pupils with none
        are left out; all the pupils of a school must have the same):

        - cohort: pupils in the group value; entries, entry_share (entries / cohort);
        - average_points: mean points of the entries;
        - va_pupils: entries with a PAG; va: their mean value added, va_ci_low, va_ci_high its 95%
          CI, significance ("above", "below", "not significant"; null without a CI);
        - grades (on the ("all", "all") rows; null on the others): JSON text, [grade, entries] for
          each grade entered, highest points first, e.g. [["9", 3], ["8", 5]] (a list, as JSON
          objects need not keep their order). A filtered view of one school counts its own grades.

        Sorted by ``by``, group (in the order asked for), value (in the group's order), subject name.
        ``group_columns`` as for ``school_measures``. Pupils without a school are in no table (their
        entries still count in the national expected points)."""
        if by == "school":
            return self._figures(self._school_sums(group_columns), by)
        if by not in self.pupils.columns:
            raise ValueError(f"the pupils table has no column {by!r} to aggregate by")
        # A school's trust (LA) is the one its pupils name; pupils who name none take their school's.
        owners = self.pupils.group_by("school").agg(
            pl.col(by).cast(pl.String).drop_nulls().unique().sort().alias("_owners")
        )
        mixed = owners.filter(pl.col("_owners").list.len() > 1).sort("school")
        if mixed.height:
            raise ValueError(f"the pupils of school {mixed.item(0, 'school')} name more than one {by}")
        mapping = dict(owners.select("school", pl.col("_owners").list.first()).iter_rows())
        return self._rolled_up(
            by,
            lambda schools: schools.replace_strict(mapping, default=None, return_dtype=pl.String),
            group_columns,
        )

    # Speed: every pupil's entries are summed once per school and group value (_school_sums); trusts,
    # LAs and the nation add up those sums, which are exact whole numbers, rather than the entries.

    def _school_sums(self, group_columns: GroupSpec) -> _Sums:
        # Kept for the trusts', LAs' and nation's roll-ups of the same groups (not for groups given
        # as Group objects, which cannot be compared).
        cacheable = not isinstance(group_columns, Mapping)
        key = None
        if cacheable and group_columns is not None:
            key = group_columns = tuple(group_columns)  # an iterator would be used up by the key
        if cacheable and key in self._cache:
            return self._cache[key]
        groups = chosen_groups(self.pupils, group_columns)
        if not groups:
            raise ValueError("no pupil groups to compute")
        if len(groups) > 1 << _GROUP_BITS:
            raise ValueError(f"at most {1 << _GROUP_BITS} pupil groups at once")
        if self.subjects.height >= 1 << _SUBJECT_BITS:
            raise ValueError("too many subjects")
        if "school" not in self.pupils.columns:
            raise ValueError("the pupils table has no column 'school'")
        if self.pupils.height >= 1 << (63 - _SUBJECT_BITS - _VALUE_BITS):
            raise ValueError("too many pupils")  # so that school numbers fit in the keys
        schools = self.pupils.get_column("school").cast(pl.String)
        school_names = schools.drop_nulls().unique().sort()
        school = schools.replace_strict(
            school_names, list(range(school_names.len())), default=-1, return_dtype=pl.Int64
        ).to_numpy()
        sums, cohorts = [], []
        for order, group in enumerate(groups):
            codes, names = group_codes(self.pupils, group)
            if len(names) >= 1 << _VALUE_BITS:
                raise ValueError(f"the pupil group {group.name!r} has too many values")
            value = codes.cast(pl.Int64).fill_null(-1).to_numpy()
            part, cohort = self._group_sums(school, value)
            label = [
                pl.lit(group.name).alias("group"),
                value_names(names),
                pl.lit(order, dtype=pl.Int64).alias("_group_order"),
            ]
            sums.append(part.with_columns(label))
            cohorts.append(cohort.with_columns(label))
        grades = self._grade_counts(school)
        owner = pl.col("_school").alias("_owner")
        result = _Sums(
            school_names,
            pl.concat(sums).with_columns(owner).drop("_school"),
            pl.concat(cohorts).with_columns(owner).drop("_school"),
            grades.with_columns(owner).drop("_school"),
        )
        if cacheable:
            self._cache[key] = result
        return result

    def _group_sums(self, school: np.ndarray, value: np.ndarray) -> tuple[pl.DataFrame, pl.DataFrame]:
        """One pupil group: per (school, value, subject) the entries and their sums; per (school,
        value) the cohort."""
        ok = (school >= 0) & (value >= 0)
        pair = np.where(ok, (school << _VALUE_BITS) | np.where(ok, value, 0), -1)
        cohorts = (
            pl.DataFrame({"_pair": pair[ok]})
            .group_by("_pair")
            .len("cohort")
            .select(
                (pl.col("_pair") // (1 << _VALUE_BITS)).alias("_school"),
                (pl.col("_pair") % (1 << _VALUE_BITS)).alias("_value_order"),
                pl.col("cohort").cast(pl.Int64),
            )
        )
        entry_pair = pair[self._pupil]
        kept = entry_pair >= 0
        residual = self._residual[kept]
        has_va = residual != _NO_VA
        sums = (
            pl.DataFrame(
                {
                    "_key": (entry_pair[kept] << _SUBJECT_BITS) | self._subject[kept],
                    "_h": self._hundredths[kept],
                    "_va": np.where(has_va, residual, 0),
                    "_has_va": has_va,
                }
            )
            .group_by("_key")
            .agg(
                pl.len().cast(pl.Int64).alias("entries"),
                pl.col("_h").sum().alias("_sum_hundredths"),
                pl.col("_has_va").sum().cast(pl.Int64).alias("va_pupils"),
                pl.col("_va").sum().alias("_sum_va"),
            )
            .select(
                (pl.col("_key") // (1 << (_SUBJECT_BITS + _VALUE_BITS))).alias("_school"),
                (pl.col("_key") // (1 << _SUBJECT_BITS) % (1 << _VALUE_BITS)).alias("_value_order"),
                (pl.col("_key") % (1 << _SUBJECT_BITS)).alias("_subject"),
                *_ADDED,
            )
        )
        return sums, cohorts

    def _grade_counts(self, school: np.ndarray) -> pl.DataFrame:
        """Entries per (school, subject, grade), all pupils."""
        entry_school = school[self._pupil]
        kept = entry_school >= 0
        return (
            pl.DataFrame(
                {
                    "_school": entry_school[kept],
                    "_subject": self._subject[kept],
                    "_grade": self._grade[kept],
                }
            )
            .group_by("_school", "_subject", "_grade")
            .len("n")
            .with_columns(pl.col("n").cast(pl.Int64))
        )

    def _rolled_up(
        self, by: str, owner_of: Callable[[pl.Series], pl.Series], group_columns: GroupSpec
    ) -> pl.DataFrame:
        """The school sums added up by owner: ``owner_of`` gives each school's (null: none)."""
        school_sums = self._school_sums(group_columns)
        owner_names = owner_of(school_sums.owners).cast(pl.String)
        owners = owner_names.drop_nulls().unique().sort()
        # Each school's owner by number (owners in name order), null for a school with none.
        owner_code = owner_names.replace_strict(
            owners, list(range(owners.len())), default=None, return_dtype=pl.Int64
        )
        labels = ["group", "value", "_group_order", "_value_order"]

        def add_up(frame: pl.DataFrame, keys: list[str], added: list[str]) -> pl.DataFrame:
            return (
                frame.with_columns(pl.lit(owner_code).gather(pl.col("_owner")).alias("_owner"))
                .filter(pl.col("_owner").is_not_null())
                .group_by("_owner", *keys)
                .agg(pl.col(name).sum() for name in added)
            )

        rolled = _Sums(
            owners,
            add_up(school_sums.sums, [*labels, "_subject"], [c.meta.output_name() for c in _ADDED]),
            add_up(school_sums.cohorts, labels, ["cohort"]),
            add_up(school_sums.grades, ["_subject", "_grade"], ["n"]),
        )
        return self._figures(rolled, by)

    def _figures(self, sums: _Sums, by: str) -> pl.DataFrame:
        """The figures of each (owner, group value, subject) from its sums."""
        if sums.owners.len() >= _MOST_OWNERS:
            raise ValueError(f"at most {_MOST_OWNERS:,} schools, trusts or LAs at once")
        # Joined on the groups' and values' numbers, cheaper than their names.
        cohorts = sums.cohorts.select("_owner", "_group_order", "_value_order", "cohort")
        table = sums.sums.join(cohorts, on=["_owner", "_group_order", "_value_order"], how="left")
        everyone = (pl.col("group") == "all") & (pl.col("value") == "all")
        with_grades = table.filter(everyone).join(
            self._grades_text(sums.grades), on=["_owner", "_subject"], how="left"
        )
        table = pl.concat(
            [with_grades, table.filter(~everyone).with_columns(pl.lit(None, dtype=pl.String).alias("grades"))]
        )
        sd = pl.Series(self._sd, dtype=pl.Float64)
        subject_sd = pl.lit(sd).gather(pl.col("_subject"))
        half = Z_95 * subject_sd / pl.col("va_pupils").cast(pl.Float64).sqrt()
        with_ci = pl.when((pl.col("va_pupils") > 0) & (subject_sd > 0))
        return (
            table.lazy()
            .with_columns(
                pl.lit(self.subjects.get_column("subject")).gather(pl.col("_subject")).alias("subject"),
                pl.lit(self.subjects.get_column("subject_name"))
                .gather(pl.col("_subject"))
                .alias("subject_name"),
                (pl.col("entries") / pl.col("cohort")).alias("entry_share"),
                (pl.col("_sum_hundredths") / (pl.col("entries") * 100)).alias("average_points"),
                pl.when(pl.col("va_pupils") > 0)
                .then(pl.col("_sum_va") / (pl.col("va_pupils") * _SCALE))
                .alias("va"),
            )
            # Rounded to the fixed point's resolution, so that the nation's is 0 rather than -1e-12.
            .with_columns(
                pl.col("va").round(9).pipe(lambda va: pl.when(va == 0).then(0.0).otherwise(va)).alias("va")
            )
            .with_columns(
                with_ci.then(pl.col("va") - half).alias("va_ci_low"),
                with_ci.then(pl.col("va") + half).alias("va_ci_high"),
            )
            .with_columns(significance(pl.col("va_ci_low"), pl.col("va_ci_high")).alias("significance"))
            .with_columns(pl.lit(self._subject_order).gather(pl.col("_subject")).alias("_subject_order"))
            # Owners are numbered in name order, so one whole number orders the rows as asked, and
            # sorting by it is many times faster than by four columns or by names.
            .sort(
                (
                    (pl.col("_owner") * (1 << _GROUP_BITS) + pl.col("_group_order")) * (1 << _VALUE_BITS)
                    + pl.col("_value_order")
                )
                * (1 << _SUBJECT_BITS)
                + pl.col("_subject_order")
            )
            .with_columns(pl.lit(sums.owners).gather(pl.col("_owner")).alias(by))
            .select(by, *SUBJECT_COLUMNS)
            .collect()
        )

    def _grades_text(self, counts: pl.DataFrame) -> pl.DataFrame:
        """Per (owner, subject), the JSON text of entries per grade, in the order of the subject's
        grades."""
        counted = counts.sort("_owner", "_subject", "_grade")
        # The grade texts are looked up before grouping: a literal inside a group's aggregation is
        # copied for every group.
        texts = pl.Series(self._grade_names, dtype=pl.String).gather(counted.get_column("_grade"))
        return (
            counted.with_columns(pl.format("[{}, {}]", texts, pl.col("n")).alias("_pair"))
            .group_by("_owner", "_subject", maintain_order=True)
            .agg(pl.col("_pair").str.join(", "))
            .select(
                "_owner", "_subject", pl.concat_str(pl.lit("["), pl.col("_pair"), pl.lit("]")).alias("grades")
            )
        )


@dataclass(frozen=True)
class _Sums:
    owners: pl.Series  # the owners' names (schools', trusts' ...), in name order: _owner numbers them
    sums: pl.DataFrame  # _owner, group labels, _subject, then _ADDED
    cohorts: pl.DataFrame  # _owner, group labels, cohort
    grades: pl.DataFrame  # _owner, _subject, _grade, n (all pupils)


_ADDED = (
    pl.col("entries"),
    pl.col("_sum_hundredths"),
    pl.col("va_pupils"),
    pl.col("_sum_va"),
)
_NO_VA = np.iinfo(np.int64).min  # an entry whose pupil has no PAG


def _subjects(
    points: pl.DataFrame, descriptions: Mapping[str, str]
) -> tuple[pl.DataFrame, dict[str, np.ndarray]]:
    """The subjects of the points table (subject, subject_name, numbered from 0 in code order) and, per
    points-table row: its subject's number, points in hundredths and grade's number, with the grade
    texts numbered so that within a subject higher points come first."""
    coded = points.with_row_index("_row").with_columns(
        pl.coalesce(pl.col("discount_code"), pl.col("qan")).alias("subject"),
        (pl.col("points") * 100).round(0).cast(pl.Int64).alias("_h"),
    )
    named = (
        coded.sort("qan")
        .group_by("subject", maintain_order=True)
        .agg(pl.col("title").first(), pl.col("discount_code").first())
        .sort("subject")
        .with_row_index("_subject")
    )
    described = {code: text for code, text in descriptions.items() if text}
    named = named.with_columns(
        pl.when(pl.col("discount_code").is_not_null())
        .then(
            pl.col("discount_code").replace_strict(described, default=pl.col("title"), return_dtype=pl.String)
        )
        .otherwise(pl.col("title"))
        .fill_null(pl.col("subject"))
        .alias("subject_name")
    )
    # Each subject's grades numbered highest points first (then by text), so that sorting by number
    # lists a subject's grades in order.
    grade_order = (
        coded.group_by("subject", "grade")
        .agg(pl.col("_h").max())
        .sort(["subject", "_h", "grade"], descending=[False, True, False])
        .with_row_index("_grade")
    )
    rows = (
        coded.join(named.select("subject", "_subject"), on="subject", how="left")
        .join(grade_order.select("subject", "grade", "_grade"), on=["subject", "grade"], how="left")
        .sort("_row")
    )
    grade_names = [json.dumps(text) for text in grade_order.get_column("grade")]  # quoted for JSON
    return named.select("subject", "subject_name"), {
        "subject": rows.get_column("_subject").cast(pl.Int64).to_numpy(),
        "hundredths": rows.get_column("_h").to_numpy(),
        "grade": rows.get_column("_grade").cast(pl.Int64).to_numpy(),
        "grade_names": np.array(grade_names, dtype=object),
    }
