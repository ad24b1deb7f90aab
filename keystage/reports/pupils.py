"""Pupils by name (named roles only: services.py checks the role and audits each look): the pupil
list, one pupil's figures and how they were worked out, and pupils' names from the roster or their
upload."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from django.urls import reverse

from keystage.core.measures.ks4 import ks1_value_added as ks1
from keystage.core.measures.ks4.prior_attainment import without_progress8
from keystage.core.reports.catalogue import KS4_KS1_VA_MEASURES, KS4_MEASURES, PRIMARY_HEADLINES
from keystage.measures.models import MeasureRun, PrimaryPupilFigure, PupilFigure
from keystage.organisations.models import Organisation, School
from keystage.pupils.models import Pupil
from keystage.reports.figures import measure_infos
from keystage.results.models import SubmittedPupil


def pupil_names(school_ids: Iterable[int], year: int, upns: Iterable[str]) -> dict[str, str]:
    """Each pupil's name: from the roster of that year, else a later or earlier one, else their
    school's upload."""
    wanted = set(upns)
    names: dict[str, str] = {}
    roster = (
        Pupil.objects.filter(school__in=list(school_ids), upn__in=wanted)
        .order_by("-academic_year")
        .values_list("upn", "academic_year", "forename", "surname")
    )
    for upn, _year, forename, surname in sorted(roster, key=lambda r: (r[1] != year, -r[1])):
        names.setdefault(upn, f"{surname}, {forename}")
    missing = wanted - set(names)
    if missing:
        for upn, forename, surname in SubmittedPupil.objects.filter(
            upload__school__in=list(school_ids), upn__in=missing
        ).values_list("upn", "forename", "surname"):
            names.setdefault(upn, f"{surname}, {forename}")
    return names


def pupil_address(organisation: Organisation, key_stage: str, year: int) -> str:
    """A pupil's page with "UPN" in the pupil's place (a school's pupils only; "" for a trust or LA)."""
    if not isinstance(organisation, School):
        return ""
    return reverse("reports:pupil", args=[organisation.pk, key_stage, year, "UPN"])


KS4_PUPIL_COLUMNS = (
    "a8",
    "p8_adjusted",
    "ks2_pa",
    "ebacc_entered",
    "em_4plus",
    "em_5plus",
    "ks1_aps",
    "ks1_va",
)


def pupil_list(
    run: MeasureRun, school: School, *, search: str = "", sort: str = "name", descending: bool = False
) -> tuple[list[dict[str, Any]], list[tuple[str, str]]]:
    """The school's pupils in the run with their headline figures: (rows, columns as (key, label)).
    ``search`` matches a name or UPN; ``sort`` is "name" or a column key."""
    if run.key_stage == "ks4":
        rows = list(PupilFigure.objects.filter(run=run, school=school).values("upn", *KS4_PUPIL_COLUMNS))
        columns = [
            ("ks2_pa", "KS2 prior attainment"),
            ("a8", "Attainment 8"),
            ("p8_adjusted", "Progress 8"),
            ("ebacc_entered", "Entered EBacc"),
            ("em_4plus", "English and maths 4+"),
            ("em_5plus", "English and maths 5+"),
        ]
        if without_progress8(run.year) is not None:  # KS1 in KS2's place, its value added in P8's
            columns[0] = ("ks1_aps", "KS1 prior attainment (average point score)")
            columns[2] = ("ks1_va", ks1.NAME)
    else:
        infos = measure_infos(run)
        headline = PRIMARY_HEADLINES[run.key_stage][:4]
        columns = [(name, infos[name].label) for name in headline if name in infos]
        rows = [
            {"upn": r["upn"], **{name: r["figures"].get(name) for name, _ in columns}}
            for r in PrimaryPupilFigure.objects.filter(run=run, school=school).values("upn", "figures")
        ]
    names = pupil_names([school.pk], run.year, (r["upn"] for r in rows))
    for row in rows:
        row["name"] = names.get(row["upn"], "")
    words = search.strip().lower()
    if words:
        rows = [r for r in rows if words in r["name"].lower() or words in r["upn"].lower()]
    keys = {"name", "upn", *(key for key, _ in columns)}
    by = sort if sort in keys else "name"
    present = [r for r in rows if r.get(by) is not None]
    absent = [r for r in rows if r.get(by) is None]
    present.sort(key=lambda r: (r[by], r["name"]), reverse=descending)
    return present + absent, columns


