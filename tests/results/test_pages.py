"""The results collection pages over HTTP: what each person sees and may do, the upload's live
outcome, Manage uploads, the trust's bulk upload, and refusals for everyone else."""

from __future__ import annotations

import csv
import io
import zipfile
from datetime import timedelta

import openpyxl
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from keystage.audit.models import AuditAction, AuditEvent
from keystage.results import downloads, uploading
from keystage.results.models import SubmittedPupil, Upload, UploadStatus
from tests.conftest import signed_in
from tests.results.conftest import YEAR, filled, open_collection, roster

MARK = "Phonics screening check mark"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _home(collection, school) -> str:
    return reverse("results:service_home", args=[collection.pk, school.pk])


def _template(client, collection, school) -> bytes:
    response = client.get(reverse("results:get_template", args=[collection.pk, school.pk]))
    assert response.status_code == 200
    assert response["Content-Type"] == XLSX
    return response.content


def _post_upload(client, collection, school, data: bytes, name: str = "results.xlsx"):
    return client.post(
        reverse("results:upload", args=[collection.pk, school.pk]),
        {"file": SimpleUploadedFile(name, data)},
    )


def _run_worker() -> None:
    call_command("worker", "--batch", "--interval", "0", verbosity=0)


def test_service_homepage_shows_status_steps_and_key_dates(world):
    collection = open_collection()
    roster(world.s1, count=4)
    client = signed_in(world.person("manage_data"))
    page = client.get(_home(collection, world.s1)).content.decode()
    assert "4 pupils in Phonics year groups" in page
    assert "Uploads are accepted until" in page
    assert "Manage data: you can download templates" in page
    assert "Last download: none yet" in page and "Last upload: none yet" in page
    assert "Provisional deadline" in page and "Final deadline" in page
    assert "Download Phonics 2025/26 template" in page

    _template(client, collection, world.s1)
    page = client.get(_home(collection, world.s1)).content.decode()
    assert "Last download: none yet" not in page

    viewer = signed_in(world.person("school_anon")).get(_home(collection, world.s1)).content.decode()
    assert "View only" in viewer and "Download Phonics" not in viewer


@pytest.mark.parametrize(
    "persona", ["other_school_admin", "other_trust_admin", "other_la_data_officer", "other_la_named"]
)
def test_other_organisations_are_refused_every_page(world, persona):
    collection = open_collection()
    roster(world.s1)
    owner = world.person("manage_data")
    upload = uploading.upload_results(
        collection, world.s1, SimpleUploadedFile("r.xlsx", b"not a workbook"), filename="r.xlsx", actor=owner
    )
    client = signed_in(world.person(persona))
    for url in (
        _home(collection, world.s1),
        reverse("results:get_template", args=[collection.pk, world.s1.pk]),
        reverse("results:upload", args=[collection.pk, world.s1.pk]),
    ):
        assert client.get(url).status_code == 403, url
    for name in ("upload_detail", "upload_status", "download_file", "delete"):
        assert client.get(reverse(f"results:{name}", args=[upload.pk])).status_code == 404, name
    assert client.post(reverse("results:confirm", args=[upload.pk]), {"agree": "yes"}).status_code == 404
    assert client.post(reverse("results:delete", args=[upload.pk])).status_code == 404
    assert client.get(reverse("results:bulk_upload", args=[world.trust.pk])).status_code == 403
    history = client.get(reverse("results:history")).content.decode()
    assert "r.xlsx" not in history
    assert _post_upload(client, collection, world.s1, b"x").status_code == 403
    assert Upload.objects.count() == 1


