"""CTFs as other writers shape them (tests/core/ctf/corpus, built for these tests from the writers'
published formats): each is read, its sex from <Sex> or the older <Gender>, every element keystage
does not read is counted and named, and the check's summary names source and destination."""

from __future__ import annotations

from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command

from keystage.core.ctf.reader import check_ctf
from keystage.pupils.models import Pupil
from tests.factories import SchoolFactory

CORPUS = Path(__file__).parent / "corpus"


def _check(path: Path) -> str:
    out = StringIO()
    call_command("ctf", "check", str(path), stdout=out, stderr=out)
    return out.getvalue()


def _import(path: Path, school: str, year: int) -> str:
    out = StringIO()
    call_command("ctf", "import", str(path), "--school", school, "--year", str(year), stdout=out, stderr=out)
    return out.getvalue()


def test_an_old_mis_file_at_15_0_with_gender_is_read_and_says_what_it_skipped(db):
    path = CORPUS / "mis_ctf15_gender.xml"
    read = check_ctf(path.read_bytes())
    assert read.errors == []
    assert [p.sex for p in read.document.pupils] == ["F", "M"]
    (old,) = read.warnings
    assert old.path == "CTfile/Header/CTFversion"
    assert "CTF 15.0 is older than the 24.0 written for 2024/25" in old.message
    assert read.not_read == {"Address": 2, "Contacts": 1, "Attendance": 1, "BasicDetails/MedicalFlag": 1}
    printed = _check(path)
    assert "CTF 15.0 from 8012001 School One to 8014001: 2 pupils" in printed
    assert "Not read (keystage does not use them), with the pupils that have them: Address (2)" in printed
    assert "No problems found (1 warning)." in printed


def test_the_mtc_services_file_is_read_clean(db):
    path = CORPUS / "mtc_service_ctf23.xml"
    read = check_ctf(path.read_bytes())
    assert read.problems == [] and read.not_read == {}
    assert read.document.pupils[0].results[0].result == "NAA"
    assert "No problems found." in _check(path)


def test_a_header_without_schools_says_so_in_the_summary(db, tmp_path):
    text = (CORPUS / "mtc_service_ctf23.xml").read_text()
    bare = text.split("<SourceSchool>")[0] + text.split("</DestSchool>")[1]
    path = tmp_path / "bare.xml"
    path.write_text(bare)
    assert "from (no school given) to (no school given): 1 pupil" in _check(path)


@pytest.mark.parametrize("version", ["10.0", "28.0", "x"])
def test_a_version_outside_those_read_is_refused_naming_the_range(version):
    from keystage.core.ctf.reader import CTFError

    text = (
        (CORPUS / "mtc_service_ctf23.xml").read_text().replace("<CTFversion>23.0", f"<CTFversion>{version}")
    )
    with pytest.raises(CTFError, match=r"is not one this service reads \(11\.0 to 27\.0\)"):
        check_ctf(text.encode())


def test_a_current_mis_full_transfer_is_read_with_its_history_and_names_what_it_skipped(db):
    path = CORPUS / "mis_ctf25_full_transfer.xml"
    read = check_ctf(path.read_bytes())
    assert read.problems == []
    first = read.document.pupils[0]
    assert (first.surname, first.forename, first.sex, first.first_language) == (
        "O'Neill",
        "Siobhán",
        "F",
        "ENG",
    )
    assert (first.fsm_eligible, first.sen_provision, first.in_care) == (True, "K", False)
    assert [r.result for r in first.results] == ["EXS", "J"]
    assert read.not_read == {
        "Address": 1,
        "Attendance": 1,
        "BasicDetails/MedicalFlag": 1,
        "Contacts": 1,
        "Email": 1,
        "Phones": 1,
        "SchoolHistory": 1,
        "UCI": 1,
    }
    printed = _check(path)
    assert "CTF 25.0 from 8002001 School Two to 8004001: 2 pupils" in printed
    assert "Address (1), Attendance (1), BasicDetails/MedicalFlag (1), Contacts (1), Email (1)" in printed


@pytest.mark.parametrize(
    ("name", "school", "year", "skipped"),
    [
        ("mis_ctf15_gender.xml", "8014001", 2025, "Address (2), Attendance (1)"),
        ("mis_ctf25_full_transfer.xml", "8004001", 2026, "Address (1), Attendance (1)"),
        ("mtc_service_ctf23.xml", "8012001", 2024, ""),
    ],
)
def test_each_writers_file_imports_its_pupils_and_names_what_it_skipped(world, name, school, year, skipped):
    if school == "8012001":  # the check service writes the school as source and destination
        SchoolFactory(name="Check School", la=world.away_la, urn="100009", dfe_number=school)
    path = CORPUS / name
    pupils = check_ctf(path.read_bytes()).document.pupils
    printed = _import(path, school, year)
    assert f"{len(pupils)} added, 0 updated" in printed and "0 problems" in printed
    stored = Pupil.objects.filter(school__dfe_number=school, academic_year=year)
    assert {(p.upn, p.sex) for p in stored} == {(p.upn, p.sex) for p in pupils}
    if skipped:
        assert f"Not read (keystage does not use them), with the pupils that have them: {skipped}" in printed
    else:
        assert "Not read" not in printed


def test_a_file_without_nc_years_places_new_pupils_by_age_and_leaves_rostered_ones_alone(world):
    """STA's check service writes no NCyearActual: a new pupil is placed by the date of birth, with a
    warning; a pupil already on the roster (here kept down a year) keeps the year group it has."""
    school = SchoolFactory(name="Check School", la=world.away_la, urn="100009", dfe_number="8012001")
    path = CORPUS / "mtc_service_ctf23.xml"
    (pupil,) = check_ctf(path.read_bytes()).document.pupils
    printed = _import(path, "8012001", 2024)
    assert "Pupil[1]/BasicDetails/NCyearActual" in printed
    assert f"(UPN {pupil.upn}): no NC year given: Year 4 by the date of birth" in printed
    assert Pupil.objects.get(school=school, upn=pupil.upn).nc_year == 4

    Pupil.objects.filter(school=school, upn=pupil.upn).update(nc_year=3, surname="Old name")
    printed = _import(path, "8012001", 2024)
    assert "0 added, 1 updated" in printed
    kept = Pupil.objects.get(school=school, upn=pupil.upn)
    assert (kept.nc_year, kept.surname) == (3, pupil.surname)
