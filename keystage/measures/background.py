"""A synthetic national background: synthetic schools' pupils and results counted in a year's national
figures (and schools' places among schools) beside the platform's own confirmed results.

Without one, a platform of six schools would compare each school with five others and call it "the
nation". The demo loads one per year; a trial install can too (``keystage measures background``). It is
never silent: each run that counts it records its label, and the pages say so beside every national
figure.

Platform schools named by the background get synthetic pupils as well (the same as their synthetic
roster for the year), so that their reports have something in them, until they confirm results of their
own: then their uploads count and their synthetic pupils do not.
"""

from __future__ import annotations

from functools import lru_cache

import polars as pl

from keystage.core.measures.ks4.estimates import Estimates, national_floors
from keystage.core.measures.ks4.pupils import pupil_measures
from keystage.core.synth import SynthSpec, SynthYear, generate
from keystage.core.synth.output import ks1_on_roster
from keystage.measures.models import SyntheticBackground
from keystage.organisations.models import School

SCALES = ("national", "mid", "small")


def background_for(year: int) -> SyntheticBackground | None:
    return SyntheticBackground.objects.filter(year=year).first()


def set_background(year: int, *, scale: str, seed: int, schools: list[School]) -> SyntheticBackground:
    """Count a synthetic background in ``year``'s figures from the next refresh on (replacing any)."""
    if scale not in SCALES:
        raise ValueError(f"The scale must be one of {', '.join(SCALES)}.")
    background, _ = SyntheticBackground.objects.update_or_create(
        year=year, defaults={"scale": scale, "seed": seed}
    )
    background.schools.set(schools)
    return background


_Platform = tuple[tuple[str, str, str, str], ...]  # (urn, DfE number, name, phase) of platform schools


@lru_cache(maxsize=2)  # a national year is large: keep the last two (a refresh reads one twice)
def _synthetic_year(
    year: int, scale: str, seed: int, platform: _Platform
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """The background's pupils (school as DfE number, the roster's columns), KS4 results (upn, qan,
    grade, exam_date) and primary results (upn, assessment, result)."""
    parts: list[SynthYear] = [generate(SynthSpec.at_scale(scale, year=year, seed=seed + 1))]
    if platform:
        schools = pl.DataFrame(
            {
                "urn": [int(urn) for urn, _, _, _ in platform],
                "dfe_number": [dfe for _, dfe, _, _ in platform],
                "name": [name for _, _, name, _ in platform],
                "phase": [phase for _, _, _, phase in platform],
            }
        )
        # The same spec as the demo's rosters (keystage.web.demo), so these are the pupils on roll.
        parts.insert(0, generate(SynthSpec(year=year, seed=seed), schools=schools))
    pupils, ks4, primary = [], [], []
    taken = pl.Series("upn", [], pl.String)
    for part in parts:
        # The generations draw UPNs from the school's DfE number: a synthetic school's pupil with a
        # platform pupil's UPN is left out, with their results.
        fresh = ~pl.col("upn").is_in(taken.implode())
        pupils.append(
            part.pupils.filter(fresh)
            .join(part.schools.select("school_id", pl.col("dfe_number").alias("school")), on="school_id")
            .drop("school_id", "surname", "forename")
        )
        ks4.append(part.ks4_results.filter(fresh))
        primary.append(part.primary_results.filter(fresh))
        taken = pl.concat([taken, part.pupils.get_column("upn")])
    return (
        pl.concat(pupils, how="vertical_relaxed"),
        pl.concat(ks4, how="vertical_relaxed"),
        pl.concat(primary, how="vertical_relaxed"),
    )


def background_tables(
    background: SyntheticBackground, year_groups: tuple[int, ...], *, kind: str
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The background's pupils in ``year_groups`` and their results of ``kind`` ("ks4": upn, qan,
    grade, exam_date; "primary": upn, assessment, result). The pupils have the roster's columns, the
    school's DfE number (``school``) and, for platform schools, its pk, trust and LA (``school_id``,
    ``trust``, ``la``; empty for synthetic schools, which count only nationally)."""
    platform = list(
        background.schools.order_by("urn").values_list(
            "pk", "urn", "dfe_number", "name", "phase", "trust_id", "la_id"
        )
    )
    everyone, ks4, primary = _synthetic_year(
        background.year,
        background.scale,
        background.seed,
        tuple((urn, dfe, name, phase) for _, urn, dfe, name, phase, _, _ in platform),
    )
    pk = {dfe: school_pk for school_pk, _, dfe, _, _, _, _ in platform}
    trust = {dfe: str(trust_id) for _, _, dfe, _, _, trust_id, _ in platform if trust_id is not None}
    la = {dfe: str(la_id) for _, _, dfe, _, _, _, la_id in platform}
    pupils = everyone.filter(pl.col("nc_year").is_in(list(year_groups))).with_columns(
        pl.col("school").replace_strict(pk, default=None, return_dtype=pl.Int64).alias("school_id"),
        pl.col("school").replace_strict(trust, default=None, return_dtype=pl.String).alias("trust"),
        pl.col("school").replace_strict(la, default=None, return_dtype=pl.String).alias("la"),
        pl.col("date_of_birth").dt.month().cast(pl.Int8).alias("month_of_birth"),
        pl.lit(True).alias("_on_roster"),
    )
    if kind == "ks4":  # Year 11's KS1 assessments, as the roster holds them
        pupils = pupils.join(ks1_on_roster(primary, pupils), on="upn", how="left")
    results = ks4 if kind == "ks4" else primary
    return results.join(pupils.select("upn"), on="upn", how="semi"), pupils


# Floors of DfE's estimates from a background's national cohort, by (background, estimates, points):
# a national year is large, and its floors are the same for every run of the year.
_FLOORS: dict[tuple[object, ...], tuple[pl.DataFrame, int]] = {}
_FLOORS_KEPT = 4


def background_floors(
    background: SyntheticBackground, estimates: Estimates, points: pl.DataFrame
) -> tuple[pl.DataFrame, int] | None:
    """The negative-score floors (pag, p8_floor) of ``estimates`` set from the background's national
    cohort, as DfE sets them (``ks4.estimates.national_floors``: about 1% of the nation's pupils below
    their group's floor), and how many of its pupils have a P8; None when none has.

    The cohort is every Year 11 pupil of the background as generated, its platform schools' synthetic
    pupils included whether or not those schools have confirmed results of their own: so the floors
    are the year's, the same whichever schools have results and whichever school a run is for.
    Computed once per background, estimates and points table (the results are scored with it)."""
    key = (
        background.year,
        background.scale,
        background.seed,
        tuple(background.schools.order_by("urn").values_list("urn", flat=True)),
        estimates.label,
        _fingerprint(estimates.by_pag),
        _fingerprint(estimates.ranges),
        _fingerprint(points),
    )
    if key not in _FLOORS:
        results, pupils = background_tables(background, (11,), kind="ks4")
        scored = pupil_measures(results, pupils.select("upn", "ks2_reading", "ks2_maths"), points, estimates)
        with_p8 = scored.pupils.select("pag", "p8").drop_nulls()
        if with_p8.height == 0:
            return None
        while len(_FLOORS) >= _FLOORS_KEPT:
            _FLOORS.pop(next(iter(_FLOORS)))
        _FLOORS[key] = (national_floors(with_p8), with_p8.height)
    return _FLOORS[key]


def _fingerprint(frame: pl.DataFrame) -> tuple[int, int]:
    """A table's contents in two numbers (its rows' hashes summed, and its height)."""
    return int(frame.hash_rows(seed=7).cast(pl.UInt64).sum() or 0), frame.height
