"""Plausible synthetic results for the pupils of a template, drawn the way the synthetic year draws
them (``keystage.core.synth``: calibration.toml's GCSE grade distribution and subject take-up, and the
primary thresholds): ``synthetic_results`` gives each pupil's results by subject key, for fill.py to
type into the template. A KS4 pupil takes English language, literature (most), maths, combined or the
three sciences (most), a humanity, perhaps a language and three or four other subjects, each from the
board the school chose; columns the generator does not know get a seeded weighted draw over their
valid results.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import numpy as np

from keystage.core.results.cells import cell_text
from keystage.core.results.layout import SubjectColumn, TemplateLayout
from keystage.core.synth.generator import load_parameters

Value = int | float | str
Cell = Value | date | datetime | None
Rng = np.random.Generator


@dataclass(frozen=True)
class PupilRow:
    """A pupil as the template lists them."""

    row: int  # spreadsheet row, 1-based
    cells: tuple[Cell, ...]  # the pupil columns, as read
    upn: str
    nc_year: int | None
    female: bool


def _as_cell(value: str | int) -> Value:
    """A result as a person types it: a number is a number (Excel stores 7, not "7")."""
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return int(value)
    return value


def _subject_name(column: SubjectColumn) -> str:
    """A heading without its board or QAN, folded: “Biology A (Gateway Science) (OCR)” is one subject."""
    name = re.sub(r"\s*\[[^\]]*\]$", "", column.header)
    name = re.sub(r"\s*\([^()]*\)$", "", name)
    return " ".join(name.split()).casefold()


def graded_9_1(column: SubjectColumn) -> bool:
    return "9" in column.outcomes and "U" in column.outcomes and not column.double_award


def _phi(x: float) -> float:
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))


class _Draw:
    """The school and its pupils as the synthetic year draws them: the school's intake and value
    added, each pupil's disadvantage and SEN, and a latent ability they shift."""

    def __init__(self, rng: Rng, pupils: Sequence[PupilRow], params: dict[str, Any]) -> None:
        self.rng = rng
        self.params = params
        shares, effects = params["pupils"], params["effects"]
        n = len(pupils)
        self.intake = float(rng.normal(0.0, effects["school_intake_sd"]))
        self.value_added = float(rng.normal(0.0, effects["school_value_added_sd"]))
        self.female = np.array([p.female for p in pupils], dtype=float)
        self.disadvantaged = (rng.random(n) < shares["disadvantaged_mean"]).astype(float)
        sen = rng.random(n)
        self.ehcp = sen < shares["ehcp"]
        support = ~self.ehcp & (sen < shares["ehcp"] + shares["sen_support"])
        self.ability = (
            rng.normal(0.0, 1.0, n)
            + self.intake
            + effects["disadvantaged"] * self.disadvantaged
            + effects["sen_support"] * support
            + effects["ehcp"] * self.ehcp
            + effects["female"] * self.female
        )

    def noise(self, sd: float) -> float:
        return float(self.rng.normal(0.0, sd))

    def weighted(self, column: SubjectColumn, latent: float) -> Value:
        """A seeded draw over a column's valid results, better results for higher ``latent``."""
        if column.score is not None:
            low, high = column.score.minimum, column.score.maximum
            middle, spread = (low + high) / 2, (high - low) / 6
            return int(np.clip(np.rint(middle + spread * (latent + self.noise(0.35))), low, high))
        outcomes = list(column.outcomes)
        graded = [o for o in outcomes if o != "U"] or outcomes
        if "U" in outcomes and self.rng.random() < 0.03:
            return "U"
        place = 1.0 - _phi(latent + self.noise(0.6))  # 0 best … 1 worst
        return _as_cell(graded[min(len(graded) - 1, int(place * len(graded)))])


class _Chooser:
    """The school's choice of one column (board) per subject, preferring the generator's QANs."""

    def __init__(self, layout: TemplateLayout, rng: Rng) -> None:
        self.columns = {c.key: c for c in layout.subjects}
        self.subjects = layout.subjects
        self.rng = rng
        self.used: set[str] = set()

    def pick(self, preferred: str | None, wanted: Callable[[SubjectColumn], bool]) -> str | None:
        if preferred in self.columns and preferred not in self.used and wanted(self.columns[preferred]):
            self.used.add(preferred)
            return preferred
        options = [c.key for c in self.subjects if c.key not in self.used and wanted(c)]
        if not options:
            return None
        chosen = options[int(self.rng.integers(len(options)))]
        self.used.add(chosen)
        return chosen


def _starts(prefix: str) -> Callable[[SubjectColumn], bool]:
    return lambda column: _subject_name(column).startswith(prefix) and graded_9_1(column)


