"""An organisation's stored pupil figures as one table with the pupils' characteristics (no names): what
the filtered breakdowns and the scatter plots work from."""

from __future__ import annotations

from typing import Any

import polars as pl

from keystage.core.measures import pipeline
from keystage.core.measures.group_figures import Measure
from keystage.core.measures.primary import KEY_STAGES
from keystage.core.reports.catalogue import KS4_PUPIL_MEASURES
from keystage.measures.models import MeasureRun, PrimaryPupilFigure, PupilFigure
from keystage.organisations.models import Organisation
from keystage.reports.figures import school_ids


def pupil_table(run: MeasureRun, organisation: Organisation) -> tuple[pl.DataFrame, dict[str, Measure]]:
    """The stored pupil figures of an organisation's pupils in a run, with their characteristics, and
    which pupil column each measure averages."""
    if run.key_stage == "ks4":
        rows = list(
            PupilFigure.objects.filter(run=run, school__in=school_ids(organisation)).values(
                "school_id",
                "upn",
                "characteristics",
                *[m.column for m in KS4_PUPIL_MEASURES.values()],
                "ks2_pa",
                "ks1_aps",
            )
        )
        table = [
            {**{k: v for k, v in r.items() if k != "characteristics"}, **r["characteristics"]} for r in rows
        ]
        return _frame(table), dict(KS4_PUPIL_MEASURES)
    framework = pipeline.primary_framework(run.key_stage, run.year)
    chosen = KEY_STAGES[run.key_stage].measures(framework)
    primary_rows = PrimaryPupilFigure.objects.filter(run=run, school__in=school_ids(organisation)).values(
        "school_id", "upn", "nc_year", "figures", "characteristics"
    )
    table = [
        {
            "school_id": r["school_id"],
            "upn": r["upn"],
            "nc_year": r["nc_year"],
            **{m.column: r["figures"].get(m.column) for m in chosen.values()},
            **({"ks1_aps": r["figures"].get("ks1_aps")} if run.key_stage == "ks2" else {}),
            **r["characteristics"],
        }
        for r in primary_rows
    ]
    return _frame(table), dict(chosen)


_CHARACTERISTIC_TYPES = {
    "sex": pl.String,
    "disadvantaged": pl.Boolean,
    "sen": pl.String,
    "eal": pl.Boolean,
    "non_mobile": pl.Boolean,
    "ethnicity_group": pl.String,
    "month_of_birth": pl.Int8,
}


def _frame(rows: list[dict[str, Any]]) -> pl.DataFrame:
    table = (
        pl.DataFrame(rows, infer_schema_length=None)
        if rows
        else pl.DataFrame({"upn": []}, schema={"upn": pl.String})
    )
    missing = [
        pl.lit(None, dtype).alias(name)
        for name, dtype in _CHARACTERISTIC_TYPES.items()
        if name not in table.columns
    ]
    return table.with_columns(missing).with_columns(
        pl.col(name).cast(dtype) for name, dtype in _CHARACTERISTIC_TYPES.items()
    )
