"""The KS4 catalogue as one table the measures join results to: a row per qualification and grade
with its points, discount code and EBacc pillar in a year, and whether the qualification is on that
year's list of approved qualifications (shared/domain/ks4-measures.md, "Points" and rule 7)."""

from __future__ import annotations

import polars as pl

from keystage.core.reference.ks4_catalogue import Catalogue, normalise_grade

POINTS_SCHEMA = {
    "qan": pl.String,
    "grade": pl.String,
    "points": pl.Float64,
    "discount_code": pl.String,
    "pillar": pl.String,
    "double_award": pl.Boolean,
    "title": pl.String,
}
# What points_table adds: whether the qualification is on DfE's list of approved qualifications of
# the rules year (``list_year``, the same on every row). A table without them (one made by hand) has
# every qualification on the list.
LIST_SCHEMA = {"on_list": pl.Boolean, "list_year": pl.Int32}

# The EBacc pillars as the catalogue names them, and where each counts in Attainment 8.
ENGLISH_LANGUAGE = "english"
ENGLISH_LITERATURE = "english_literature"
MATHS = "maths"
EBACC_POOL = ("science", "humanities", "languages")


def points_table(catalogue: Catalogue, year: int) -> pl.DataFrame:
    """Every grade of every qualification with its points, and the discount code and EBacc pillar
    of ``year`` (or the newest year before it: the rules year). U scores 0 everywhere; a legacy
    GCSE's A* is also found as written by schools ("A*") as well as DfE writes it ("*").

    ``on_list``: the qualification counts in ``year``: it is on the rules year's discount code list
    (it has a discount code, or syllabus codes, that year), which is DfE's list of qualifications
    approved for the performance measures. One off the list (an AS level or a VRQ dropped after 2019,
    say) scores nothing and discounts nothing. ``list_year``: the rules year read."""
    rules_year = catalogue.rules_year(year) or year
    rows: list[tuple[str, str, float, str | None, str | None, bool, str, bool, int]] = []
    for qualification in catalogue.qualifications.values():
        codes = qualification.all_discount_codes(rules_year)
        code = qualification.discount_code(rules_year)
        if code is None:
            code = min(codes) if codes else None
        pillar = qualification.ebacc_pillar(rules_year)
        double = qualification.is_double_award
        grades = {g: grade.points for g, grade in qualification.grades.items()}
        grades.setdefault("U", 0.0)
        star = qualification.grades.get("*")
        if star is not None and star.text.endswith("A*"):
            grades.setdefault("A*", star.points)
        listed = bool(codes)
        for grade, points in grades.items():
            row = (qualification.qan, grade, points, code, pillar, double, qualification.title)
            rows.append((*row, listed, rules_year))
    return pl.DataFrame(rows, schema=POINTS_SCHEMA | LIST_SCHEMA, orient="row")


def normalise_grades(results: pl.DataFrame) -> pl.DataFrame:
    """Grades as the points table writes them: trimmed, upper case; numbers typed as 7.0 read as 7."""
    results = results.with_columns(pl.col("grade").cast(pl.String))
    unique = results.get_column("grade").unique().drop_nulls().to_list()
    # Only the grades written differently need replacing (usually none: a quick check of the few
    # distinct grades saves a lookup per row).
    changed = {value: normalise_grade(value) for value in unique if normalise_grade(value) != value}
    if not changed:
        return results
    return results.with_columns(pl.col("grade").replace(changed))
