"""STA's multiplication tables check CTF, as its check service writes one, uploaded into a school's
KS2 collection through the real service and worker: every code STA writes is stored as given, the
parts of the file keystage does not use are named, and the pupils' pages say what each code means."""

from __future__ import annotations

from datetime import datetime

import pytest

from keystage.core.ctf.model import CTFDocument, CTFHeader, CTFPupil, SchoolRef, StageResult
from keystage.core.ctf.writer import write_ctf
from keystage.measures import services as measures
from keystage.results import services, upload_checks, uploading
from keystage.results.models import Result, UploadStatus
from tests.conftest import signed_in
from tests.results.conftest import YEAR, as_file, open_collection, roster, validate_json

# The codes STA's check service writes in <Result> when a pupil has no score
# (DfE's MTC service, admin/lib/consts/ctf-results.js), and two scores.
RESULTS = ("A", "B", "J", "L", "U", "X", "Z", "NAA", "Q", "H", "0", "25")


def _sta_ctf(school, pupils, results, *, extra: bytes = b"", also: tuple[StageResult, ...] = ()) -> bytes:
    """Partial, SupplierID "Multiplication Tables Check", one KS2 MAT TT MTC result a pupil. The
    check is taken in Year 4: these Year 6 pupils took it two years before the collection's year."""
    la, estab = school.dfe_number[:3], school.dfe_number[3:]
    checked = YEAR - 2
    header = CTFHeader(
        checked - 1 - 2000,
        datetime(checked, 6, 28, 9),
        "partial",
        "Multiplication Tables Check",
        SchoolRef(la=la, estab=estab, urn=school.urn, name=school.name, academic_year=checked - 1),
        SchoolRef(la=la, estab=estab, urn=school.urn),
    )
    written = [
        CTFPupil(
            upn=pupil.upn,
            surname=pupil.surname.upper(),
            forename=pupil.forename.upper(),
            date_of_birth=pupil.date_of_birth,
            sex=pupil.sex,
            results=(StageResult("KS2", "ENG", str(checked), "MAT", "TT", "MTC", "R", "MT", result), *also),
        )
        for pupil, result in zip(pupils, results, strict=True)
    ]
    data = write_ctf(CTFDocument(header, written))
    if extra:  # what an MIS adds to each pupil, which the check service does not write
        data = data.replace(b"</Pupil>", extra + b"</Pupil>")
    return data


@pytest.fixture(autouse=True)
def _uploads_in_a_temporary_folder(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "storage"


def test_every_mtc_code_is_uploaded_into_the_ks2_collection_and_explained(world):
    collection = open_collection("ks2-ta")
    pupils = roster(world.s1, "ks2-ta", len(RESULTS))
    data = _sta_ctf(world.s1, pupils, RESULTS)
    user = world.person("manage_data")

    upload = uploading.upload_results(
        collection, world.s1, as_file(data, "mtc.xml"), filename="mtc.xml", actor=user
    )
    upload = upload_checks.validate_stored_upload(upload.pk)

    assert upload.status == UploadStatus.SUCCESSFUL, upload.issues[:3]
    assert upload.error_count == 0 and upload.pupil_count == len(RESULTS)
    stored = dict(Result.objects.filter(upload=upload, subject="ks2_mtc").values_list("pupil__upn", "value"))
    assert stored == {pupil.upn: result for pupil, result in zip(pupils, RESULTS, strict=True)}

    services.confirm_upload(upload, actor=user, agreed=True)
    measures.compute_and_store_primary("ks2", YEAR)
    page = signed_in(world.person("school_named")).get(
        f"/reports/{world.s1.pk}/ks2/{YEAR}/pupils/{pupils[7].upn}/"
    )
    assert page.status_code == 200
    results = page.content.decode().split('id="results"')[1].split("</dl>")[0]
    assert "NAA" in results and "The school was not able to administer the check" in results


def test_what_an_mis_adds_is_named_as_not_read_on_the_page_in_the_cli_and_the_api(world, tmp_path, capsys):
    collection = open_collection("ks2-ta")
    pupils = roster(world.s1, "ks2-ta", 3)
    extra = (
        b"<Address><Postcode>AB1 2CD</Postcode></Address><Attendance><Sessions>300</Sessions></Attendance>"
    )
    data = _sta_ctf(world.s1, pupils, ("20", "A", "24"), extra=extra)
    expected = (
        "were not read (each with the number of pupils whose record has it): Address (3), Attendance (3)."
    )

    path = tmp_path / "mtc.xml"
    path.write_bytes(data)
    printed = validate_json(path, "ks2-ta", world.s1, capsys)
    assert printed["valid"] is True
    (cli,) = [i for i in printed["issues"] if i["code"] == "file.ctf_not_read"]
    assert cli["message"].endswith(expected) and cli["severity"] == "warning"

    user = world.person("manage_data")
    upload = uploading.upload_results(
        collection, world.s1, as_file(data, "mtc.xml"), filename="mtc.xml", actor=user
    )
    upload = upload_checks.validate_stored_upload(upload.pk)
    assert upload.status == UploadStatus.SUCCESSFUL and upload.warning_count == 1
    page = signed_in(user).get(f"/uploads/{upload.pk}/")
    assert page.status_code == 200 and expected in page.content.decode()


def test_results_for_another_collection_in_the_file_are_counted_not_dropped(world):
    collection = open_collection("ks2-ta")
    pupils = roster(world.s1, "ks2-ta", 2)
    phonics = StageResult("KS1", "ENG", str(YEAR - 4), "ENG", "TT", "PSC", "R", "PM", "36")
    data = _sta_ctf(world.s1, pupils, ("20", "21"), also=(phonics,))
    user = world.person("manage_data")

    upload = uploading.upload_results(
        collection, world.s1, as_file(data, "f.xml"), filename="f.xml", actor=user
    )
    upload = upload_checks.validate_stored_upload(upload.pk)

    assert upload.status == UploadStatus.SUCCESSFUL, upload.issues[:3]
    (other,) = [i for i in upload.issues if i["code"] == "result.ctf_other_collection"]
    assert other["message"] == (
        "2 results coded Stage KS1, Subject ENG, Method TT, Component PSC belong to another collection, "
        "not KS2 TA; they were not read here."
    )
