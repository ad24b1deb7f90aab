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

import itertools
import json
import math
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import polars as pl

from keystage.core.measures.ks4.pupils import PupilMeasures
from keystage.core.measures.ks4.schools import (
    Z_95,
    Group,
    GroupSpec,
    chosen_groups,
    group_codes,
    significance,
)
from keystage.core.measures.rows import pupil_rows

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
        pupil = _pupil_numbers(scored, self.pupils)
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
        has_va = (self._residual != _NO_VA).astype(np.int64)
        # An entry counts 1 and, with a PAG, 1 in a higher field: one sum gives both counts.
        self._count_bits = max(1, self._pupil.size.bit_length())
        self._counts = _Whole.of(1 + (has_va << self._count_bits))
        self._points = _Whole.of(self._hundredths)
        self._va = _Whole.of(np.where(has_va == 1, self._residual, 0))
        # Each subject's first grade number: a subject's grades are numbered together (_subjects).
        self._first_grade = np.full(self.subjects.height, np.iinfo(np.int64).max, dtype=np.int64)
        np.minimum.at(self._first_grade, by_row["subject"], by_row["grade"])
        self._cache: dict[tuple[str, ...] | None, _Sums] = {}
        self._pair_numbers: _Pairs | None = None
        # Rows list subjects by name: each subject's place in that order, as a number to sort by.
        self._subject_order = self.subjects.select(
            pl.struct("subject_name", "subject").rank("ordinal").cast(pl.Int64)
        ).to_series()
        self._subject_order_numbers = self._subject_order.to_numpy()
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

    # Speed: every entry is counted once per school and group value (_school_sums) by numpy's
    # bincount over densely numbered cells, several times faster than a group-by; trusts, LAs and the
    # nation add up those sums, which are exact whole numbers, rather than the entries.

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
        pairs = self._pairs()

        def group_sums(order: int, group: Group) -> tuple[pl.DataFrame, pl.DataFrame, tuple[str, list[str]]]:
            codes, names = group_codes(self.pupils, group)
            if len(names) >= 1 << _VALUE_BITS:
                raise ValueError(f"the pupil group {group.name!r} has too many values")
            value = codes.cast(pl.Int64).fill_null(-1).to_numpy()
            part, cohort = self._group_sums(pairs, value, len(names))
            number = pl.lit(order, dtype=pl.Int64).alias("_group_order")
            return part.with_columns(number), cohort.with_columns(number), (group.name, names)

        # bincount lets other threads run: two groups at a time, one per core.
        with ThreadPoolExecutor(max_workers=2) as pool:
            grades = pool.submit(self._grade_counts, pairs)
            parts = list(pool.map(group_sums, range(len(groups)), groups))
        result = _Sums(
            pairs.school_names,
            [labels for _, _, labels in parts],
            pl.concat([sums for sums, _, _ in parts]),
            pl.concat([cohorts for _, cohorts, _ in parts]),
            grades.result(),
        )
        if cacheable:
            self._cache[key] = result
        return result

    def _pairs(self) -> _Pairs:
        """The schools numbered in name order, and the (school, subject) pairs with an entry."""
        if self._pair_numbers is not None:
            return self._pair_numbers
        if "school" not in self.pupils.columns:
            raise ValueError("the pupils table has no column 'school'")
        schools = self.pupils.get_column("school").cast(pl.String)
        school_names = schools.drop_nulls().unique().sort()
        school = schools.replace_strict(
            school_names, list(range(school_names.len())), default=-1, return_dtype=pl.Int64
        ).to_numpy()
        subjects = self.subjects.height
        entry_school = school[self._pupil]
        distinct, place = _numbered(
            np.where(entry_school >= 0, entry_school * subjects + self._subject, -1),
            school_names.len() * subjects,
        )
        self._pair_numbers = _Pairs(
            school_names, school, place, place >= 0, distinct // subjects, distinct % subjects
        )
        return self._pair_numbers

    def _group_sums(self, pairs: _Pairs, value: np.ndarray, values: int) -> tuple[pl.DataFrame, pl.DataFrame]:
        """One pupil group (``value``: each pupil's number in it, -1 for none, below ``values``): per
        (school, value, subject) the entries and their sums; per (school, value) the cohort."""
        values = max(values, 1)  # a group no pupil has a value of: every pupil is -1
        schools = pairs.school_names.len()
        in_group = (pairs.school >= 0) & (value >= 0)
        cells = _Cells(np.where(in_group, pairs.school * values + value, -1), schools * values)
        cohort = cells.counts()
        used = np.flatnonzero(cohort)
        found = cells.keys(used)
        cohorts = pl.DataFrame(
            {"_owner": found // values, "_value_order": found % values, "cohort": cohort[used]},
            schema=_int_schema("_owner", "_value_order", "cohort"),
        )
        entry_value = value[self._pupil]
        cells = _Cells(
            np.where(pairs.has_pair & (entry_value >= 0), pairs.entry_pair * values + entry_value, -1),
            pairs.subject.size * values,
        )
        counts = cells.sums(self._counts, most=self._pupil.size)
        used = np.flatnonzero(counts)
        counts = counts[used]
        entries = counts & ((1 << self._count_bits) - 1)
        most = int(entries.max()) if entries.size else 0
        found = cells.keys(used)
        pair = found // values
        sums = pl.DataFrame(
            {
                "_owner": pairs.school_of_pair[pair],
                "_value_order": found % values,
                "_subject": pairs.subject[pair],
                "entries": entries,
                "_sum_hundredths": cells.sums(self._points, most)[used],
                "va_pupils": counts >> self._count_bits,
                "_sum_va": cells.sums(self._va, most)[used],
            },
            schema=_int_schema("_owner", "_value_order", "_subject", *_ADDED),
        )
        return sums, cohorts

    def _grade_counts(self, pairs: _Pairs) -> pl.DataFrame:
        """Entries per (school, subject, grade), all pupils."""
        # A subject's grades are numbered together (_subjects), so a grade is its subject's first
        # number plus its place, and a (pair, place) cell is a whole number below pairs x places.
        local = self._grade - self._first_grade[self._subject]
        places = int(local.max()) + 1 if local.size else 1
        cells = _Cells(
            np.where(pairs.has_pair, pairs.entry_pair * places + local, -1), pairs.subject.size * places
        )
        counts = cells.counts()
        used = np.flatnonzero(counts)
        found = cells.keys(used)
        pair = found // places
        subject = pairs.subject[pair]
        return pl.DataFrame(
            {
                "_owner": pairs.school_of_pair[pair],
                "_subject": subject,
                "_grade": self._first_grade[subject] + found % places,
                "n": counts[used],
            },
            schema=_int_schema("_owner", "_subject", "_grade", "n"),
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
        labels = ["_group_order", "_value_order"]

        def add_up(frame: pl.DataFrame, keys: list[str], added: tuple[str, ...]) -> pl.DataFrame:
            return (
                frame.with_columns(pl.lit(owner_code).gather(pl.col("_owner")).alias("_owner"))
                .filter(pl.col("_owner").is_not_null())
                .group_by("_owner", *keys)
                .agg(pl.col(name).sum() for name in added)
            )

        rolled = _Sums(
            owners,
            school_sums.groups,
            add_up(school_sums.sums, [*labels, "_subject"], _ADDED),
            add_up(school_sums.cohorts, labels, ("cohort",)),
            add_up(school_sums.grades, ["_subject", "_grade"], ("n",)),
        )
        return self._figures(rolled, by)

    def _figures(self, sums: _Sums, by: str) -> pl.DataFrame:
        """The figures of each (owner, group value, subject) from its sums."""
        if sums.owners.len() >= _MOST_OWNERS:
            raise ValueError(f"at most {_MOST_OWNERS:,} schools, trusts or LAs at once")
        # Owners, groups and values are numbered in the order the rows are listed in, so one whole
        # number finds a row's cohort and, with the subject's place, orders the rows: many times faster
        # than joining or sorting by several columns or by names.
        columns = {name: sums.sums.get_column(name).to_numpy() for name in sums.sums.columns}
        place = _place(columns["_owner"], columns["_group_order"], columns["_value_order"])
        order = np.argsort(place * (1 << _SUBJECT_BITS) + self._subject_order_numbers[columns["_subject"]])
        columns = {name: values[order] for name, values in columns.items()}
        place = place[order]
        cohort_place = _place(*(sums.cohorts.get_column(c).to_numpy() for c in _GROUP_LABELS))
        by_place = np.argsort(cohort_place)
        # Every row's group value has pupils, so its cohort is found.
        columns["cohort"] = sums.cohorts.get_column("cohort").to_numpy()[
            by_place[np.searchsorted(cohort_place, place, sorter=by_place)]
        ]
        table = pl.DataFrame(columns)
        everyone = _everyone(sums.groups)
        if everyone is None:
            table = table.with_columns(pl.lit(None, dtype=pl.String).alias("grades"))
        else:
            texts = self._grades_text(sums.grades)
            text_key = (
                texts.get_column("_owner").to_numpy() << _SUBJECT_BITS
                | texts.get_column("_subject").to_numpy()
            )
            by_key = np.argsort(text_key)
            # The grades are shown on the rows of all pupils, each (owner, subject)'s once.
            rows = np.flatnonzero(
                (columns["_group_order"] == everyone[0]) & (columns["_value_order"] == everyone[1])
            )
            row_key = columns["_owner"][rows] << _SUBJECT_BITS | columns["_subject"][rows]
            text = np.full(table.height, -1, dtype=np.int64)
            text[rows] = by_key[np.searchsorted(text_key, row_key, sorter=by_key)]
            table = table.with_columns(
                pl.lit(texts.get_column("grades"))
                .gather(pl.when(pl.lit(pl.Series(text)) >= 0).then(pl.lit(pl.Series(text))))
                .alias("grades")
            )
        group_names = pl.Series([name for name, _ in sums.groups], dtype=pl.String)
        # Every group's value names in one list: a value is named by its group's offset plus its number.
        every_value = pl.Series([value for _, names in sums.groups for value in names], dtype=pl.String)
        offsets = pl.Series(
            list(itertools.accumulate((len(names) for _, names in sums.groups), initial=0))[:-1],
            dtype=pl.Int64,
        )
        sd = pl.Series(self._sd, dtype=pl.Float64)
        subject_sd = pl.lit(sd).gather(pl.col("_subject"))
        half = Z_95 * subject_sd / pl.col("va_pupils").cast(pl.Float64).sqrt()
        with_ci = pl.when((pl.col("va_pupils") > 0) & (subject_sd > 0))
        return (
            table.lazy()
            .with_columns(
                pl.lit(sums.owners).gather(pl.col("_owner")).alias(by),
                pl.lit(group_names).gather(pl.col("_group_order")).alias("group"),
                pl.lit(every_value)
                .gather(pl.lit(offsets).gather(pl.col("_group_order")) + pl.col("_value_order"))
                .alias("value"),
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


def _pupil_numbers(scored: pl.DataFrame, pupils: pl.DataFrame) -> pl.Series:
    """Each result's pupil's row in ``pupils``: the one scoring found (_p) while it still names the
    same pupil for every result (pupils may have been replaced since), else looked up again. Checking
    is many times cheaper than looking up."""
    if "_p" in scored.columns and scored.height:
        found = scored.get_column("_p")
        if found.null_count() == 0 and int(found.max()) < pupils.height:  # type: ignore[arg-type]
            same = pupils.get_column("upn").cast(pl.String).gather(found) == scored.get_column("upn")
            if same.all():
                return found
    return pupil_rows(scored, pupils)


@dataclass(frozen=True)
class _Pairs:
    school_names: pl.Series  # in name order: a school's number is its place here
    school: np.ndarray  # each pupil's school's number, -1 for none
    entry_pair: np.ndarray  # each entry's (school, subject) pair's number, -1 if its pupil has no school
    has_pair: np.ndarray  # entry_pair >= 0
    school_of_pair: np.ndarray  # each pair's school and subject, pairs in that order
    subject: np.ndarray


@dataclass(frozen=True)
class _Sums:
    owners: pl.Series  # the owners' names (schools', trusts' ...), in name order: _owner numbers them
    groups: list[tuple[str, list[str]]]  # each group's name and value names: _group_order, _value_order
    sums: pl.DataFrame  # _owner, _group_order, _value_order, _subject, then _ADDED
    cohorts: pl.DataFrame  # _owner, _group_order, _value_order, cohort
    grades: pl.DataFrame  # _owner, _subject, _grade, n (all pupils)


_ADDED = ("entries", "_sum_hundredths", "va_pupils", "_sum_va")
_NO_VA = np.iinfo(np.int64).min  # an entry whose pupil has no PAG


_GROUP_LABELS = ("_owner", "_group_order", "_value_order")


def _place(owner: np.ndarray, group: np.ndarray, value: np.ndarray) -> np.ndarray:
    """One whole number per (owner, group, value), in the order rows are listed in."""
    place: np.ndarray = ((owner << _GROUP_BITS) | group) << _VALUE_BITS | value
    return place


def _int_schema(*names: str) -> dict[str, pl.DataType]:
    return {name: pl.Int64() for name in names}


def _everyone(groups: list[tuple[str, list[str]]]) -> tuple[int, int] | None:
    """The numbers of the group "all" and its value "all", whose rows carry the grades."""
    for order, (name, names) in enumerate(groups):
        if name == "all" and "all" in names:
            return order, names.index("all")
    return None


# Cells are counted in an array as long as their whole range while it is at most this many times the
# number of keys (plus a little): beyond, the keys are sorted and numbered instead.
_DENSE_PER_KEY, _DENSE_MINIMUM = 8, 1 << 20


def _is_dense(keys: int, size: int) -> bool:
    return size <= _DENSE_PER_KEY * keys + _DENSE_MINIMUM


def _numbered(key: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """The distinct keys of ``key`` (whole numbers below ``size``; -1 for none), in order, and each
    key's place among them (-1 for none)."""
    valid = key >= 0
    if size == 0:
        return np.zeros(0, dtype=np.int64), np.full(key.size, -1, dtype=np.int64)
    if _is_dense(key.size, size):
        present = np.bincount(key[valid], minlength=size) > 0
        number = np.cumsum(present) - 1
        return np.flatnonzero(present), np.where(valid, number[np.where(valid, key, 0)], -1)
    distinct, place = np.unique(key[valid], return_inverse=True)
    numbers = np.full(key.size, -1, dtype=np.int64)
    numbers[valid] = place
    return distinct, numbers


@dataclass(frozen=True)
class _Whole:
    """Whole numbers to be added up exactly by numpy's bincount, which adds in floating point."""

    values: np.ndarray
    as_float: np.ndarray
    largest: int  # the largest absolute value

    @classmethod
    def of(cls, values: np.ndarray) -> _Whole:
        largest = int(np.abs(values).max()) if values.size else 0
        return cls(values, values.astype(np.float64), largest)


class _Cells:
    """Keys (whole numbers below ``size``; -1 for none) put in slots for bincount: a slot per possible
    key while that range is small enough, else a slot per distinct key (sorted and numbered); one
    more slot, last, gathers the keys of none."""

    def __init__(self, key: np.ndarray, size: int) -> None:
        self._distinct: np.ndarray | None = None
        if _is_dense(key.size, size):
            self.slots = size
            self.slot = np.where(key >= 0, key, size)
        else:
            self._distinct, numbers = _numbered(key, size)
            self.slots = self._distinct.size
            self.slot = np.where(numbers >= 0, numbers, self.slots)

    def keys(self, slots: np.ndarray) -> np.ndarray:
        """The key of each of ``slots``."""
        return slots if self._distinct is None else self._distinct[slots]

    def counts(self) -> np.ndarray:
        """How many keys are in each slot."""
        return np.bincount(self.slot, minlength=self.slots + 1)[: self.slots]

    def sums(self, whole: _Whole, most: int) -> np.ndarray:
        """Per slot, the exact sum of ``whole`` (one number per key), no slot holding more than
        ``most`` keys: bincount's floating-point sums are exact while every partial sum stays below
        2**53, so larger numbers are added in two halves."""
        width = self.slots + 1
        if whole.largest * most < 1 << 53:
            return np.rint(np.bincount(self.slot, weights=whole.as_float, minlength=width)).astype(np.int64)[
                :-1
            ]
        high, low = whole.values >> 26, whole.values & ((1 << 26) - 1)
        added = np.rint(np.bincount(self.slot, weights=high, minlength=width)).astype(np.int64) << 26
        return (added + np.rint(np.bincount(self.slot, weights=low, minlength=width)).astype(np.int64))[:-1]


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
