"""Loading reference data into an installation, as a platform administrator does with `keystage reference`."""

from __future__ import annotations

from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from keystage.reference_data.models import (
    Qualification,
    QualificationSyllabus,
    QualificationYear,
    ReferenceImport,
)
from keystage.reference_data.services import framework_library
from tests.core.reference.test_ks4_catalogue import DFE_2019


def _run(*args: str) -> str:
    out = StringIO()
    call_command("reference", *args, stdout=out, stderr=out)
    return out.getvalue()


@pytest.mark.django_db
def test_loading_the_dfe_files_twice_gives_the_same_catalogue_and_logs_both(settings):
    logged = ReferenceImport.objects.filter(kind="ks4-catalogue").count()
    first = _run("load-ks4", "--dfe-2019", str(DFE_2019))
    counts = (Qualification.objects.count(), QualificationYear.objects.count())
    _run("load-ks4", "--dfe-2019", str(DFE_2019))
    assert (Qualification.objects.count(), QualificationYear.objects.count()) == counts
    assert "1418 qualifications" in first and "9 rows could not be read" in first
    assert "50026161 also counts in the humanities pillar" in first  # reported, not hidden
    assert ReferenceImport.objects.filter(kind="ks4-catalogue").count() == logged + 2
    assert (
        QualificationSyllabus.objects.get(
            qualification_id="50026161", year=2019, syllabus="H039"
        ).discount_code
        == "F1L"
    )
    maths = Qualification.objects.get(qan="60146060")
    assert maths.years.get(year=2019).discount_code == "RB1"
    assert maths.grades.get(grade="4").points == 4.0
    shown = _run("show", "601/4606/0", "--year", "2019")
    assert "2019: discount code RB1, EBacc maths" in shown


@pytest.mark.django_db
def test_a_new_years_framework_is_loaded_without_a_code_change(tmp_path: Path):
    folder = tmp_path / "phonics"
    folder.mkdir()
    new_year = folder / "2030.toml"
    new_year.write_text(
        'collection = "phonics"\nfrom_year = 2030\ntitle = "Phonics (new check)"\n'
        "[thresholds]\nphonics_expected = 30\n"
        '[[assessments]]\ncode = "phonics_mark"\nlabel = "Mark"\nscore = { min = 0, max = 36 }\n'
    )
    assert "ok" in _run("check", str(new_year))
    assert framework_library().for_year("phonics", 2030).thresholds["phonics_expected"] == 32
    assert "Loaded phonics from 2030" in _run("load-framework", str(new_year))
    library = framework_library()
    assert library.for_year("phonics", 2030).thresholds["phonics_expected"] == 30
    assert library.for_year("phonics", 2029).thresholds["phonics_expected"] == 32
    assert ReferenceImport.objects.filter(kind="framework").exists()


@pytest.mark.django_db
def test_wrong_input_is_a_clear_error_and_loads_nothing(tmp_path: Path):
    logged = list(ReferenceImport.objects.values_list("pk", flat=True))
    broken = tmp_path / "ks1" / "2030.toml"
    broken.parent.mkdir()
    broken.write_text('collection = "ks1"\nfrom_year = 2030\n')
    with pytest.raises(CommandError, match="“assessments” is missing"):
        _run("load-framework", str(broken))
    not_xlsx = tmp_path / "points.xlsx"
    not_xlsx.write_text("nope")
    with pytest.raises(CommandError, match="cannot be read as a spreadsheet"):
        _run("load-ks4", "--points", str(not_xlsx))
    with pytest.raises(CommandError, match="No qualification 99999999"):
        _run("show", "99999999")
    assert list(ReferenceImport.objects.values_list("pk", flat=True)) == logged


MAPPING_2030 = """
from_year = 2030
[[entries]]
assessment = "ks2_mtc"
stage = "KS2"
subject = "MAT"
method = "TT"
component = "MTC2"
result_qualifier = "MT"
confirmed = true
"""


@pytest.mark.django_db
def test_a_new_years_ctf_coding_is_loaded_without_a_code_change(tmp_path: Path):
    from datetime import date, datetime

    from keystage.core.ctf.model import CTFDocument, CTFHeader, CTFPupil, SchoolRef, StageResult
    from keystage.core.ctf.writer import write_ctf
    from keystage.core.pupils.model import build_upn

    result = StageResult("KS2", "ENG", "2030", "MAT", "TT", "MTC2", "R", "MT", "21")
    source = SchoolRef("801", "2001", "100001", "School", 2029)
    document = CTFDocument(
        CTFHeader(26, datetime(2030, 6, 20, 9, 0), "partial", "x", source, SchoolRef("801", "LLLL")),
        [
            CTFPupil(
                build_upn("801", "2001", 24, 1), "Brown", "Ann", date(2019, 1, 1), "F", "6", results=(result,)
            )
        ],
    )
    ctf = tmp_path / "new.xml"
    ctf.write_bytes(write_ctf(document))
    before = StringIO()
    with pytest.raises(CommandError, match="1 problem found"):
        call_command("ctf", "check", str(ctf), stdout=before)
    assert "is not in the mapping for 2030" in before.getvalue()
    mapping = tmp_path / "2030.toml"
    mapping.write_text(MAPPING_2030)
    assert "1 assessments, 0 of them marked unconfirmed" in _run("load-ctf-mapping", str(mapping))
    out = StringIO()
    call_command("ctf", "check", str(ctf), stdout=out)
    assert "No problems found" in out.getvalue()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("from_year = 'soon'", "“from_year” must be a whole number"),
        ("from_year = 2030", "“entries” must be a list of tables"),
        ("from_year = 2030\n[[entries]]\nassessment = 'x'\nstage = 'KS2'", "“subject” must be text"),
        (
            MAPPING_2030 + MAPPING_2030.split("\n", 2)[2].replace("ks2_mtc", "ks2_other"),
            "have the same CTF coding",
        ),
        ("from_year = ", "not valid TOML"),
    ],
)
@pytest.mark.django_db
def test_a_wrong_mapping_file_is_a_clear_error_and_loads_nothing(tmp_path: Path, text, message):
    path = tmp_path / "m.toml"
    path.write_text(text)
    with pytest.raises(CommandError, match=message):
        _run("load-ctf-mapping", str(path))
    assert not ReferenceImport.objects.filter(kind="ctf-mapping").exists()
