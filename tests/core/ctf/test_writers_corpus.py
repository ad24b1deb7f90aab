"""CTFs as other writers shape them (tests/core/ctf/corpus, built for these tests from the writers'
published formats): each is read, its sex from <Sex> or the older <Gender>, every element keystage
does not read is counted and named, and the check's summary names source and destination."""

from __future__ import annotations

from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command

from keystage.core.ctf.reader import check_ctf

CORPUS = Path(__file__).parent / "corpus"


def _check(path: Path) -> str:
    out = StringIO()
    call_command("ctf", "check", str(path), stdout=out, stderr=out)
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
    assert "from (no school given) to (no school given): 1 pupils" in _check(path)


@pytest.mark.parametrize("version", ["10.0", "28.0", "x"])
def test_a_version_outside_those_read_is_refused_naming_the_range(version):
    from keystage.core.ctf.reader import CTFError

    text = (
        (CORPUS / "mtc_service_ctf23.xml").read_text().replace("<CTFversion>23.0", f"<CTFversion>{version}")
    )
    with pytest.raises(CTFError, match=r"is not one this service reads \(11\.0 to 27\.0\)"):
        check_ctf(text.encode())
