"""What the reports show and how they word it: each measure's label, how its figure reads (a share as a
percentage, a mean, a progress score with its sign), the glossary term behind its "?", the headline
measures of each key stage, and the pupil groups' names.

Plain data: the pages, the Excel and PDF downloads and the summaries all read it, so a measure is
worded the same everywhere.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

from keystage.core.measures.group_figures import Mean, Measure, Share
from keystage.core.measures.ks4.ks1_value_added import NAME as KS1_VALUE_ADDED
from keystage.core.measures.ks4.prior_attainment import without_progress8
from keystage.core.measures.ks4.schools import ACADEMIC_YEAR_MONTHS, GROUPS
from keystage.core.pupils.model import ethnic_groups
from keystage.core.reference.frameworks import Framework

Kind = Literal["share", "mean", "progress"]
Comparison = Literal["above", "below", "in line with"]
NO_FIGURE = "\u2013"  # an en dash: no figure
KEY_STAGE_LABELS = {"eyfsp": "EYFSP", "phonics": "Phonics", "ks1": "KS1", "ks2": "KS2", "ks4": "KS4"}


@dataclass(frozen=True)
class MeasureInfo:
    key: str
    label: str
    kind: Kind
    term: str = ""  # the glossary entry its "?" links to
    higher_is_better: bool = True

    def format(self, value: float | None) -> str:
        return format_figure(value, self.kind)

    def compare(self, figure: float | None, national: float | None) -> Comparison | None:
        return compare_shown(figure, national, self.kind)


def format_figure(value: float | None, kind: Kind) -> str:
    """How a figure reads: 67% for a share, 46.21 for a mean, +0.77 for progress; an em dash for none."""
    if value is None:
        return NO_FIGURE
    if kind == "share":
        return f"{round(value * 100)}%"
    if kind == "progress":
        return f"{round(value, 2) + 0.0:+.2f}"  # + 0.0: no "-0.00" for a figure that rounds to zero
    return f"{value:.2f}"


def shown_number(value: float | None, kind: Kind) -> float | None:
    """A figure as the page prints it, as a number (63% -> 63.0, +0.77 -> 0.77): what comparisons use."""
    if value is None or not math.isfinite(value):
        return None
    return float(format_figure(value, kind).rstrip("%"))


def compare_shown(figure: float | None, national: float | None, kind: Kind) -> Comparison | None:
    """How a figure stands against the national one, as the reader sees both printed: "above",
    "below", or "in line with" when they print the same (63% against 63% is in line, whatever the
    decimals behind them); None when either is missing. Every "above/below national" wording uses it,
    so no page says a figure is below one it prints as equal."""
    mine, theirs = shown_number(figure, kind), shown_number(national, kind)
    if mine is None or theirs is None:
        return None
    if mine > theirs:
        return "above"
    if mine < theirs:
        return "below"
    return "in line with"


def significance_shown(significance: str, figure: float | None, national: float | None, kind: Kind) -> str:
    """A significance ("above", "below", "not significant" or "") as it may be worded beside the printed
    figures: "above" or "below" only when the printed figures differ that way; "in line" when they print
    the same; "not significant" when they differ the other way (a test against another baseline)."""
    if significance not in ("above", "below"):
        return significance
    compared = compare_shown(figure, national, kind)
    if compared is None or compared == significance:
        return significance
    return "in line" if compared == "in line with" else "not significant"


# KS4: the columns of the stored school figures (keystage.measures.models.SchoolFigure).
KS4_MEASURES: dict[str, MeasureInfo] = {
    m.key: m
    for m in (
        MeasureInfo("p8", "Progress 8 (adjusted)", "progress", "progress-8"),
        MeasureInfo("p8_unadjusted", "Progress 8 (unadjusted)", "progress", "progress-8"),
        MeasureInfo("p8_english", "Progress 8 English element", "progress", "progress-8-elements"),
        MeasureInfo("p8_maths", "Progress 8 maths element", "progress", "progress-8-elements"),
        MeasureInfo("p8_ebacc", "Progress 8 EBacc element", "progress", "progress-8-elements"),
        MeasureInfo("p8_open", "Progress 8 open element", "progress", "progress-8-elements"),
        MeasureInfo("a8", "Attainment 8", "mean", "attainment-8"),
        MeasureInfo("a8_english", "Attainment 8 English element", "mean", "attainment-8"),
        MeasureInfo("a8_maths", "Attainment 8 maths element", "mean", "attainment-8"),
        MeasureInfo("a8_ebacc", "Attainment 8 EBacc element", "mean", "attainment-8"),
        MeasureInfo("a8_open", "Attainment 8 open element", "mean", "attainment-8"),
        MeasureInfo("ebacc_entry", "Entering the EBacc", "share", "ebacc"),
        MeasureInfo("ebacc_aps", "EBacc average point score", "mean", "ebacc"),
        MeasureInfo("em_4plus", "Grade 4 or above in English and maths", "share", "english-and-maths"),
        MeasureInfo("em_5plus", "Grade 5 or above in English and maths", "share", "english-and-maths"),
    )
}
KS4_HEADLINES = ("p8", "a8", "ebacc_entry", "ebacc_aps", "em_4plus", "em_5plus")
# keystage's KS1-based value added: the KS4 measures of the years DfE publishes no Progress 8 for, in
# place of Progress 8 (keystage.core.measures.ks4.ks1_value_added).
KS4_KS1_VA_MEASURES: dict[str, MeasureInfo] = {
    m.key: m
    for m in (
        MeasureInfo("ks1_va", KS1_VALUE_ADDED, "progress", "ks1-value-added"),
        *(
            MeasureInfo(f"ks1_va_{e}", f"{KS1_VALUE_ADDED}: {label} element", "progress", "ks1-value-added")
            for e, label in (("english", "English"), ("maths", "maths"), ("ebacc", "EBacc"), ("open", "open"))
        ),
    )
}


def ks4_measures(year: int) -> dict[str, MeasureInfo]:
    """The KS4 measures a year's reports show: without Progress 8 in a year DfE publishes none for, and
    keystage's KS1-based value added only then."""
    if without_progress8(year) is None:
        return dict(KS4_MEASURES)
    kept = {k: m for k, m in KS4_MEASURES.items() if not k.startswith("p8")}
    return {**KS4_KS1_VA_MEASURES, **kept}


