"""A school's confirmed results as a CTF for its LA: every result a StageAssessment coded through the
year's mapping, blanks not written, unmapped assessments counted, and the file checks clean and reads
back to the same results, for EYFSP, phonics, KS1 and KS2 TA."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from keystage.core.ctf.model import SchoolRef, la_destination, shipped_mappings
from keystage.core.ctf.reader import check_ctf, read_ctf
from keystage.core.ctf.results import ResultsCTFError, ResultsPupil, results_ctf
from keystage.core.pupils.model import build_upn
from keystage.core.reference.frameworks import FrameworkLibrary
from keystage.core.results.kinds import KINDS

YEAR = 2026
SOURCE = SchoolRef(la="801", estab="2001", urn="100001", name="School One")
MAPPINGS = shipped_mappings()
FRAMEWORKS = FrameworkLibrary.from_directory()


def _valid_values(kind: str, pupil: int) -> dict[str, str]:
    """A valid result in each assessment of the kind's framework that the mapping codes, varied by
    pupil: its outcome codes in turn, or a score within its range."""
    mapping = next(m for m in MAPPINGS if m.from_year <= YEAR)
    values = {}
    for assessment in FRAMEWORKS.for_year(KINDS[kind].framework, YEAR).assessments:
        if mapping.entry_for(assessment.code) is None:
            continue
        choices = list(assessment.codes)
        if assessment.score is not None:
            low, high = assessment.score.minimum, assessment.score.maximum
            choices += [str(low + (high - low) * n // 4) for n in range(5)]
        values[assessment.code] = choices[pupil % len(choices)]
    return values


def _pupils(kind: str, count: int = 4) -> list[ResultsPupil]:
    nc_year = KINDS[kind].nc_years[0]
    return [
        ResultsPupil(
            upn=build_upn("801", "2001", 20, n),
            forename=f"Pupil{n}",
            surname="Jones",
            date_of_birth=date(YEAR - nc_year - 6, 10, n),
            sex="FM"[n % 2],
            nc_year=nc_year,
            results=_valid_values(kind, n),
        )
        for n in range(1, count + 1)
    ]


def _make(pupils, **changes):
    values = dict(
        source=SOURCE,
        destination=la_destination("801"),
        year=YEAR,
        mappings=MAPPINGS,
        generated_at=datetime(YEAR, 6, 20, 10, 30),
    )
    values.update(changes)
    return results_ctf(pupils, **values)


def _read_back(data: bytes) -> dict[str, dict[str, str]]:
    """Each pupil's results as our assessments, by the mapping the reader uses."""
    read = read_ctf(data)
    mapping = next(m for m in MAPPINGS if m.from_year <= YEAR)
    back: dict[str, dict[str, str]] = {}
    for pupil in read.document.pupils:
        results = back.setdefault(pupil.upn, {})
        for result in pupil.results:
            entry = mapping.assessment_for(result)
            assert entry is not None, result
            results[entry.assessment] = result.result
    return back


@pytest.mark.parametrize("kind", ["eyfsp", "phonics", "ks1", "ks2-ta"])
def test_each_la_collection_writes_a_ctf_that_checks_clean_and_reads_back_the_same(kind):
    pupils = _pupils(kind)
    made = _make(pupils)
    read = check_ctf(made.data, frameworks=FRAMEWORKS, mappings=MAPPINGS)
    assert read.problems == []
    assert _read_back(made.data) == {p.upn: dict(p.results) for p in pupils}
    assert made.pupils == len(pupils)
    assert made.results == sum(len(p.results) for p in pupils) > 0
    assert made.unmapped == {}
    header = read.document.header
    assert header.source.academic_year == YEAR - 1 and header.version == 25
    assert header.document_qualifier == "partial"
    assert {r.year for p in read.document.pupils for r in p.results} == {str(YEAR)}
    expected_year = "R" if KINDS[kind].nc_years[0] == 0 else str(KINDS[kind].nc_years[0])
    assert {p.nc_year for p in read.document.pupils} == {expected_year}


def test_the_file_has_the_standard_name_for_the_la():
    made = _make(_pupils("phonics"), sequence=3)
    assert made.filename == "8012001_CTF_801LLLL_003.xml"
    assert made.filename_for(4) == "8012001_CTF_801LLLL_004.xml"


def test_blank_results_are_not_written_and_unmapped_ones_are_counted_not_dropped_silently():
    pupils = [
        ResultsPupil(
            build_upn("801", "2001", 20, 1),
            "Ann",
            "Jones",
            date(2018, 10, 1),
            "F",
            2,
            {"ks1_reading_ta": "EXS", "ks1_writing_ta": "  ", "ks1_reading_test": "EXS"},
        ),
        ResultsPupil(
            build_upn("801", "2001", 20, 2),
            "Bea",
            "Jones",
            date(2018, 10, 2),
            "F",
            2,
            {"ks1_maths_ta": "WTS", "ks1_reading_test": "HNM", "ks1_gps_test": "A"},
        ),
    ]
    made = _make(pupils)
    assert _read_back(made.data) == {
        pupils[0].upn: {"ks1_reading_ta": "EXS"},
        pupils[1].upn: {"ks1_maths_ta": "WTS"},
    }
    assert made.results == 2
    assert made.unmapped == {"ks1_gps_test": 1, "ks1_reading_test": 2}
    assert b"<Result></Result>" not in made.data and b"<Result/>" not in made.data


def test_a_pupil_with_no_results_is_still_in_the_file():
    pupils = _pupils("phonics", 2)
    pupils.append(ResultsPupil(build_upn("801", "2001", 20, 9), "Cy", "Jones", date(2019, 10, 9), "M", 1))
    made = _make(pupils)
    read = read_ctf(made.data)
    assert [p.upn for p in read.document.pupils] == [p.upn for p in pupils]
    assert read.document.pupils[-1].results == ()


def test_the_same_results_make_the_same_bytes_and_changed_results_do_not():
    pupils = _pupils("ks2-ta")
    assert _make(pupils).data == _make(list(pupils)).data
    changed = [pupils[0].__class__(**{**pupils[0].__dict__, "results": {"ks2_reading_ta": "WTS"}})]
    assert _make(changed + pupils[1:]).data != _make(pupils).data


def test_a_year_no_mapping_covers_is_refused_with_the_reason():
    with pytest.raises(ResultsCTFError, match="no CTF assessment mapping covers 2019/20"):
        _make(_pupils("phonics"), year=2020)


def test_results_follow_the_mapping_order_whatever_order_they_came_in():
    pupil = _pupils("eyfsp", 1)[0]
    reversed_pupil = ResultsPupil(
        **{**pupil.__dict__, "results": dict(reversed(list(pupil.results.items())))}
    )
    assert _make([reversed_pupil]).data == _make([pupil]).data
