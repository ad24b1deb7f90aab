"""Platform staff upload GIAS's file in /admin/; a worker imports it and the page shows what happened.
Anyone else is refused, and a bad file changes nothing."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.test import Client

from keystage.organisations.models import GIASImport, School
from tests.conftest import signed_in
from tests.core.organisations.gias_files import england_sample, gias_bytes

UPLOAD_URL = "/admin/organisations/giasimport/upload/"


@pytest.fixture(autouse=True)
def _storage(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "storage"


@pytest.fixture
def staff(django_user_model):
    return django_user_model.objects.create_superuser(
        "staff@example.org", "x-long-password-1", full_name="Staff"
    )


def _post(client, data: bytes, name="edubasealldata20260301.csv", follow=False, **fields):
    return client.post(
        UPLOAD_URL, {"file": SimpleUploadedFile(name, data, "text/csv"), **fields}, follow=follow
    )


def _work():
    call_command("worker", "--batch", "--interval", "0", verbosity=0)


def test_the_school_list_offers_the_import_and_the_page_explains_it(db, staff):
    client = signed_in(staff)
    changelist = client.get("/admin/organisations/school/").content.decode()
    assert f'href="{UPLOAD_URL}"' in changelist and "Import from GIAS" in changelist
    assert "Import from GIAS" in client.get("/admin/organisations/organisation/").content.decode()
    page = client.get(UPLOAD_URL)
    assert page.status_code == 200
    assert "edubasealldata" in page.content.decode() and 'name="file"' in page.content.decode()


@pytest.mark.django_db(transaction=True)
def test_an_uploaded_file_is_imported_by_the_worker_and_the_page_shows_what_it_did(staff):
    client = signed_in(staff)
    response = _post(client, gias_bytes(england_sample()))
    upload = GIASImport.objects.get()
    assert response.status_code == 302 and response["Location"].endswith(f"/giasimport/{upload.pk}/change/")
    assert (upload.status, upload.uploaded_by, upload.filename) == (
        "queued",
        staff,
        "edubasealldata20260301.csv",
    )
    assert upload.file.storage.exists(upload.file.name)
    waiting = client.get(response["Location"]).content.decode()
    assert 'http-equiv="refresh"' in waiting and "Waiting for a worker" in waiting
    assert not School.objects.exists()

    _work()

    upload.refresh_from_db()
    assert upload.status == "succeeded" and upload.finished_at is not None
    assert upload.summary["counts"]["created"] == 9
    done = client.get(response["Location"]).content.decode()
    assert 'http-equiv="refresh"' not in done
    assert "Schools: 9 created, 0 updated (0 of them closed), 0 unchanged, 9 rows skipped." in done
    assert School.objects.get(urn="100002").name == "Café Lumière Academy"


@pytest.mark.django_db(transaction=True)
def test_a_file_with_problem_rows_is_not_imported_and_the_page_lists_each_problem(staff):
    client = signed_in(staff)
    records = england_sample()
    records[2]["StatutoryLowAge"] = "<b>eleven</b>"
    response = _post(client, gias_bytes(records))
    _work()
    upload = GIASImport.objects.get()
    assert upload.status == "failed" and upload.problem_count == 1
    assert upload.problems == [
        {
            "row": 4,
            "column": "StatutoryLowAge",
            "value": "<b>eleven</b>",
            "message": "An age must be a whole number of years, or blank.",
        }
    ]
    page = client.get(response["Location"]).content.decode()
    assert "1 problem in the file, so nothing was imported." in page
    assert "<td>4</td><td>StatutoryLowAge</td><td>&lt;b&gt;eleven&lt;/b&gt;</td>" in page  # text, not markup
    assert not School.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_file_in_the_wrong_encoding_fails_in_the_worker_with_its_row(staff):
    data = gias_bytes(england_sample()).replace("Lumière".encode("cp1252"), b"Lumi\x81re")
    _post(signed_in(staff), data)
    _work()
    upload = GIASImport.objects.get()
    assert upload.status == "failed" and upload.problems[0]["row"] == 3
    assert "byte 0x81" in upload.problems[0]["message"]
    assert not School.objects.exists()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"PK\x03\x04\x14\x00\x06\x00 a workbook", "This is an Excel workbook"),
        (b"upn,surname\r\nA1,Smith\r\n", "This is not GIAS&#x27;s establishment file"),
        (gias_bytes([], columns=("URN", "EstablishmentName")), "The column LA (code) is missing"),
        (b"", "is empty"),
    ],
)
def test_a_file_that_is_plainly_not_gias_is_refused_at_once_and_nothing_is_kept(db, staff, data, message):
    response = _post(signed_in(staff), data)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not GIASImport.objects.exists()


def test_a_huge_file_is_refused_as_it_arrives(db, staff, settings):
    settings.KEYSTAGE_GIAS_MAX_UPLOAD_MB = 1
    response = _post(signed_in(staff), gias_bytes(england_sample()) + b"," * (1024 * 1024))
    assert response.status_code == 400
    assert "larger than 1 MB, the largest GIAS file accepted" in response.content.decode()
    assert not GIASImport.objects.exists()


def test_a_gias_file_larger_than_a_results_file_is_accepted(db, staff, settings):
    settings.KEYSTAGE_MAX_UPLOAD_BYTES = 1024  # the limit of schools' uploads does not apply here
    response = _post(signed_in(staff), gias_bytes(england_sample()))
    assert response.status_code == 302 and GIASImport.objects.count() == 1


def test_no_file_chosen(db, staff):
    response = signed_in(staff).post(UPLOAD_URL, {})
    assert response.status_code == 400 and "Choose GIAS" in response.content.decode()


def test_people_who_are_not_platform_staff_are_refused(db, world, django_user_model):
    data = gias_bytes(england_sample())
    anonymous = Client().post(UPLOAD_URL, {"file": SimpleUploadedFile("a.csv", data)})
    assert anonymous.status_code == 302 and anonymous["Location"].startswith("/admin/login/")
    administrator = signed_in(world.person("school_admin"))
    assert administrator.get(UPLOAD_URL, follow=True).status_code == 403
    assert _post(administrator, data, follow=True).status_code == 403
    # Staff without the permission to add organisations' imports cannot either.
    clerk = django_user_model.objects.create_user("clerk@example.org", "x-long-password-1", is_staff=True)
    assert _post(signed_in(clerk), data).status_code == 403
    assert not GIASImport.objects.exists()


def test_an_import_cannot_be_edited_or_deleted(db, staff):
    client = signed_in(staff)
    _post(client, gias_bytes(england_sample()))
    upload = GIASImport.objects.get()
    assert client.post(f"/admin/organisations/giasimport/{upload.pk}/delete/").status_code == 403
    assert client.get("/admin/organisations/giasimport/add/")["Location"] == UPLOAD_URL
    assert client.get("/admin/organisations/giasimport/999999/change/").status_code == 404
