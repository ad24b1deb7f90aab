"""A school's confirmed results as a CTF for its LA: `keystage ctf export --collection` and the
collection page's Download CTF, for EYFSP, phonics, KS1 and KS2 TA. The file passes `keystage ctf
check` and reads back to the results as confirmed; the download is audited; only people who may
submit the school's data get it."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from keystage.audit.models import AuditAction, AuditEvent
from keystage.core.ctf.model import mapping_in_force
from keystage.core.ctf.reader import read_ctf
from keystage.core.results.fill import fill_template
from keystage.core.results.kinds import KINDS
from keystage.reference_data.services import ctf_mappings
from keystage.results import downloads, la_ctf, services, upload_checks, uploading
from keystage.results.models import Result, Upload, UploadStatus
from tests.conftest import signed_in
from tests.results.conftest import YEAR, as_file, filled, open_collection, roster

LA_KINDS = ["eyfsp", "phonics", "ks1", "ks2-ta"]


def confirmed_upload(collection, school, user, *, seed: int = 7) -> Upload:
    """The school's template filled with synthetic results (as `keystage synth fill-template` does),
    uploaded, checked and confirmed: the submission in use."""
    template = downloads.download_template(collection, school, actor=user)
    data = fill_template(template, services.layout_for(collection.kind, collection.year), seed=seed).data
    upload = uploading.upload_results(collection, school, as_file(data), filename="results.xlsx", actor=user)
    upload = upload_checks.validate_stored_upload(upload.pk)
    assert upload.status == UploadStatus.SUCCESSFUL, upload.issues[:3]
    return services.confirm_upload(upload, actor=user, agreed=True)


def confirmed_results(upload: Upload) -> dict[str, dict[str, str]]:
    """What the upload holds, as stored when it was checked: UPN -> assessment -> result."""
    held: dict[str, dict[str, str]] = {p.upn: {} for p in upload.pupils.all()}
    for upn, subject, value in Result.objects.filter(upload=upload).values_list(
        "pupil__upn", "subject", "value"
    ):
        held[upn][subject] = value
    return held


def read_back(data: bytes, year: int) -> dict[str, dict[str, str]]:
    """A CTF's results as our assessments, through the mapping the reader uses."""
    mapping = mapping_in_force(ctf_mappings(), year)
    back: dict[str, dict[str, str]] = {}
    for pupil in read_ctf(data).document.pupils:
        results = back.setdefault(pupil.upn, {})
        for result in pupil.results:
            entry = mapping.assessment_for(result)
            assert entry is not None, result
            results[entry.assessment] = result.result
    return back


def split_by_mapping(held: dict[str, dict[str, str]], year: int):
    """The results a CTF can carry, and the count of the others by assessment."""
    mapping = mapping_in_force(ctf_mappings(), year)
    mapped = {upn: {k: v for k, v in r.items() if mapping.entry_for(k)} for upn, r in held.items()}
    unmapped: dict[str, int] = {}
    for results in held.values():
        for key in results:
            if mapping.entry_for(key) is None:
                unmapped[key] = unmapped.get(key, 0) + 1
    return mapped, unmapped


