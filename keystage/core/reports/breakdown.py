"""Filtered breakdowns: one school's (or trust's, LA's) figures by pupil group, worked from its stored
pupil figures for just the pupils a set of filters keeps (e.g. boys who are disadvantaged).

Filters combine: values of one group are alternatives (SEN support or EHC plan), different groups all
apply (boys, and disadvantaged). There is no national figure for a filtered view (as DfE's service:
its national tables are of whole groups), and the pages say so.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from keystage.core.measures.group_figures import SUPPRESS_BELOW, Measure, group_figures
from keystage.core.measures.ks4.schools import GROUPS
from keystage.core.reports.catalogue import GROUP_LABELS, group_values, value_label


@dataclass(frozen=True)
class Filters:
    """group -> the values kept (at least one each)."""

    chosen: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @classmethod
    def parse(cls, query: Mapping[str, Iterable[str]], groups: Iterable[str]) -> Filters:
        """From a query string's lists (``?sex=female&sen=ehcp&sen=support``): only the groups given
        and their known values; anything else is ignored, so a hand-edited address never fails."""
        chosen = {}
        for group in groups:
            known = group_values(group)
            values = tuple(v for v in known if v in set(query.get(group, ())))
            if values:
                chosen[group] = values
        return cls(chosen)

    def __bool__(self) -> bool:
        return bool(self.chosen)

    def describe(self) -> str:
        """E.g. "Gender: Male. Special educational needs (SEN): SEN support or SEN with an EHC plan."."""
        if not self.chosen:
            return "None: all pupils."
        parts = []
        for group, values in self.chosen.items():
            parts.append(f"{GROUP_LABELS[group]}: {' or '.join(value_label(group, v) for v in values)}.")
        return " ".join(parts)

    def apply(self, pupils: pl.DataFrame) -> pl.DataFrame:
        """The pupils every filter keeps (a pupil whose group is unknown is not kept by its filter)."""
        kept = pupils
        for group, values in self.chosen.items():
            spec = GROUPS[group]
            if not all(column in kept.columns for column in spec.columns):
                return kept.clear()
            kept = kept.filter(spec.value.is_in(list(values)).fill_null(False))
        return kept

    def query(self) -> list[tuple[str, str]]:
        return [(group, value) for group, values in self.chosen.items() for value in values]


def breakdown(
    pupils: pl.DataFrame,
    measures: Mapping[str, Measure],
    groups: Iterable[str],
    *,
    below: int = SUPPRESS_BELOW,
) -> list[dict[str, Any]]:
    """Each (group, value) row of the pupils' figures, all pupils first: ``group``, ``value``,
    ``cohort`` and per measure its figure and pupils counted, figures counting fewer than ``below``
    pupils (but some) replaced by None and marked ``<name>_suppressed``."""
    available = [g for g in groups if all(c in pupils.columns for c in GROUPS[g].columns)]
    if pupils.height == 0:
        return []
    table = group_figures(
        pupils.with_columns(pl.lit("this").alias("_whole")),
        measures,
        by="_whole",
        group_columns=["all", *available],
    )
    rows = []
    for row in table.drop("_whole").iter_rows(named=True):
        for name in measures:
            counted = row[f"{name}_pupils"]
            row[f"{name}_suppressed"] = 0 < counted < below
            if row[f"{name}_suppressed"]:
                row[name] = None
        rows.append(row)
    return rows