def pupil_detail(run: MeasureRun, school: School, upn: str) -> dict[str, Any] | None:
    """One pupil's figures and how they were worked out (A8 slots for KS4, results for primary)."""
    name = pupil_names([school.pk], run.year, [upn]).get(upn, "")
    if run.key_stage == "ks4":
        figure = PupilFigure.objects.filter(run=run, school=school, upn=upn).first()
        if figure is None:
            return None
        labels = {**KS4_MEASURES, **KS4_KS1_VA_MEASURES}
        # Measures by their key; the other rows are already in words.
        rows = [(labels[k].label if k in labels else k, v) for k, v in _ks4_pupil_figures(figure, run.year)]
        return {
            "upn": upn,
            "name": name,
            "figures": rows,
            "explanation": figure.explanation,
            "results": [],
            "not_counted": figure.not_counted,
        }
    primary = PrimaryPupilFigure.objects.filter(run=run, school=school, upn=upn).first()
    if primary is None:
        return None
    infos = measure_infos(run)
    rows = [(infos[k].label, v) for k, v in primary.figures.items() if k in infos]
    return {
        "upn": upn,
        "name": name,
        "figures": rows,
        "explanation": [],
        "results": results_in_words(primary.results, run.year),
    }


@dataclass(frozen=True)
class ResultInWords:
    assessment: str  # the assessment's name
    result: str  # as confirmed: a score or a code
    meaning: str  # what a code means, and that it is not a score; empty for a score


def results_in_words(results: Mapping[str, str], year: int) -> list[ResultInWords]:
    """A pupil's confirmed results named as the year's frameworks name them, each code with its
    meaning (a code such as the multiplication check's B is not a score, so no average counts it)."""
    from keystage.reference_data.services import reference_version

    assessments = _assessments_for(year, reference_version())
    found = []
    for code, result in results.items():
        assessment = assessments.get(code)
        if assessment is None:
            found.append(ResultInWords(code.replace("_", " "), str(result), ""))
            continue
        outcome = assessment.outcome(str(result))
        meaning = ""
        if outcome is not None and assessment.score is not None:
            meaning = f"{outcome.label}: a code, not a score, so no average score counts it"
        elif outcome is not None:
            meaning = outcome.label
        found.append(ResultInWords(assessment.label, str(result), meaning))
    return sorted(found, key=lambda r: r.assessment)


@lru_cache(maxsize=16)
def _assessments_for(year: int, version: int) -> dict[str, Any]:
    """The year's assessments by code, read once per load of reference data (``version``)."""
    from keystage.reference_data.services import framework_library

    return framework_library().assessments_for(year)


def _ks4_pupil_figures(figure: PupilFigure, year: int) -> list[tuple[str, Any]]:
    gap = without_progress8(year)
    if gap is not None:  # no Progress 8, and why; keystage's KS1-based value added instead
        return [
            ("KS1 prior attainment (average point score)", figure.ks1_aps),
            ("KS1 prior attainment group", figure.ks1_pag),
            ("a8", figure.a8),
            ("a8_english", figure.a8_english),
            ("a8_maths", figure.a8_maths),
            ("a8_ebacc", figure.a8_ebacc),
            ("a8_open", figure.a8_open),
            ("p8", gap.message),
            ("ks1_va", figure.ks1_va),
            ("ks1_va_english", figure.ks1_va_english),
            ("ks1_va_maths", figure.ks1_va_maths),
            ("ks1_va_ebacc", figure.ks1_va_ebacc),
            ("ks1_va_open", figure.ks1_va_open),
            ("ebacc_aps", figure.ebacc_aps),
        ]
    return [
        ("KS2 prior attainment (average of reading and maths scaled scores)", figure.ks2_pa),
        ("a8", figure.a8),
        ("a8_english", figure.a8_english),
        ("a8_maths", figure.a8_maths),
        ("a8_ebacc", figure.a8_ebacc),
        ("a8_open", figure.a8_open),
        ("p8", figure.p8_adjusted),
        ("p8_unadjusted", figure.p8),
        ("p8_english", figure.p8_english),
        ("p8_maths", figure.p8_maths),
        ("p8_ebacc", figure.p8_ebacc),
        ("p8_open", figure.p8_open),
        ("ebacc_aps", figure.ebacc_aps),
    ]
