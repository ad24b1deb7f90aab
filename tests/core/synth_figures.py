"""National figures of a synthetic year, computed independently of the generator, for calibration.

A test oracle, deliberately simple: Attainment 8 is the slot rule of shared/domain/ks4-measures.md,
with points read from DfE's points file one result at a time, and the synthetic data's repeat
entries (an early entry, or a second board's French) discounted by subject: the first series
counts, and within it the better grade.
"""

from __future__ import annotations

from datetime import date

import polars as pl

from keystage.core.reference.dfe_files import KS4_CATALOGUE, shipped_path
from keystage.core.reference.ks4_catalogue import import_dfe_2019_folder
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


def _series(day: date) -> tuple[int, int]:
    """(academic year, window): November 2025 before summer 2026 (the synthetic data has no other)."""
    return (day.year + 1, 0) if day.month >= 9 else (day.year, 1)


def ks4_pupil_figures(year: SynthYear) -> pl.DataFrame:
    params = load_parameters()["ks4"]
    quals, others = params["qualifications"], params["other_boards"]
    # Each qualification's subject: another board's shares it (and its discount code).
    role = {quals[k]: k for k in quals if k != "open"}
    role |= {qan: "french" if k.startswith("french") else k for k, qan in others.items()}
    catalogue = import_dfe_2019_folder(shipped_path(KS4_CATALOGUE))
    entries: dict[str, dict[str, tuple[tuple[int, int], float]]] = {}
    opens: dict[str, list[float]] = {}
    for upn, qan, grade, day in year.ks4_results.iter_rows():
        points = catalogue.qualifications[qan].points(grade)
        assert points is not None, (qan, grade)
        subject = role.get(qan)
        if subject is None:
            opens.setdefault(upn, []).append(points)
            continue
        kept = entries.setdefault(upn, {}).get(subject)
        when = _series(day)
        if kept is None or when < kept[0] or (when == kept[0] and points > kept[1]):
            entries[upn][subject] = (when, points)
    rows = []
    for upn in {*entries, *opens}:
        points = {subject: value for subject, (_when, value) in entries.get(upn, {}).items()}
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
        open_pool = sorted(opens.get(upn, []) + spare_english + spare_ebacc, reverse=True)[:3]
        a8 = english * (2 if both else 1) + 2 * points.get("maths", 0.0) + sum(best_ebacc) + sum(open_pool)
        sciences = sum(1 for k in ("biology", "chemistry", "physics", "computer_science") if k in points)
        entered = (
            both
            and "maths" in points
            and ("combined_science" in points or sciences >= 3)
            and any(k in points for k in ("history", "geography"))
            and any(k in points for k in ("french", "spanish"))
        )
        rows.append({"upn": upn, "a8": a8, "ebacc_entry": entered})
    return year.pupils.filter(pl.col("nc_year") == 11).join(pl.DataFrame(rows), on="upn", how="left")


def ks4_figures(year: SynthYear) -> dict[str, float]:
    pupils = ks4_pupil_figures(year)
    return {"a8_mean": pupils["a8"].mean(), "ebacc_entry": pupils["ebacc_entry"].mean()}