def ks4_headlines(year: int) -> tuple[str, ...]:
    """The KS4 headline measures of a year, first the one in Progress 8's place."""
    if without_progress8(year) is None:
        return KS4_HEADLINES
    return ("ks1_va", *(k for k in KS4_HEADLINES if k != "p8"))


# Which pupil figure (keystage.measures.models.PupilFigure) each school measure averages: a school's
# P8 is the mean of its pupils' adjusted scores, its EBacc entry the share who entered.
KS4_PUPIL_MEASURES: dict[str, Measure] = {
    "p8": Mean("p8_adjusted"),
    "p8_unadjusted": Mean("p8"),
    **{f"p8_{e}": Mean(f"p8_{e}") for e in ("english", "maths", "ebacc", "open")},
    "a8": Mean("a8"),
    **{f"a8_{e}": Mean(f"a8_{e}") for e in ("english", "maths", "ebacc", "open")},
    "ebacc_entry": Share("ebacc_entered"),
    "ebacc_aps": Mean("ebacc_aps"),
    "em_4plus": Share("em_4plus"),
    "em_5plus": Share("em_5plus"),
    **{key: Mean(key) for key in KS4_KS1_VA_MEASURES},
}

_PRIMARY_LABELS = {
    "gld": ("Good level of development", "gld"),
    "elgs_expected": ("Average number of early learning goals at expected", "elgs"),
    "phonics_y1_met": ("Year 1 phonics: met the expected standard", "phonics"),
    "phonics_y2_met_by_end": ("Met the phonics standard by the end of Year 2", "phonics"),
    "phonics_y1_average_mark": ("Year 1 phonics: average mark", "phonics"),
    "ks1_rwm_expected": ("KS1 reading, writing and maths: expected standard", "expected-standard"),
    "ks2_rwm_expected": ("KS2 reading, writing and maths: expected standard", "expected-standard"),
    "ks2_rwm_higher": ("KS2 reading, writing and maths: higher standard", "higher-standard"),
    "ks2_mtc_score": ("Multiplication tables check: average score", ""),
}
_SUBJECT_WORDS = {"gps": "grammar, punctuation and spelling", "rwm": "reading, writing and maths"}
PRIMARY_HEADLINES = {
    "eyfsp": ("gld", "elgs_expected"),
    "phonics": ("phonics_y1_met", "phonics_y2_met_by_end", "phonics_y1_average_mark"),
    "ks1": (
        "ks1_rwm_expected",
        "ks1_reading_expected",
        "ks1_writing_expected",
        "ks1_maths_expected",
        "ks1_reading_higher",
        "ks1_writing_higher",
        "ks1_maths_higher",
    ),
    "ks2": (
        "ks2_rwm_expected",
        "ks2_rwm_higher",
        "ks2_reading_expected",
        "ks2_writing_expected",
        "ks2_maths_expected",
        "ks2_gps_expected",
        "ks2_reading_score",
        "ks2_maths_score",
        "ks2_reading_progress",
        "ks2_writing_progress",
        "ks2_maths_progress",
    ),
}


