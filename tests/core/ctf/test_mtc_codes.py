"""The multiplication tables check as STA's own check service writes it into a CTF: a score 0-25,
or a code for a pupil without one (DfE's MTC service, admin/lib/consts/ctf-results.js). Every code is
accepted, means what STA's guidance says, and is left out of the average score; a file from a year
keystage has no mapping for is read with the nearest, with a warning naming both years."""

from __future__ import annotations

from datetime import date, datetime
from io import StringIO

import polars as pl
import pytest
from django.core.management import call_command

from keystage.core.ctf.model import CTFDocument, CTFHeader, CTFPupil, SchoolRef, StageResult
from keystage.core.ctf.reader import check_ctf
from keystage.core.ctf.writer import write_ctf
from keystage.core.measures.group_figures import group_figures
from keystage.core.measures.primary import ks2
from keystage.core.pupils.model import build_upn
from keystage.core.reference.frameworks import FrameworkLibrary

# The codes STA's check service writes in <Result> when a pupil has no score.
STA_MTC_CODES = ("A", "B", "J", "L", "U", "X", "Z", "NAA", "Q", "H")
LIBRARY = FrameworkLibrary.from_directory()


def _ctf(results: list[str], academic_year: int = 2024) -> bytes:
    """A CTF shaped as the check service writes one: partial, KS2 MAT TT MTC, ResultQualifier MT."""
    check_year = str(academic_year + 1)
    source = SchoolRef(la="801", estab="2001", urn="100001", name="School One", academic_year=academic_year)
    header = CTFHeader(
        academic_year % 100,
        datetime(academic_year + 1, 6, 28, 9),
        "partial",
        "Multiplication Tables Check",
        source,
        SchoolRef(la="801", estab="2001", urn="100001"),
    )
    pupils = [
        CTFPupil(
            upn=build_upn("801", "2001", 16, n),
            surname="WALKER",
            forename="AMELIA",
            date_of_birth=date(academic_year - 8, 10, 1),
            sex="F",
            results=(StageResult("KS2", "ENG", check_year, "MAT", "TT", "MTC", "R", "MT", result),),
        )
        for n, result in enumerate(results, start=1)
    ]
    return write_ctf(CTFDocument(header, pupils))


def test_every_code_sta_writes_is_accepted_with_scores_0_to_25():
    read = check_ctf(_ctf([*STA_MTC_CODES, "0", "25"]))
    assert read.problems == []


@pytest.mark.parametrize("result", ["26", "-1", "12.5", "C", "NA"])
def test_anything_else_is_still_refused_naming_what_is_valid(result):
    (problem,) = check_ctf(_ctf([result])).problems
    assert f"“{result}” is not a valid result" in problem.message
    assert "0 to 25" in problem.message and "NAA" in problem.message


def test_each_code_means_what_sta_says_and_none_counts_in_the_average_score():
    mtc = LIBRARY.for_year("ks2", 2026).assessment("ks2_mtc")
    meanings = {code: mtc.outcome(code).label for code in STA_MTC_CODES}
    assert meanings["B"].startswith("Working below the expected standard")
    assert meanings["J"].startswith("Just arrived")
    assert meanings["Z"].startswith("Incorrectly registered")
    assert meanings["H"] == "Result annulled: the pupil cheated"
    assert mtc.outcome("Q").has("annulled") and mtc.outcome("H").has("annulled")
    codes = {f"P{n}": {"ks2_mtc": code} for n, code in enumerate(STA_MTC_CODES)}
    rows = {**codes, "S1": {"ks2_mtc": "25"}, "S2": {"ks2_mtc": "19"}}
    results = pl.DataFrame(
        [(upn, a, r) for upn, given in rows.items() for a, r in given.items()],
        schema=["upn", "assessment", "result"],
        orient="row",
    )
    pupils = pl.DataFrame({"upn": list(rows), "school": ["S"] * len(rows)})
    table = ks2.ks2_pupils(results, pupils, LIBRARY.for_year("ks2", 2026))
    school = group_figures(table, ks2.MEASURES, group_columns=["all"]).row(0, named=True)
    assert (school["ks2_mtc_score"], school["ks2_mtc_score_pupils"]) == (22.0, 2)


def test_a_file_from_a_year_without_a_mapping_is_read_with_the_nearest_and_says_so(db, tmp_path):
    path = tmp_path / "mtc-2019.xml"
    path.write_bytes(_ctf(["24", "A"], academic_year=2019))
    read = check_ctf(path.read_bytes())
    assert read.errors == []
    (mapping_note, framework_note) = [w.message for w in read.warnings]
    assert "no CTF assessment mapping for 2019/20" in mapping_note and "from 2023/24" in mapping_note
    assert "no ks2 framework for 2019/20" in framework_note and "from 2023/24" in framework_note
    out = StringIO()
    call_command("ctf", "check", str(path), stdout=out, stderr=out)  # no CommandError: a warning only
    printed = out.getvalue()
    assert "Warning: CTfile/Header/SourceSchool/AcademicYear" in printed
    assert "No problems found (2 warnings)." in printed


def test_a_pupils_page_names_each_result_and_says_what_a_code_means(db):
    from keystage.reports.pupils import results_in_words

    found = {r.assessment: r for r in results_in_words({"ks2_mtc": "B", "ks2_reading_test": "104"}, 2026)}
    mtc = found["Multiplication tables check score"]
    assert mtc.result == "B"
    assert mtc.meaning.startswith("Working below the expected standard of the check")
    assert mtc.meaning.endswith("a code, not a score, so no average score counts it")
    assert found["Reading test scaled score"].meaning == ""