def _ctf(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("ctf", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


@pytest.mark.parametrize("kind", LA_KINDS)
def test_the_command_writes_the_confirmed_results_that_check_clean_and_read_back_the_same(
    world, kind, tmp_path
):
    collection = open_collection(kind)
    roster(world.s1, kind, count=6)
    upload = confirmed_upload(collection, world.s1, world.person("manage_data"))
    held = confirmed_results(upload)
    mapped, unmapped = split_by_mapping(held, YEAR)
    written = sum(len(r) for r in mapped.values())
    assert written > 0

    out, err = _ctf(
        "export", "--school", world.s1.dfe_number, "--year", str(YEAR), "--to", "la", "--collection", kind,
        "-o", str(tmp_path),
    )  # fmt: skip
    path = tmp_path / f"{world.s1.dfe_number}_CTF_800LLLL_001.xml"
    assert f"Wrote 6 pupils with {written} results of {collection}" in out and str(path) in out
    for assessment, count in unmapped.items():
        assert f"Not written: {count} result{'s' if count != 1 else ''} of {assessment}" in err
    checked, _ = _ctf("check", str(path))
    assert "6 pupils" in checked and "No problems found." in checked
    assert read_back(path.read_bytes(), YEAR) == mapped
    assert AuditEvent.objects.filter(
        action=AuditAction.REPORT_DOWNLOADED, organisation=world.s1, detail__upload=upload.pk
    ).exists()


def test_the_command_uses_the_submission_in_use_and_never_overwrites_an_earlier_file(world, tmp_path):
    collection = open_collection("phonics")
    roster(world.s1, "phonics", count=3)
    user = world.person("manage_data")
    confirmed_upload(collection, world.s1, user, seed=1)
    args = ["export", "--school", world.s1.dfe_number, "--year", str(YEAR), "--to", "la"]
    _ctf(*args, "--collection", "phonics", "-o", str(tmp_path))
    newer = confirmed_upload(collection, world.s1, user, seed=2)
    _ctf(*args, "--collection", "phonics", "-o", str(tmp_path))
    second = tmp_path / f"{world.s1.dfe_number}_CTF_800LLLL_002.xml"
    assert (tmp_path / f"{world.s1.dfe_number}_CTF_800LLLL_001.xml").exists()
    assert read_back(second.read_bytes(), YEAR) == split_by_mapping(confirmed_results(newer), YEAR)[0]


def test_the_command_with_no_confirmed_upload_says_so_and_writes_nothing(world, tmp_path):
    folder = tmp_path / "ctfs"
    collection = open_collection("ks1")
    roster(world.s1, "ks1", count=2)
    template = downloads.download_template(collection, world.s1, actor=world.person("manage_data"))
    data = fill_template(template, services.layout_for("ks1", YEAR), seed=3).data
    unconfirmed = uploading.upload_results(
        collection, world.s1, as_file(data), filename="r.xlsx", actor=world.person("manage_data")
    )
    upload_checks.validate_stored_upload(unconfirmed.pk)  # checked, valid, but never confirmed
    args = ["export", "--school", world.s1.dfe_number, "--year", str(YEAR), "--to", "la"]
    with pytest.raises(CommandError, match="has no confirmed KS1 2025/26 submission"):
        _ctf(*args, "--collection", "ks1", "-o", str(folder))
    with pytest.raises(CommandError, match="There is no EYFSP 2025/26 collection"):
        _ctf(*args, "--collection", "eyfsp", "-o", str(folder))
    with pytest.raises(CommandError, match="use --to la"):
        _ctf(*args[:-1], "dfe", "--collection", "ks1", "-o", str(folder))
    assert not folder.exists()


def test_the_roster_export_without_a_collection_still_writes_pupils_only(world, tmp_path):
    collection = open_collection("phonics")
    roster(world.s1, "phonics", count=2)
    confirmed_upload(collection, world.s1, world.person("manage_data"))
    out, _ = _ctf(
        "export", "--school", world.s1.dfe_number, "--year", str(YEAR), "--to", "la", "-o", str(tmp_path)
    )
    assert "Wrote 2 pupils to" in out
    pupils = read_ctf(next(tmp_path.glob("*.xml"))).document.pupils
    assert len(pupils) == 2 and all(p.results == () for p in pupils)


# The collection page ---------------------------------------------------------------------------


def _home(collection, school) -> str:
    return reverse("results:service_home", args=[collection.pk, school.pk])


def _download(collection, school) -> str:
    return reverse("results:ctf_download", args=[collection.pk, school.pk])


@pytest.mark.parametrize("kind", LA_KINDS)
def test_the_page_downloads_the_confirmed_results_as_a_ctf_and_audits_it(world, kind):
    collection = open_collection(kind)
    roster(world.s1, kind, count=4)
    user = world.person("manage_data")
    client = signed_in(user)
    before = client.get(_home(collection, world.s1)).content.decode()
    assert "Once you confirm a submission, you can download its results as a CTF" in before
    assert _download(collection, world.s1) not in before
    upload = confirmed_upload(collection, world.s1, user)
    page = client.get(_home(collection, world.s1)).content.decode()
    assert f'href="{_download(collection, world.s1)}"' in page and "Download CTF" in page

    response = client.get(_download(collection, world.s1))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/xml"
    assert (
        response["Content-Disposition"] == f'attachment; filename="{world.s1.dfe_number}_CTF_800LLLL_001.xml"'
    )
    assert "no-store" in response["Cache-Control"]
    assert read_back(response.content, YEAR) == split_by_mapping(confirmed_results(upload), YEAR)[0]
    event = AuditEvent.objects.get(action=AuditAction.REPORT_DOWNLOADED, organisation=world.s1)
    assert event.actor == user and event.detail["upload"] == upload.pk and event.detail["file"] == "ctf"
    assert event.detail["pupils"] == 4


def test_results_a_ctf_cannot_carry_are_named_on_the_page_and_by_the_command(world, tmp_path):
    collection = open_collection("ks1")
    roster(world.s1, "ks1", count=2)
    user = world.person("manage_data")
    template = downloads.download_template(collection, world.s1, actor=user)
    data = filled(
        template,
        "ks1",
        {
            (1, "Teacher Assessment: KS1 Reading"): "EXS",
            (1, "Scaled Score: KS1 Reading"): 104,
            (2, "Teacher Assessment: KS1 Reading"): "WTS",
            (2, "Scaled Score: KS1 Reading"): 96,
            (2, "Scaled Score: KS1 GPS"): 101,
        },
    )
    upload = uploading.upload_results(collection, world.s1, as_file(data), filename="r.xlsx", actor=user)
    upload = upload_checks.validate_stored_upload(upload.pk)
    assert upload.status == UploadStatus.SUCCESSFUL, upload.issues[:3]
    services.confirm_upload(upload, actor=user, agreed=True)
    page = signed_in(user).get(_home(collection, world.s1)).content.decode()
    assert "Not in the CTF: Scaled Score: KS1 GPS (1 result), Scaled Score: KS1 Reading (2 results)." in page
    out, err = _ctf(
        "export", "--school", world.s1.dfe_number, "--year", str(YEAR), "--to", "la", "--collection", "ks1",
        "-o", str(tmp_path),
    )  # fmt: skip
    assert "Wrote 2 pupils with 2 results of KS1 2025/26" in out
    assert (
        "Not written: 1 result of ks1_gps_test" in err and "Not written: 2 results of ks1_reading_test" in err
    )
    path = next(tmp_path.glob("*.xml"))
    assert read_back(path.read_bytes(), YEAR) == {
        p.upn: {"ks1_reading_ta": value}
        for p, value in zip(upload.pupils.order_by("row"), ["EXS", "WTS"], strict=True)
    }


def test_with_no_confirmed_upload_the_download_says_why_and_records_nothing(world):
    collection = open_collection("phonics")
    client = signed_in(world.person("manage_data"))
    response = client.get(_download(collection, world.s1), follow=True)
    assert response.redirect_chain[-1][0] == _home(collection, world.s1) + "#ctf"
    assert "has no confirmed Phonics 2025/26 submission" in response.content.decode()
    assert not AuditEvent.objects.filter(action=AuditAction.REPORT_DOWNLOADED).exists()


@pytest.mark.parametrize("persona", ["other_school_admin", "other_trust_admin", "other_la_data_officer"])
def test_other_organisations_people_cannot_download_the_ctf(world, persona):
    collection = open_collection("phonics")
    roster(world.s1, "phonics", count=2)
    confirmed_upload(collection, world.s1, world.person("manage_data"))
    assert signed_in(world.person(persona)).get(_download(collection, world.s1)).status_code == 403
    assert not AuditEvent.objects.filter(action=AuditAction.REPORT_DOWNLOADED).exists()


@pytest.mark.parametrize("persona", ["governor", "school_anon", "school_named", "la_named"])
def test_people_without_manage_data_neither_see_nor_get_the_ctf(world, persona):
    collection = open_collection("phonics")
    roster(world.s1, "phonics", count=2)
    confirmed_upload(collection, world.s1, world.person("manage_data"))
    client = signed_in(world.person(persona))
    page = client.get(_home(collection, world.s1)).content.decode()
    assert "Download CTF" not in page and "Send to the LA" not in page
    assert client.get(_download(collection, world.s1)).status_code == 403
    assert not AuditEvent.objects.filter(action=AuditAction.REPORT_DOWNLOADED).exists()


def test_someone_signed_out_is_sent_to_sign_in(world, client):
    collection = open_collection("phonics")
    roster(world.s1, "phonics", count=2)
    confirmed_upload(collection, world.s1, world.person("manage_data"))
    response = client.get(_download(collection, world.s1))
    assert response.status_code == 302 and response["Location"].startswith(reverse("accounts:login"))
    assert not AuditEvent.objects.filter(action=AuditAction.REPORT_DOWNLOADED).exists()


def test_collections_not_sent_to_the_la_have_no_ctf(world):
    collection = open_collection("phonics")
    for kind, info in KINDS.items():
        if info.la_tag is None:
            collection.kind = kind  # a KS4 collection, unsaved: the service refuses it by kind
            with pytest.raises(services.CollectionError, match="not sent to the LA as a CTF"):
                la_ctf.export_la_ctf(collection, world.s1, actor=world.person("manage_data"))
            assert la_ctf.la_ctf_status(collection, world.s1, world.person("manage_data")) is None