def test_people_without_manage_data_can_look_but_not_download_or_upload(world):
    collection = open_collection()
    for persona in ("school_anon", "school_named", "governor", "la_named"):
        client = signed_in(world.person(persona))
        assert client.get(_home(collection, world.s1)).status_code == 200
        assert (
            client.get(reverse("results:get_template", args=[collection.pk, world.s1.pk])).status_code == 403
        )
        assert _post_upload(client, collection, world.s1, b"x").status_code == 403
    assert not Upload.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_upload_with_errors_then_fixed_then_confirmed(world):
    collection = open_collection()
    roster(world.s1)
    user = world.person("manage_data")
    client = signed_in(user)
    template = _template(client, collection, world.s1)

    response = _post_upload(client, collection, world.s1, filled(template, "phonics", {(1, MARK): 41}))
    upload = Upload.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse(
        "results:upload_detail", args=[upload.pk]
    )
    page = client.get(response["Location"]).content.decode()
    assert "Checking your file" in page and "data-poll-url" in page
    status = client.get(reverse("results:upload_status", args=[upload.pk])).json()
    assert status["done"] is False and status["status"] == "processing"

    _run_worker()
    status = client.get(reverse("results:upload_status", args=[upload.pk])).json()
    assert status["done"] is True and status["errors"] == 1
    assert "1 error found" in status["html"]
    assert "41" in status["html"] and "Download the error workbook" in status["html"]
    errors = client.get(reverse("results:download_errors", args=[upload.pk]))
    book = openpyxl.load_workbook(io.BytesIO(b"".join(errors.streaming_content)))
    assert book.sheetnames[0] == "Errors"

    client.post(reverse("results:upload", args=[collection.pk, world.s1.pk]), {})  # no file chosen
    fixed = filled(template, "phonics", {(1, MARK): 35, (2, MARK): "A"})
    response = _post_upload(client, collection, world.s1, fixed, "fixed.xlsx")
    second = Upload.objects.get(filename="fixed.xlsx")
    _run_worker()
    page = client.get(reverse("results:upload_detail", args=[second.pk])).content.decode()
    assert "Your file passed the checks: 3 pupils" in page and "Confirm submission" in page
    assert "Results are used to produce your school" in page  # the collection's terms

    refused = client.post(reverse("results:confirm", args=[second.pk]), {})
    assert refused.status_code == 400 and "Tick the box to agree" in refused.content.decode()
    response = client.post(reverse("results:confirm", args=[second.pk]), {"agree": "yes"})
    assert response.status_code == 302
    again = client.post(reverse("results:confirm", args=[second.pk]), {"agree": "yes"})  # double click
    assert again.status_code == 302
    second.refresh_from_db()
    assert second.in_use and second.confirmed_by == user
    page = client.get(reverse("results:upload_detail", args=[second.pk])).content.decode()
    assert "Submission confirmed" in page

    # A third file: confirming it would replace the one in use, and the page says so.
    third = uploading.upload_results(
        collection, world.s1, SimpleUploadedFile("third.xlsx", fixed), filename="third.xlsx", actor=user
    )
    _run_worker()
    page = client.get(reverse("results:upload_detail", args=[third.pk])).content.decode()
    assert "fixed.xlsx" in page and "is the submission in use. Confirming this file replaces it" in page
    third.delete()

    history = client.get(reverse("results:history")).content.decode()
    assert history.count("In use</span>") == 1 and "fixed.xlsx" in history and "results.xlsx" in history
    # The year filter names academic years as every other page does.
    assert f'<option value="{YEAR}">{YEAR - 1}/{YEAR % 100:02d}</option>' in history
    tidy = client.get(reverse("results:history") + "?tidy=1").content.decode()
    assert "fixed.xlsx" in tidy and "results.xlsx" not in tidy
    home = client.get(_home(collection, world.s1)).content.decode()
    assert "In use: fixed.xlsx" in home


def test_a_100_mb_file_is_refused_as_it_streams_and_nothing_is_kept(world, settings):
    collection = open_collection()
    client = signed_in(world.person("manage_data"))
    huge = SimpleUploadedFile("huge.xlsx", b"\0" * (100 * 1024 * 1024))
    response = client.post(reverse("results:upload", args=[collection.pk, world.s1.pk]), {"file": huge})
    assert response.status_code == 400
    assert "huge.xlsx is larger than 20 MB, the largest file accepted" in response.content.decode()
    assert not Upload.objects.exists()
    stored = (
        [p for p in settings.MEDIA_ROOT.glob("**/*") if p.is_file()] if settings.MEDIA_ROOT.exists() else []
    )
    assert stored == []


