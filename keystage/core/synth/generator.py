"""The synthetic year: vectorised with NumPy, returned as Polars frames.

Frames (one row per …):
- schools: school (school_id, urn, dfe_number, la_code, phase, name)
- pupils: pupil on roll (school_id, upn, surname, forename, date_of_birth, sex, nc_year, fsm6,
  looked_after, adopted_from_care, sen, eal, ethnicity, joined_on, ks2_reading, ks2_maths);
  KS4 pupils are Year 11 of secondary schools, primary pupils Reception and Years 1, 2, 4 and 6
- ks4_results: KS4 entry (upn, qan, grade, exam_date), the measures' results format: every grade
  one of its qualification's (from DfE's points file as keystage ships it), each qualification sat
  on its own day of the summer timetable, and, as in real exam-board data, a few early entries
  (November of Year 11, summer of Year 10) and second entries the same summer that share a
  discount code with the pupil's other entry
- primary_results: primary assessment (upn, assessment, result), assessment codes as in the frameworks
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from numpy.typing import NDArray

PARAMETERS = Path(__file__).with_name("calibration.toml")
_UPN_ALPHABET = "ABCDEFGHJKLMNPQRTUVWXYZ0123456789"

Array = NDArray[Any]


def _labels(codes: Array, labels: list[str]) -> pl.Series:
    """Strings from small integer codes, mapped in Polars (numpy unicode arrays convert slowly)."""
    return pl.Series(codes).replace_strict(dict(enumerate(labels)), return_dtype=pl.String)


def _numbers(values: Array, codes: dict[int, str] | None = None) -> pl.Series:
    """Whole numbers as text, with some values standing for codes (e.g. 0 for U, -1 for D)."""
    series = pl.Series(values.astype(np.int64))
    text = series.cast(pl.String)
    if not codes:
        return text
    return series.replace_strict(codes, default=text, return_dtype=pl.String)


def load_parameters(path: Path = PARAMETERS) -> dict[str, Any]:
    return tomllib.loads(path.read_text(encoding="utf-8"))


@dataclass(frozen=True)
class SynthSpec:
    year: int = 2026  # academic year by its end
    seed: int = 2026
    secondary_schools: int = 3400
    primary_schools: int = 16700
    ks4_cohort: int = 170  # mean Year 11 size
    primary_cohort: int = 38  # mean size of a primary year group

    @classmethod
    def at_scale(cls, scale: str, **changes: Any) -> SynthSpec:
        sizes = {
            "national": {},
            "mid": {"secondary_schools": 300, "primary_schools": 1500},
            "small": {"secondary_schools": 12, "primary_schools": 40},
            "school": {"secondary_schools": 1, "primary_schools": 1},
        }
        if scale not in sizes:
            raise ValueError(f"scale must be one of {', '.join(sizes)}")
        return cls(**{**sizes[scale], **changes})


@dataclass
class SynthYear:
    spec: SynthSpec
    schools: pl.DataFrame
    pupils: pl.DataFrame
    ks4_results: pl.DataFrame
    primary_results: pl.DataFrame


def upn_check_indices(bodies: Array) -> Array:
    """Positions in the UPN alphabet of the check letters of 12-digit UPN bodies (int64)."""
    digits = np.stack([(bodies // 10 ** (11 - i)) % 10 for i in range(12)], axis=1)
    weights = np.arange(2, 14)
    # A digit's index in the UPN alphabet is 23 + the digit.
    check: Array = ((digits + 23) * weights).sum(axis=1) % 23
    return check


def upn_check_letters(bodies: Array) -> Array:
    """Check letters for 12-digit UPN bodies, as stdnum.gb.upn computes them."""
    letters: Array = np.array(list(_UPN_ALPHABET))[upn_check_indices(bodies)]
    return letters


def _schools(
    spec: SynthSpec, rng: np.random.Generator, params: dict[str, Any], given: pl.DataFrame | None = None
) -> pl.DataFrame:
    if given is not None:
        count = given.height
        identities = given.select(
            pl.int_range(0, count).alias("school_id"),
            pl.col("urn").cast(pl.Int64),
            pl.col("dfe_number").cast(pl.String),
            pl.col("dfe_number").cast(pl.String).str.slice(0, 3).alias("la_code"),
            pl.col("phase"),
            pl.col("name"),
        )
    else:
        count = spec.secondary_schools + spec.primary_schools
        la_codes = np.array(params["upn"]["la_codes"])
        index = np.arange(count)
        secondary = index < spec.secondary_schools
        within = np.where(secondary, index, index - spec.secondary_schools)
        la = la_codes[within % len(la_codes)]
        estab = np.where(secondary, 4000, 2000) + within // len(la_codes)
        identities = pl.DataFrame(
            {
                "school_id": index,
                "urn": 200000 + index,
                "dfe_number": (la * 10000 + estab).astype(str),
                "la_code": la.astype(str),
                "phase": np.where(secondary, "secondary", "primary"),
                "name": [
                    f"Synthetic {'Secondary' if s else 'Primary'} {w + 1:05d}"
                    for s, w in zip(secondary, within, strict=True)
                ],
            }
        )
    pupils = params["pupils"]
    effects = params["effects"]
    concentration = pupils["disadvantaged_spread"]
    return identities.with_columns(
        pl.Series("intake", rng.normal(0, effects["school_intake_sd"], count)),
        pl.Series("value_added", rng.normal(0, effects["school_value_added_sd"], count)),
        pl.Series(
            "disadvantaged_rate",
            rng.beta(
                pupils["disadvantaged_mean"] * concentration,
                (1 - pupils["disadvantaged_mean"]) * concentration,
                count,
            ),
        ),
        pl.Series("eal_rate", rng.beta(pupils["eal_mean"] * 2, (1 - pupils["eal_mean"]) * 2, count)),
    )


def _cohort(
    rng: np.random.Generator,
    schools: pl.DataFrame,
    nc_year: int,
    mean_size: int,
    spec: SynthSpec,
    params: dict[str, Any],
) -> dict[str, Any]:
    """One year group in each of the given schools, with characteristics and a latent ability."""
    sizes = np.maximum(5, np.rint(rng.normal(mean_size, mean_size * 0.3, schools.height))).astype(int)
    school = np.repeat(np.arange(schools.height), sizes)
    n = len(school)
    serial = np.concatenate([np.arange(size) for size in sizes]) if n else np.zeros(0, int)
    pupils, effects = params["pupils"], params["effects"]
    disadvantaged_rate = schools["disadvantaged_rate"].to_numpy()[school]
    fsm6 = rng.random(n) < disadvantaged_rate
    looked_after = rng.random(n) < pupils["looked_after"]
    adopted = rng.random(n) < pupils["adopted_from_care"]
    sen_draw = rng.random(n)
    sen_code = np.where(
        sen_draw < pupils["ehcp"], 2, np.where(sen_draw < pupils["ehcp"] + pupils["sen_support"], 1, 0)
    )
    female = rng.random(n) < pupils["female"]
    eal = rng.random(n) < schools["eal_rate"].to_numpy()[school]
    codes = list(pupils["ethnicity"])
    shares = np.array([pupils["ethnicity"][c] for c in codes])
    ethnicity = _labels(rng.choice(len(codes), n, p=shares / shares.sum()), codes)
    disadvantaged = fsm6 | looked_after | adopted
    ability = (
        rng.normal(0, 1, n)
        + schools["intake"].to_numpy()[school]
        + effects["disadvantaged"] * disadvantaged
        + np.select([sen_code == 1, sen_code == 2], [effects["sen_support"], effects["ehcp"]], 0.0)
        + effects["female"] * female
    )
    birth = np.datetime64(date(spec.year - nc_year - 6, 9, 1)) + rng.integers(0, 365, n).astype(
        "timedelta64[D]"
    )
    # Most pupils joined in the school's first year group: reception, or Year 7 at a secondary school.
    first_year = 7 if nc_year >= 7 else 0
    usual_start = np.datetime64(date(spec.year - (nc_year - first_year) - 1, 9, 1))
    recent = np.datetime64(date(spec.year - 1, 9, 1)) - rng.integers(0, 700, n).astype("timedelta64[D]")
    joined = np.where(rng.random(n) < pupils["mobile"], recent, usual_start)
    dfe = schools["dfe_number"].to_numpy()[school].astype(np.int64)
    # Issued by the school's own LA (or, for a school whose LA code issues no UPNs, such as a demo
    # LA, the first that does) in the year the pupil started school; serial within the year group.
    la_numbers = np.array(params["upn"]["la_codes"])
    issuing = np.where(np.isin(dfe // 10000, la_numbers), dfe // 10000, la_numbers[0])
    bodies = issuing * 10**9 + (dfe % 10000) * 10**5 + ((spec.year - nc_year) % 100) * 10**3 + serial
    upns = pl.select(
        pl.concat_str(
            [
                _labels(upn_check_indices(bodies), list(_UPN_ALPHABET)),
                pl.Series(bodies).cast(pl.String).str.zfill(12),
            ]
        )
    ).to_series()
    names = params["names"]
    surnames, female_names, male_names = names["surnames"], names["female_forenames"], names["male_forenames"]
    female_pick = rng.integers(0, len(female_names), n)
    male_pick = rng.integers(0, len(male_names), n)
    return {
        "school": school,
        "upn": upns,
        "surname": _labels(rng.integers(0, len(surnames), n), surnames),
        "forename": _labels(
            np.where(female, female_pick, len(female_names) + male_pick), female_names + male_names
        ),
        "date_of_birth": birth,
        "sex": _labels(female.astype(np.int8), ["M", "F"]),
        "nc_year": np.full(n, nc_year),
        "fsm6": fsm6,
        "looked_after": looked_after,
        "adopted_from_care": adopted,
        "sen": _labels(sen_code, ["N", "K", "E"]),
        "sen_code": sen_code,
        "eal": eal,
        "ethnicity": ethnicity,
        "joined_on": joined,
        "ability": ability,
        "female": female,
        "disadvantaged": disadvantaged,
    }


def _ks2_scores(rng: np.random.Generator, ability: Array, params: dict[str, Any]) -> tuple[Array, Array]:
    ks2 = params["ks2"]
    noise = params["ks2"]["rwm_noise_sd"]

    def score(latent: Array) -> Array:
        return np.asarray(
            np.clip(np.rint(ks2["score_mean"] + ks2["score_sd"] * latent), 80, 120), dtype=np.float64
        )

    return score(ability + rng.normal(0, noise, len(ability))), score(
        ability + rng.normal(0, noise, len(ability))
    )


def _logistic(x: Array) -> Array:
    return 1.0 / (1.0 + np.exp(-x))


@lru_cache(maxsize=1)
def _shipped_grades() -> dict[str, tuple[tuple[str, ...], tuple[float, ...]]]:
    """Each qualification's grades (U included) and their points, lowest first, from DfE's points
    file as keystage ships it: what a synthetic grade is chosen from."""
    from keystage.core.reference.dfe_files import KS4_CATALOGUE, shipped_path
    from keystage.core.reference.ks4_catalogue import import_dfe_2019_folder

    catalogue = import_dfe_2019_folder(shipped_path(KS4_CATALOGUE))
    scales = {}
    for qan, qualification in catalogue.qualifications.items():
        grades = {"U": 0.0, **{g: grade.points for g, grade in qualification.grades.items()}}
        ordered = sorted(grades.items(), key=lambda item: (item[1], item[0]))
        scales[qan] = (tuple(g for g, _ in ordered), tuple(p for _, p in ordered))
    return scales


def grades_of(qan: str, level: Array) -> pl.Series:
    """The grade of ``qan`` whose points are nearest each level (on the GCSE 9-1 scale): for a GCSE
    the level rounded, for a BTEC Tech Award level 5.5 is M2 and 8.6 is *2."""
    scales = _shipped_grades()
    if qan not in scales:
        raise ValueError(f"qualification {qan} is not in DfE's points file as keystage ships it")
    labels, points = scales[qan]
    values = np.asarray(points)
    middles = (values[1:] + values[:-1]) / 2
    return _labels(np.searchsorted(middles, level), list(labels))


def _summer_days(qans: list[str], year: int, params: dict[str, Any]) -> dict[str, date]:
    """Each qualification's day in the summer timetable of ``year``: spread over the series, no
    two alike while there are fewer qualifications than days."""
    first, last = (date.fromisoformat(f"{year}-{day}") for day in params["ks4"]["summer_exams"])
    days = (last - first).days + 1
    step = next(s for s in (7, 5, 3, 1) if days % s)  # steps through every day before repeating
    return {qan: first + timedelta(days=(step * n) % days) for n, qan in enumerate(qans)}


def _ks4(
    rng: np.random.Generator,
    cohort: dict[str, Any],
    schools: pl.DataFrame,
    spec: SynthSpec,
    params: dict[str, Any],
) -> tuple[dict[str, Any], pl.DataFrame]:
    n = len(cohort["ability"])
    reading, maths = _ks2_scores(rng, cohort["ability"], params)
    missing = rng.random(n) < params["pupils"]["no_ks2"]
    cohort["ks2_reading"] = np.where(missing, np.nan, reading)
    cohort["ks2_maths"] = np.where(missing, np.nan, maths)
    effects, ks4 = params["effects"], params["ks4"]
    progress = (
        0.8 * cohort["ability"]
        + 0.6 * rng.normal(0, 1, n)
        + schools["value_added"].to_numpy()[cohort["school"]]
        + effects["female_ks4_progress"] * cohort["female"]
        + effects["disadvantaged_ks4_progress"] * cohort["disadvantaged"]
    )
    quals = ks4["qualifications"]
    rank = progress.argsort().argsort() / max(n - 1, 1)  # 0 lowest … 1 highest
    upn: pl.Series = cohort["upn"]
    blocks: list[pl.DataFrame] = []
    others = ks4["other_boards"]
    used = sorted({*(v for k, v in quals.items() if k != "open"), *quals["open"], *others.values()})
    timetable = _summer_days(used, spec.year, params)

    def block(mask: Array, qan: str, grades: pl.Series, day: date | None = None) -> None:
        blocks.append(
            pl.DataFrame(
                {
                    "upn": upn.gather(np.flatnonzero(mask)),
                    "qan": qan,
                    "grade": grades,
                    "exam_date": day or timetable[qan],
                }
            )
        )

    def grade(latent: Array) -> Array:
        spread = rng.normal(0, ks4["grade_noise_sd"], len(latent))
        return np.asarray(ks4["grade_mean"] + ks4["grade_sd"] * latent + spread, dtype=np.float64)

    def single(mask: Array, qan: str) -> None:
        block(mask, qan, grades_of(qan, grade(progress[mask])))

    everyone = np.ones(n, bool)
    single(everyone, quals["english_language"])
    single(rng.random(n) < ks4["english_literature"], quals["english_literature"])
    single(everyone, quals["maths"])
    triple = rank >= 1 - ks4["triple_science_top"]
    no_science = rank < ks4["no_science_bottom"]
    for subject in ("biology", "chemistry", "physics"):
        single(triple, quals[subject])
    combined = ~triple & ~no_science
    # A double award's grade pairs (e.g. 65: 5.5 points in each slot) as the points file lists them.
    block(
        combined, quals["combined_science"], grades_of(quals["combined_science"], grade(progress[combined]))
    )
    humanity = rng.random(n) < ks4["humanity"]
    history = humanity & (rng.random(n) < 0.5)
    single(history, quals["history"])
    single(humanity & ~history, quals["geography"])
    language = rng.random(n) < _logistic(
        np.log(ks4["language_base"] / (1 - ks4["language_base"])) + ks4["language_slope"] * progress
    )
    french = language & (rng.random(n) < 0.5)
    single(french, quals["french"])
    single(language & ~french, quals["spanish"])
    open_quals = np.array(quals["open"] + [quals["computer_science"]])
    low_count, high_count = ks4["open_subjects"]
    counts = rng.integers(low_count, high_count + 1, n)
    for slot in range(high_count):
        chosen = open_quals[rng.integers(0, len(open_quals), n)]
        taking = counts > slot
        for qan in np.unique(chosen[taking]):
            single(taking & (chosen == qan), str(qan))
    # Early and second entries, from a generator of their own: every draw above stays as it was.
    _repeat_entries(np.random.default_rng([spec.seed, 4]), progress, french, block, spec, params)
    results = pl.concat(blocks)
    # One entry per pupil and qualification (an open subject drawn twice counts once).
    return cohort, results.unique(subset=["upn", "qan"], keep="first", maintain_order=True)


def _repeat_entries(
    rng: np.random.Generator,
    progress: Array,
    french: Array,
    block: Any,
    spec: SynthSpec,
    params: dict[str, Any],
) -> None:
    """Entries sharing a discount code with a pupil's summer one, as exam-board data has them:
    English language or maths with another board in November of Year 11, French with another board
    in the summer of Year 10 (both early entries: the first series counts), and French with a second
    board on another day of the same summer (the better grade counts)."""
    ks4, others = params["ks4"], params["ks4"]["other_boards"]
    n = len(progress)

    def level(mask: Array, shift: float) -> Array:
        spread = rng.normal(0, ks4["grade_noise_sd"], int(mask.sum()))
        return np.asarray(
            ks4["grade_mean"] + ks4["grade_sd"] * progress[mask] + spread + shift, dtype=np.float64
        )

    november = rng.random(n) < ks4["november_resit"]
    english = november & (rng.random(n) < 0.5)
    for mask, qan, day in (
        (english, others["english_language"], date(spec.year - 1, 11, 5)),
        (november & ~english, others["maths"], date(spec.year - 1, 11, 7)),
    ):
        block(mask, qan, grades_of(qan, level(mask, ks4["early_entry_shift"])), day)
    year10 = french & (rng.random(n) < ks4["year10_language"])
    qan = others["french"]
    block(year10, qan, grades_of(qan, level(year10, ks4["early_entry_shift"])), date(spec.year - 1, 6, 10))
    second = french & ~year10 & (rng.random(n) < ks4["second_board"])
    qan = others["french_second"]
    block(second, qan, grades_of(qan, level(second, 0.0)))


def _ks1_teacher_assessments(
    rng: np.random.Generator, cohort: dict[str, Any], lowest: str
) -> list[pl.DataFrame]:
    """The cohort's KS1 teacher assessments in reading, writing and maths (upn, assessment, result):
    greater depth, expected, working towards, else ``lowest`` (the pre-key stage code of the year
    they were assessed: PKF until 2018, PK4 from 2019)."""
    blocks = []
    for code in ("ks1_reading_ta", "ks1_writing_ta", "ks1_maths_ta"):
        latent = cohort["ability"] + rng.normal(0, 0.35, len(cohort["ability"]))
        levels = np.select([latent > 1.0, latent > -0.6, latent > -2.2], [0, 1, 2], 3)
        blocks.append(
            pl.DataFrame(
                {
                    "upn": cohort["upn"],
                    "assessment": code,
                    "result": _labels(levels, ["GDS", "EXS", "WTS", lowest]),
                }
            )
        )
    return blocks


def _primary(
    rng: np.random.Generator, cohorts: dict[int, dict[str, Any]], params: dict[str, Any]
) -> pl.DataFrame:
    blocks: list[pl.DataFrame] = []

    def add(cohort: dict[str, Any], assessment: str, values: pl.Series, mask: Array | None = None) -> None:
        index = np.flatnonzero(mask) if mask is not None else np.arange(len(cohort["ability"]))
        blocks.append(
            pl.DataFrame({"upn": cohort["upn"].gather(index), "assessment": assessment, "result": values})
        )

    # EYFSP: 17 ELGs; expected when ability plus a little noise clears the cut.
    eyfsp, reception = params["eyfsp"], cohorts[0]
    exempt = rng.random(len(reception["ability"])) < eyfsp["exemption"]
    from keystage.core.reference.frameworks import FrameworkLibrary

    elgs = [a.code for a in FrameworkLibrary.from_directory().for_year("eyfsp", 2025).assessments]
    for code in elgs:
        expected = reception["ability"] + rng.normal(0, eyfsp["elg_noise_sd"], len(exempt)) > eyfsp["elg_cut"]
        add(reception, code, _labels(np.where(exempt, 2, np.where(expected, 1, 0)), ["1", "2", "A"]))
    # Phonics: Year 1 takes the check; Year 2 pupils who did not meet the standard in Year 1 retake it.
    phonics = params["phonics"]

    def marks(cohort: dict[str, Any], mask: Array, shift: float = 0.0) -> pl.Series:
        ability = cohort["ability"][mask]
        raw = np.clip(np.rint(phonics["mark_mean"] + shift + phonics["mark_sd"] * ability), 0, 40).astype(int)
        disapplied = (cohort["sen_code"][mask] == 2) & (rng.random(len(raw)) < phonics["disapplied_ehcp"])
        absent = rng.random(len(raw)) < phonics["absent"]
        return _numbers(np.where(disapplied, -1, np.where(absent, -2, raw)), {-1: "D", -2: "A"})

    year1 = cohorts[1]
    add(year1, "phonics_mark", marks(year1, np.ones(len(year1["ability"]), bool)))
    year2 = cohorts[2]
    first_try = np.clip(np.rint(phonics["mark_mean"] + phonics["mark_sd"] * year2["ability"]), 0, 40)
    retake = first_try < 32
    add(year2, "phonics_mark", marks(year2, retake, shift=4.0), retake)

    def ks1_ta(cohort: dict[str, Any]) -> None:
        blocks.extend(_ks1_teacher_assessments(rng, cohort, "PK4"))

    # KS1 teacher assessment (optional since 2023/24; most schools still assess).
    ks1_ta(year2)
    # Year 4: the multiplication tables check.
    year4 = cohorts[4]
    add(year4, "ks2_mtc", _numbers(np.clip(np.rint(20 + 4 * year4["ability"]), 0, 25).astype(int)))
    # Year 6: KS2 tests and teacher assessment.
    year6, ks2 = cohorts[6], params["ks2"]
    reading, maths = _ks2_scores(rng, year6["ability"], params)
    below = year6["ability"] < -3.0  # working below the standard of the tests
    add(year6, "ks2_reading_test", _numbers(np.where(below, -1, reading), {-1: "B"}))
    add(year6, "ks2_maths_test", _numbers(np.where(below, -1, maths), {-1: "B"}))
    gps_latent = year6["ability"] + rng.normal(0, 0.4, len(below))
    gps = np.clip(np.rint(ks2["score_mean"] + 1 + ks2["score_sd"] * gps_latent), 80, 120)
    add(year6, "ks2_gps_test", _numbers(np.where(below, -1, gps), {-1: "B"}))
    writing = year6["ability"] + rng.normal(0, ks2["rwm_noise_sd"], len(below))
    levels = np.select(
        [below, writing > ks2["writing_greater_depth_cut"], writing > ks2["writing_expected_cut"]],
        [3, 0, 1],
        2,
    )
    add(year6, "ks2_writing_ta", _labels(levels, ["GDS", "EXS", "WTS", "PK6"]))
    science = year6["ability"] + rng.normal(0, 0.5, len(below)) > -1.1
    add(year6, "ks2_science_ta", _labels(np.where(science, 0, 1), ["EXS", "HNM"]))
    for code in ("ks2_reading_ta", "ks2_maths_ta"):
        add(year6, code, pl.Series(["PK6"] * int(below.sum()), dtype=pl.String), below)
    # What earlier years gave these pupils, drawn last so that every draw above is as it was: Year 2's
    # check in Year 1 (for "met by the end of Year 2") and Year 6's KS1 assessments (for KS2 progress).
    add(year2, "phonics_mark_year1", _numbers(first_try.astype(int)))
    ks1_ta(year6)
    ks1_ta(cohorts[4])  # Year 4's KS1, two years back: prior attainment for KS2 (Year 3) estimates
    return pl.concat(blocks)


_PUPIL_COLUMNS = (
    "school", "upn", "surname", "forename", "date_of_birth", "sex", "nc_year", "fsm6", "looked_after",
    "adopted_from_care", "sen", "eal", "ethnicity", "joined_on",
)  # fmt: skip


def _frame(cohort: dict[str, Any]) -> pl.DataFrame:
    n = len(cohort["ability"])
    columns = {name: cohort[name] for name in _PUPIL_COLUMNS}
    columns["ks2_reading"] = cohort.get("ks2_reading", np.full(n, np.nan))
    columns["ks2_maths"] = cohort.get("ks2_maths", np.full(n, np.nan))
    return (
        pl.DataFrame(columns)
        .rename({"school": "school_id"})
        .with_columns(pl.col("ks2_reading").fill_nan(None), pl.col("ks2_maths").fill_nan(None))
    )


def generate(
    spec: SynthSpec, params: dict[str, Any] | None = None, *, schools: pl.DataFrame | None = None
) -> SynthYear:
    """The synthetic year for the spec; the same spec and parameters always give the same data.

    ``schools`` (urn, dfe_number, name, phase) fills these schools instead of synthetic ones:
    secondary and special schools get a Year 11, primary schools their primary year groups, and
    all-through schools both.
    """
    params = params or load_parameters()
    rng = np.random.default_rng(spec.seed)
    schools = _schools(spec, rng, params, schools)
    secondary = schools.filter(pl.col("phase").is_in(["secondary", "special", "all_through"]))
    primary = schools.filter(pl.col("phase").is_in(["primary", "all_through"]))
    frames = []
    ks4_results = pl.DataFrame(
        schema={"upn": pl.String, "qan": pl.String, "grade": pl.String, "exam_date": pl.Date}
    )
    if secondary.height:
        year11 = _cohort(rng, secondary, 11, spec.ks4_cohort, spec, params)
        year11["school"] = secondary["school_id"].to_numpy()[year11["school"]]
        year11, ks4_results = _ks4(rng, year11, schools, spec, params)
        frames.append(_frame(year11))
    primary_results = pl.DataFrame(schema={"upn": pl.String, "assessment": pl.String, "result": pl.String})
    if primary.height:
        cohorts = {}
        for nc_year in (0, 1, 2, 4, 6):
            cohort = _cohort(rng, primary, nc_year, spec.primary_cohort, spec, params)
            cohort["school"] = primary["school_id"].to_numpy()[cohort["school"]]
            cohorts[nc_year] = cohort
        primary_results = _primary(rng, cohorts, params)
        frames.extend(_frame(c) for c in cohorts.values())
    if secondary.height:
        # Year 11's KS1 assessments, nine years back: prior attainment for keystage's KS1-based value
        # added in the years without Progress 8. Drawn last, so every draw above is as it was.
        lowest = "PKF" if spec.year - 9 <= 2018 else "PK4"
        primary_results = pl.concat([primary_results, *_ks1_teacher_assessments(rng, year11, lowest)])
    pupils = pl.concat(frames) if frames else pl.DataFrame()
    return SynthYear(
        spec=spec,
        schools=schools.select("school_id", "urn", "dfe_number", "la_code", "phase", "name"),
        pupils=pupils,
        ks4_results=ks4_results,
        primary_results=primary_results,
    )