def primary_measures(
    measures: Mapping[str, Measure], framework: Framework | None = None
) -> dict[str, MeasureInfo]:
    """Each primary measure (as ``keystage.core.measures.primary.KEY_STAGES[...].measures`` names them)
    with its wording; EYFSP's goals and areas are named by the framework."""
    goals = {a.code: a.label for a in framework.assessments} if framework is not None else {}
    infos = {}
    for key, measure in measures.items():
        kind: Kind = "share" if isinstance(measure, Share) else "mean"
        label, term = _PRIMARY_LABELS.get(key, ("", ""))
        if key.endswith("_progress"):
            kind, term = "progress", "ks2-progress"
            label = f"KS2 {_words(key.split('_')[1])} progress"
        elif not label and key.startswith("elg_") and key.endswith("_expected"):
            code = key.removesuffix("_expected")
            label, term = f"{goals.get(code, _humane(code[4:]))}: expected", "elgs"
        elif not label and key.startswith("area_"):
            label, term = f"{_humane(key[5:]).capitalize()}: expected in every goal", "elgs"
        elif not label:
            stage, subject, what = [*key.split("_", 2), "", ""][:3]
            label = f"{stage.upper()} {_words(subject)}: {_standard(what)}"
            term = {"expected": "expected-standard", "higher": "higher-standard"}.get(what, "scaled-score")
        infos[key] = MeasureInfo(key, label, kind, term)
    return infos


def _humane(name: str) -> str:
    return name.replace("_", " ")


def _words(subject: str) -> str:
    return _SUBJECT_WORDS.get(subject, subject)


def _standard(what: str) -> str:
    return {
        "expected": "expected standard",
        "higher": "higher standard (greater depth)",
        "score": "average scaled score",
        "test_score": "average test score",
    }.get(what, _humane(what))


# Pupil groups ------------------------------------------------------------------------------------

GROUP_LABELS = {
    "all": "All pupils",
    "sex": "Gender",
    "disadvantaged": "Disadvantaged",
    "sen": "Special educational needs (SEN)",
    "eal": "First language",
    "prior_attainment": "Prior attainment band",
    "non_mobile": "Non-mobile",
    "ethnicity": "Ethnicity",
    "month_of_birth": "Month of birth",
}
_VALUE_LABELS = {
    ("all", "all"): "All pupils",
    ("sex", "female"): "Female",
    ("sex", "male"): "Male",
    ("disadvantaged", "disadvantaged"): "Disadvantaged",
    ("disadvantaged", "other"): "Other (not disadvantaged)",
    ("sen", "ehcp"): "SEN with an EHC plan",
    ("sen", "support"): "SEN support",
    ("sen", "none"): "No SEN",
    ("eal", "eal"): "English as an additional language",
    ("eal", "english"): "English as first language",
    ("prior_attainment", "low"): "Low prior attainment",
    ("prior_attainment", "middle"): "Middle prior attainment",
    ("prior_attainment", "high"): "High prior attainment",
    ("non_mobile", "non_mobile"): "Non-mobile",
    ("non_mobile", "mobile"): "Mobile (joined late)",
}
GROUP_TERMS = {
    "disadvantaged": "disadvantaged",
    "prior_attainment": "prior-attainment-bands",
    "non_mobile": "non-mobile",
    "sen": "sen",
    "eal": "eal",
}


def value_label(group: str, value: str) -> str:
    if group == "ethnicity":
        found = ethnic_groups().get(value)
        return found.label if found is not None else value
    if group == "month_of_birth":
        return value.capitalize()
    return _VALUE_LABELS.get((group, value), value)


def group_values(group: str) -> tuple[str, ...]:
    """The values a group takes, in their usual order."""
    if group == "ethnicity":
        return tuple(ethnic_groups())
    if group == "month_of_birth":
        return tuple(m.lower() for m in ACADEMIC_YEAR_MONTHS)
    values = GROUPS[group].values
    return tuple(values) if values is not None else ()


def groups_for(key_stage: str) -> tuple[str, ...]:
    """The pupil groups a key stage's reports break figures down by (and filter on)."""
    if key_stage == "ks4":
        return tuple(g for g in GROUPS if g != "all")
    return ("sex", "disadvantaged", "sen", "eal", "ethnicity", "month_of_birth")


def ordered(rows: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """(group, value) pairs in report order: all pupils, then each group's values in their order."""
    rank = {g: i for i, g in enumerate(GROUP_LABELS)}

    def key(pair: tuple[str, str]) -> tuple[int, int, str]:
        group, value = pair
        values = group_values(group) if group in GROUPS and group != "all" else ()
        return (rank.get(group, 99), values.index(value) if value in values else 99, value)

    return sorted(rows, key=key)