def test_an_upload_after_the_final_deadline_is_refused_with_the_date(world):
    now = timezone.now()
    collection = open_collection(
        opens_at=now - timedelta(days=30),
        provisional_deadline=now - timedelta(days=20),
        final_deadline=now - timedelta(days=1),
    )
    client = signed_in(world.person("manage_data"))
    page = client.get(reverse("results:upload", args=[collection.pk, world.s1.pk])).content.decode()
    assert "Uploads are no longer accepted" in page
    response = _post_upload(client, collection, world.s1, b"data")
    assert response.status_code == 400 and "closed at its final deadline" in response.content.decode()


def test_history_filters_downloads_and_delete_by_the_uploader_only(world):
    phonics = open_collection()
    eyfsp = open_collection("eyfsp")
    user = world.person("manage_data")
    trust_admin = world.person("trust_admin")
    mine = uploading.upload_results(
        phonics, world.s1, SimpleUploadedFile("mine.xlsx", b"one"), filename="mine.xlsx", actor=user
    )
    uploading.upload_results(
        eyfsp, world.s1, SimpleUploadedFile("theirs.xlsx", b"two"), filename="theirs.xlsx", actor=trust_admin
    )
    client = signed_in(user)
    page = client.get(reverse("results:history") + "?service=eyfsp").content.decode()
    assert "theirs.xlsx" in page and "mine.xlsx" not in page
    page = client.get(reverse("results:history") + "?status=nonsense&year=abc").content.decode()
    assert "theirs.xlsx" in page and "mine.xlsx" in page  # unknown filter values are ignored, not a 500

    response = client.get(reverse("results:download_file", args=[mine.pk]))
    assert b"".join(response.streaming_content) == b"one"
    assert AuditEvent.objects.filter(action=AuditAction.UPLOAD_DOWNLOADED, actor=user).count() == 1

    theirs = Upload.objects.get(filename="theirs.xlsx")
    assert client.post(reverse("results:delete", args=[theirs.pk])).status_code == 403
    assert client.get(reverse("results:delete", args=[mine.pk])).status_code == 200
    assert client.post(reverse("results:delete", args=[mine.pk])).status_code == 302
    mine.refresh_from_db()
    assert mine.status == UploadStatus.DELETED and not mine.file
    response = client.get(reverse("results:download_file", args=[mine.pk]))
    assert response.status_code == 302  # back to the upload, with the reason
    assert "was deleted" in client.get(response["Location"]).content.decode()
    page = client.get(reverse("results:history")).content.decode()
    assert "mine.xlsx" in page and "Deleted" in page