def _language(name: str) -> Callable[[SubjectColumn], bool]:
    """The language, or any other modern or ancient language when the template has not got it."""
    named = _starts(name)
    return lambda column: named(column) or (column.ebacc_pillar == "languages" and graded_9_1(column))


def _is(key: str) -> Callable[[SubjectColumn], bool]:
    return lambda column: column.key == key


def _gcse(layout: TemplateLayout, pupils: Sequence[PupilRow], draw: _Draw) -> list[dict[str, Value]]:
    """As ``keystage.core.synth.generator`` draws KS4 entries and grades, pupil by pupil."""
    params, rng = draw.params, draw.rng
    ks4 = params["ks4"]
    quals: dict[str, Any] = ks4["qualifications"]
    n = len(pupils)
    effects = params["effects"]
    progress = (
        0.8 * draw.ability
        + 0.6 * rng.normal(0.0, 1.0, n)
        + draw.value_added
        + effects["female_ks4_progress"] * draw.female
        + effects["disadvantaged_ks4_progress"] * draw.disadvantaged
    )
    rank = progress.argsort().argsort() / max(n - 1, 1)  # 0 lowest … 1 highest
    choose = _Chooser(layout, rng)
    language = choose.pick(quals["english_language"], _starts("english language"))
    literature = choose.pick(quals["english_literature"], _starts("english literature"))
    maths = choose.pick(quals["maths"], _starts("mathematics"))
    combined = choose.pick(quals["combined_science"], lambda c: c.double_award)
    sciences = [choose.pick(quals[s], _starts(s)) for s in ("biology", "chemistry", "physics")]
    history = choose.pick(quals["history"], _starts("history"))
    geography = choose.pick(quals["geography"], _starts("geography"))
    languages = [choose.pick(quals[s], _language(s)) for s in ("french", "spanish")]
    menu: list[str] = []
    for qan in [*quals["open"], quals["computer_science"]]:
        chosen = choose.pick(qan, _is(qan))
        if chosen is not None:
            menu.append(chosen)
    names = {_subject_name(choose.columns[k]) for k in menu}
    while len(menu) < len(quals["open"]) + 1:
        other = choose.pick(
            None, lambda c: not c.ebacc_pillar and graded_9_1(c) and _subject_name(c) not in names
        )
        if other is None:
            break
        menu.append(other)
        names.add(_subject_name(choose.columns[other]))
    low_count, high_count = ks4["open_subjects"]
    language_base = math.log(ks4["language_base"] / (1 - ks4["language_base"]))

    def grade(i: int) -> float:
        return float(ks4["grade_mean"] + ks4["grade_sd"] * progress[i] + draw.noise(ks4["grade_noise_sd"]))

    results: list[dict[str, Value]] = []
    for i in range(n):
        taken: dict[str, Value] = {}

        def single(key: str | None, i: int = i, taken: dict[str, Value] = taken) -> None:
            if key is not None:
                value = int(np.clip(np.rint(grade(i)), 0, 9))
                taken[key] = "U" if value == 0 else value

        single(language)
        if rng.random() < ks4["english_literature"]:
            single(literature)
        single(maths)
        triple = rank[i] >= 1 - ks4["triple_science_top"] and all(sciences)
        if triple:
            for science in sciences:
                single(science)
        elif rank[i] >= ks4["no_science_bottom"] and combined is not None:
            level = float(np.clip(grade(i), 0, 9))
            high = int(np.clip(np.rint(level + 0.25), 0, 9))
            low = max(int(np.clip(np.rint(level - 0.25), 0, 9)), high - 1)
            taken[combined] = "U" if high == 0 or low == 0 else high * 10 + low
        if rng.random() < ks4["humanity"]:
            first, second = (history, geography) if rng.random() < 0.5 else (geography, history)
            single(first or second)
        chance = 1 / (1 + math.exp(-(language_base + ks4["language_slope"] * progress[i])))
        if rng.random() < chance:
            first, second = languages if rng.random() < 0.5 else languages[::-1]
            single(first or second)
        count = min(int(rng.integers(low_count, high_count + 1)), len(menu))
        for index in rng.choice(len(menu), size=count, replace=False) if count else []:
            single(menu[int(index)])
        results.append(taken)
    return results


def _other_ks4(layout: TemplateLayout, pupils: Sequence[PupilRow], draw: _Draw) -> list[dict[str, Value]]:
    """Non-GCSE qualifications: the school offers a few; most pupils take one or two."""
    rng = draw.rng
    subjects = layout.subjects
    offered = [subjects[int(i)] for i in rng.choice(len(subjects), size=min(6, len(subjects)), replace=False)]
    results: list[dict[str, Value]] = []
    for i in range(len(pupils)):
        count = min(int(rng.choice(3, p=[0.3, 0.45, 0.25])), len(offered))
        taken: dict[str, Value] = {}
        for index in rng.choice(len(offered), size=count, replace=False) if count else []:
            column = offered[int(index)]
            taken[column.key] = draw.weighted(column, float(draw.ability[i]))
        results.append(taken)
    return results


