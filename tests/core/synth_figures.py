"""National figures of a synthetic year, computed independently of the generator, for calibration.

A test oracle, deliberately simple: synthetic results have no discounting conflicts or early
entries, so Attainment 8 is the slot rule of shared/domain/ks4-measures.md without those parts.
"""

from __future__ import annotations

import polars as pl

from keystage.core.synth import SynthYear, load_parameters


def primary_figures(year: SynthYear) -> dict[str, float]:
    pupils, results = year.pupils, year.primary_results
    wide = results.pivot(on="assessment", index="upn", values="result", aggregate_function="first")
    frame = pupils.join(wide, on="upn", how="left")
    y1 = frame.filter((pl.col("nc_year") == 1) & (pl.col("phonics_mark") != "A"))
    phonics = y1.select(pl.col("phonics_mark").cast(pl.Int64, strict=False).fill_null(0).ge(32).mean()).item()
    gld_codes = [
        "elg_listening",
        "elg_speaking",
        "elg_self_regulation",
        "elg_managing_self",
        "elg_building_relationships",
        "elg_gross_motor",
        "elg_fine_motor",
        "elg_comprehension",
        "elg_word_reading",
        "elg_writing",
        "elg_number",
        "elg_numerical_patterns",
    ]
    reception = frame.filter(pl.col("nc_year") == 0)
    gld = reception.select(pl.all_horizontal([pl.col(c) == "2" for c in gld_codes]).mean()).item()
    y6 = frame.filter(pl.col("nc_year") == 6)
    rwm = y6.select(
        (
            (pl.col("ks2_reading_test").cast(pl.Int64, strict=False).fill_null(0) >= 100)
            & (pl.col("ks2_maths_test").cast(pl.Int64, strict=False).fill_null(0) >= 100)
            & pl.col("ks2_writing_ta").is_in(["EXS", "GDS"])
        ).mean()
    ).item()
    return {"phonics_y1_met": phonics, "gld": gld, "ks2_rwm_expected": rwm}


def ks4_pupil_figures(year: SynthYear) -> pl.DataFrame:
    quals = load_parameters()["ks4"]["qualifications"]
    role = {quals[k]: k for k in quals if k != "open"}
    results = year.ks4_results.with_columns(
        pl.col("qan").replace_strict(role, default="open").alias("role"),
        pl.when(pl.col("grade") == "U")
        .then(0.0)
        .when(pl.col("grade").str.len_chars() == 2)
        .then(
            (
                pl.col("grade").str.slice(0, 1).cast(pl.Float64)
                + pl.col("grade").str.slice(1, 1).cast(pl.Float64)
            )
            / 2
        )
        .otherwise(pl.col("grade").cast(pl.Float64, strict=False))
        .alias("points"),
    )
    rows = []
    for upn, entries in results.group_by("upn"):
        points: dict[str, float] = {
            r["role"]: r["points"] for r in entries.iter_rows(named=True) if r["role"] != "open"
        }
        opens = [r["points"] for r in entries.iter_rows(named=True) if r["role"] == "open"]
        lang, lit = points.get("english_language"), points.get("english_literature")
        both = lang is not None and lit is not None
        english = max(p for p in (lang, lit, 0.0) if p is not None)
        spare_english = [min(lang, lit)] if both else []
        ebacc = []
        if "combined_science" in points:
            ebacc += [points["combined_science"]] * 2
        ebacc += [
            points[k]
            for k in (
                "biology",
                "chemistry",
                "physics",
                "computer_science",
                "history",
                "geography",
                "french",
                "spanish",
            )
            if k in points
        ]
        ebacc.sort(reverse=True)
        best_ebacc, spare_ebacc = ebacc[:3], ebacc[3:]
        open_pool = sorted(opens + spare_english + spare_ebacc, reverse=True)[:3]
        a8 = english * (2 if both else 1) + 2 * points.get("maths", 0.0) + sum(best_ebacc) + sum(open_pool)
        sciences = sum(1 for k in ("biology", "chemistry", "physics", "computer_science") if k in points)
        entered = (
            both
            and "maths" in points
            and ("combined_science" in points or sciences >= 2)
            and any(k in points for k in ("history", "geography"))
            and any(k in points for k in ("french", "spanish"))
        )
        rows.append({"upn": upn[0], "a8": a8, "ebacc_entry": entered})
    return year.pupils.filter(pl.col("nc_year") == 11).join(pl.DataFrame(rows), on="upn", how="left")


def ks4_figures(year: SynthYear) -> dict[str, float]:
    pupils = ks4_pupil_figures(year)
    return {"a8_mean": pupils["a8"].mean(), "ebacc_entry": pupils["ebacc_entry"].mean()}