@pytest.mark.django_db(transaction=True)
def test_trust_bulk_upload_matches_each_file_to_its_school_and_refuses_others(world):
    collection = open_collection()
    roster(world.s1)
    roster(world.s2)
    roster(world.s3)
    admin = world.person("trust_admin")
    client = signed_in(admin)
    files = []
    for school in (world.s1, world.s2):
        template = downloads.download_template(collection, school, actor=admin)
        files.append(
            SimpleUploadedFile(f"{school.dfe_number}.xlsx", filled(template, "phonics", {(1, MARK): 33}))
        )
    template = downloads.download_template(collection, world.s1, actor=admin)
    marks = {(n, MARK): 40 + n for n in (1, 2, 3)}  # three marks over 40: three errors
    files.append(SimpleUploadedFile("three errors.xlsx", filled(template, "phonics", marks)))
    outside = downloads.download_template(collection, world.s3, actor=None)
    files.append(SimpleUploadedFile("outside.xlsx", filled(outside, "phonics", {(1, MARK): 30})))
    files.append(SimpleUploadedFile("empty.xlsx", b""))

    url = reverse("results:bulk_upload", args=[world.trust.pk])
    page = client.get(url).content.decode()
    assert "Phonics 2025/26" in page
    assert client.post(url, {"collection": collection.pk}).status_code == 400  # no files
    response = client.post(url, {"collection": collection.pk, "files": files})
    assert response.status_code == 302
    batch_page = client.get(response["Location"]).content.decode()
    assert "Checking the files" in batch_page and "empty.xlsx is empty" in batch_page

    _run_worker()
    batch = Upload.objects.filter(via_organisation=world.trust)
    outcome = {u.filename: (u.status, u.school_id) for u in batch}
    assert outcome == {
        "8004001.xlsx": (UploadStatus.SUCCESSFUL, world.s1.pk),
        "8002001.xlsx": (UploadStatus.SUCCESSFUL, world.s2.pk),
        "outside.xlsx": (UploadStatus.ERROR, None),
        "three errors.xlsx": (UploadStatus.ERROR, world.s1.pk),
    }
    status = client.get(response["Location"] + "status/").json()
    assert status["done"] and "not a school of this trust" in status["html"]
    # Each file says how many errors it has, and leads to all of them: not just the first.
    three = batch.get(filename="three errors.xlsx")
    row = status["html"].split("three errors.xlsx</td>")[1].split("</tr>")[0]
    assert 'data-errors="3">3 errors<' in row and "Range must be" not in row
    assert f'href="/uploads/{three.pk}/#outcome-heading">See all 3 errors' in row
    detail = client.get(reverse("results:upload_detail", args=[three.pk])).content.decode()
    assert detail.count("Range must be between 0 to 40") == 3
    assert "School Two (8002001)" in status["html"]

    for persona in ("manage_data", "other_trust_admin", "trust_anon"):
        assert signed_in(world.person(persona)).get(url).status_code == 403, persona
        assert signed_in(world.person(persona)).get(response["Location"]).status_code == 403, persona


@pytest.mark.django_db(transaction=True)
def test_hostile_and_odd_files_through_the_page_end_in_a_clear_outcome(world):
    collection = open_collection()
    roster(world.s1)
    client = signed_in(world.person("manage_data"))
    template = _template(client, collection, world.s1)
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/worksheets/sheet1.xml", b"<" + b"a" * (300 * 1024 * 1024))
    sheet = openpyxl.load_workbook(io.BytesIO(filled(template, "phonics", {(1, MARK): 33})))["Results"]
    rows = [[("" if v is None else str(v)) for v in row] for row in sheet.iter_rows(values_only=True)]
    rows[sheet.max_row - 1][5] = "Zoë"  # a name only Windows-1252 can carry in this file
    text = io.StringIO()
    csv.writer(text).writerows(rows)
    files = {
        "bomb.xlsx": bomb.getvalue(),
        "windows.csv": text.getvalue().encode("cp1252"),
        "notes.xlsx": b"Dear all, results attached",
    }
    for name, data in files.items():
        assert _post_upload(client, collection, world.s1, data, name).status_code == 302
    _run_worker()
    outcome = {u.filename: (u.status, [i["code"] for i in u.issues]) for u in Upload.objects.all()}
    assert outcome["bomb.xlsx"] == (UploadStatus.ERROR, ["file.suspicious_archive"])
    assert (
        outcome["windows.csv"][0] == UploadStatus.SUCCESSFUL and "file.encoding" in outcome["windows.csv"][1]
    )
    assert outcome["notes.xlsx"][0] == UploadStatus.ERROR
    for upload in Upload.objects.all():
        page = client.get(reverse("results:upload_detail", args=[upload.pk]))
        assert page.status_code == 200
    assert SubmittedPupil.objects.filter(upload__filename="windows.csv", forename="Zoë").exists()


def test_absurd_ids_in_addresses_are_not_found(world):
    collection = open_collection()
    client = signed_in(world.person("manage_data"))
    huge = "1" + "0" * 25
    for url in (
        f"/results/{collection.pk}/schools/{huge}/",
        f"/results/{huge}/schools/{world.s1.pk}/upload/",
        f"/uploads/{huge}/",
        f"/schools/{huge}/la-returns/",
        f"/local-authorities/{huge}/la-returns/",
        f"/organisations/{huge}/users/",
    ):
        assert client.get(url).status_code == 404, url