def _primary_value(
    key: str, column: SubjectColumn, pupil: PupilRow, ability: float, ehcp: bool, draw: _Draw
) -> Value | None:
    """One primary assessment as the generator draws it; None is not entered (blank)."""
    params = draw.params
    if key == "phonics_mark":
        phonics = params["phonics"]
        threshold = column.score.expected_from if column.score and column.score.expected_from else 32
        if pupil.nc_year == 2:  # a retake: only pupils who did not meet the standard in Year 1
            first_try = phonics["mark_mean"] + phonics["mark_sd"] * (ability + draw.noise(0.3))
            if first_try >= threshold:
                return None
            shift = 4.0
        else:
            shift = 0.0
        if ehcp and draw.rng.random() < phonics["disapplied_ehcp"]:
            return "D"
        if draw.rng.random() < phonics["absent"]:
            return "A"
        return int(np.clip(np.rint(phonics["mark_mean"] + shift + phonics["mark_sd"] * ability), 0, 40))
    if key in ("ks1_reading_ta", "ks1_writing_ta", "ks1_maths_ta"):
        latent = ability + draw.noise(0.35)
        return "GDS" if latent > 1.0 else "EXS" if latent > -0.6 else "WTS" if latent > -2.2 else "PK4"
    if key in ("ks1_science_ta", "ks2_science_ta"):
        return "EXS" if ability + draw.noise(0.5) > -1.1 else "HNM"
    if key.startswith("ks1_") and key.endswith("_test"):
        return int(np.clip(np.rint(102 + 7 * (ability + draw.noise(0.35))), 85, 115))
    ks2 = params["ks2"]
    below = ability < -3.0  # working below the standard of the tests
    if key in ("ks2_reading_test", "ks2_maths_test", "ks2_gps_test"):
        if below:
            return "B"
        mean = ks2["score_mean"] + (1 if key == "ks2_gps_test" else 0)
        noise = 0.4 if key == "ks2_gps_test" else ks2["rwm_noise_sd"]
        return int(np.clip(np.rint(mean + ks2["score_sd"] * (ability + draw.noise(noise))), 80, 120))
    if key == "ks2_writing_ta":
        writing = ability + draw.noise(ks2["rwm_noise_sd"])
        if below:
            return "PK6"
        if writing > ks2["writing_greater_depth_cut"]:
            return "GDS"
        return "EXS" if writing > ks2["writing_expected_cut"] else "WTS"
    if key in ("ks2_reading_ta", "ks2_maths_ta"):
        return "PK6" if below else None  # only pupils working below the tests are teacher-assessed
    if key == "ks2_mtc":
        return int(np.clip(np.rint(20 + 4 * ability), 0, 25))
    if key.startswith("elg_"):
        eyfsp = params["eyfsp"]
        return 2 if ability + draw.noise(eyfsp["elg_noise_sd"]) > eyfsp["elg_cut"] else 1
    return draw.weighted(column, ability)


def _primary(layout: TemplateLayout, pupils: Sequence[PupilRow], draw: _Draw) -> list[dict[str, Value]]:
    params = draw.params
    absent_rate = params["eyfsp"]["exemption"] if layout.kind.key == "eyfsp" else 0.005
    results: list[dict[str, Value]] = []
    for i, pupil in enumerate(pupils):
        ability = float(draw.ability[i])
        absent = draw.rng.random() < absent_rate  # absent or exempt: "A" wherever it is a valid result
        taken: dict[str, Value] = {}
        for column in layout.subjects:
            if absent and column.key != "phonics_mark":
                if "A" in column.outcomes and column.score is None:
                    taken[column.key] = "A"
                continue
            value = _primary_value(column.key, column, pupil, ability, bool(draw.ehcp[i]), draw)
            if value is None:
                continue
            if cell_text(value) not in column.dropdown():  # a framework the generator does not know
                value = draw.weighted(column, ability)
            taken[column.key] = value
        results.append(taken)
    return results


def synthetic_results(
    layout: TemplateLayout,
    pupils: Sequence[PupilRow],
    rng: Rng,
    params: dict[str, Any] | None = None,
) -> list[dict[str, Value]]:
    """Each pupil's results, subject key -> value as typed in the cell (absent keys stay blank)."""
    params = params or load_parameters()
    if not pupils:
        return []
    draw = _Draw(rng, pupils, params)
    if layout.kind.key == "ks4-gcse":
        return _gcse(layout, pupils, draw)
    if layout.kind.key.startswith("ks4"):
        return _other_ks4(layout, pupils, draw)
    return _primary(layout, pupils, draw)
