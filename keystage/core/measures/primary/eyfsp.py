"""EYFSP measures, per pupil and per school and pupil group: a good level of development (GLD), the
average number of early learning goals (ELGs) at the expected level, and the share at the expected level
in each ELG and in each area of learning.

Rules, from DfE's EYFSP results methodology (explore-education-statistics, "Early years foundation stage
profile results"): GLD is "at the expected level for all 12 ELGs" of communication and language,
personal, social and emotional development, physical development, literacy and mathematics (the ELGs the
framework tags "gld"); the average number of ELGs is the mean over children of the number at the
expected level, at most 17.

Who counts: a child with an exemption (A) is left out of every EYFSP measure, and so is a child without
a result in every ELG (DfE counts "only pupils with a valid result for every" goal; in DfE's data an A
applies to the whole profile). [check] Both come from a parliamentary answer and analysts' guides, not
current DfE wording.
"""

from __future__ import annotations

import re

import polars as pl

from keystage.core.measures.group_figures import Mean, Measure, Share
from keystage.core.measures.primary.results import flagged, with_results
from keystage.core.reference.frameworks import Framework

PUPIL_COLUMNS = ("upn", "eyfsp_counted", "gld", "elgs_expected")


def area_column(area: str) -> str:
    """The column of an area's measure: "Communication and language" -> "area_communication_and_language"."""
    return "area_" + re.sub(r"[^a-z0-9]+", "_", area.lower()).strip("_")


def elg_column(code: str) -> str:
    return f"{code}_expected"


def eyfsp_measures(framework: Framework) -> dict[str, Measure]:
    """The school figures: gld and each ELG and area (shares), elgs_expected (a mean)."""
    elgs = framework.assessments
    areas = dict.fromkeys(a.area for a in elgs if a.area)
    return {
        "gld": Share("gld"),
        "elgs_expected": Mean("elgs_expected"),
        **{elg_column(a.code): Share(elg_column(a.code)) for a in elgs},
        **{area_column(area): Share(area_column(area)) for area in areas},
    }


def eyfsp_pupils(results: pl.DataFrame, pupils: pl.DataFrame, framework: Framework) -> pl.DataFrame:
    """One row per pupil of ``pupils`` (upn and any characteristics, carried through): eyfsp_counted
    (whether the child counts in the measures), gld, elgs_expected, then for each ELG ``<elg>_expected``
    and for each area ``area_<name>`` (expected in all its ELGs); every measure is null for a child who
    does not count. ``results``: upn, assessment, result."""
    elgs = list(framework.assessments)
    gld_elgs = framework.tagged("gld")
    if not gld_elgs:
        raise ValueError(f"the {framework.collection} {framework.from_year} framework tags no ELG “gld”")
    codes = [a.code for a in elgs]
    table = with_results(pupils, results, codes)
    expected = {a.code: flagged(a, a.code, "expected", "higher") for a in elgs}
    valid = {a.code: pl.col(a.code).is_in(a.codes) for a in elgs}
    exempt = pl.any_horizontal(flagged(a, a.code, "exempt") for a in elgs)
    counted = pl.all_horizontal(valid.values()) & ~exempt
    areas: dict[str, list[str]] = {}
    for a in elgs:
        if a.area:
            areas.setdefault(a.area, []).append(a.code)

    def only_counted(expr: pl.Expr) -> pl.Expr:
        return pl.when(pl.col("eyfsp_counted")).then(expr)

    table = table.with_columns(counted.fill_null(False).alias("eyfsp_counted")).with_columns(
        only_counted(pl.all_horizontal(expected[a.code] for a in gld_elgs)).alias("gld"),
        only_counted(pl.sum_horizontal(expected[c].cast(pl.Int64) for c in codes)).alias("elgs_expected"),
        *(only_counted(expected[c]).alias(elg_column(c)) for c in codes),
        *(
            only_counted(pl.all_horizontal(expected[c] for c in members)).alias(area_column(area))
            for area, members in areas.items()
        ),
    )
    measures = [*PUPIL_COLUMNS[1:], *(elg_column(c) for c in codes), *(area_column(a) for a in areas)]
    others = [c for c in pupils.columns if c not in {*PUPIL_COLUMNS, *measures}]
    return table.select("upn", *measures, *others)
