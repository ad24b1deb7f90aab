"""The pupil characteristics measures are broken down by, derived from a roster's fields: the rules
live here, not where the roster is read. Column in, column out, as Polars expressions."""

from __future__ import annotations

from datetime import date

import polars as pl

from keystage.core.pupils.model import ethnic_groups


def non_mobile_from(year: int) -> date:
    """KS4 pupils who joined before this day are non-mobile: on roll since the start of Year 10
    (the first month of it allowed for). [check against DfE's KS4 definition]"""
    return date(year - 2, 10, 1)


def disadvantaged() -> pl.Expr:
    """Free school meals in the last six years, looked after, or adopted from care."""
    return (pl.col("fsm6") | pl.col("looked_after") | pl.col("adopted_from_care")).alias("disadvantaged")


def ethnicity_group() -> pl.Expr:
    """DfE's major ethnic group of the pupil's ethnicity code (null when unknown)."""
    groups = {code: group.code for group in ethnic_groups().values() for code in group.codes}
    return (
        pl.col("ethnicity")
        .str.strip_chars()
        .str.to_uppercase()
        .replace_strict(groups, default=None, return_dtype=pl.String)
        .alias("ethnicity_group")
    )


def non_mobile(year: int) -> pl.Expr:
    """On roll since the start of Year 10; a pupil whose start date is unknown counts as non-mobile."""
    return (pl.col("joined_on").is_null() | (pl.col("joined_on") < non_mobile_from(year))).alias("non_mobile")
