"""Platform staff in the admin: collections are opened through the service (deadline tasks queued, audited);
uploads, frozen submissions and deadline runs can be looked at and never edited."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from keystage.audit.models import AuditAction, AuditEvent
from keystage.results import uploading
from keystage.results.models import Collection, DeadlineRun, FrozenSubmission, Upload
from tests.conftest import signed_in
from tests.reference_data.catalogue import without_ks4_catalogue
from tests.results.conftest import as_file, open_collection

LONDON = ZoneInfo("Europe/London")
LISTS = [
    "/admin/results/collection/",
    "/admin/results/upload/",
    "/admin/results/frozensubmission/",
    "/admin/results/deadlinerun/",
]


@pytest.fixture
def staff(django_user_model):
    return django_user_model.objects.create_superuser(
        "staff@example.org", "x-long-password-1", full_name="Staff"
    )


def _form(**changes: str) -> dict[str, str]:
    values = {
        "kind": "phonics",
        "year": "2026",
        "opens_at_0": "2026-06-01",
        "opens_at_1": "09:00",
        "provisional_deadline_0": "2026-07-03",
        "provisional_deadline_1": "17:00",
        "final_deadline_0": "2026-09-25",
        "final_deadline_1": "23:59",
        "terms": "Results are used to produce your school's reports.",
        "provisional_reports_due": "2026-07-10",
        "final_reports_due": "",
    }
    values.update(changes)
    return values


def _queued() -> list[datetime]:
    return sorted(t.run_after for t in DBTaskResult.objects.filter(task_path__endswith="collect_at_deadline"))


def test_staff_open_every_results_list_and_see_an_upload_read_only(world, staff):
    collection = open_collection()
    upload = uploading.upload_results(
        collection,
        world.s1,
        as_file(b"a,b", "phonics.csv"),
        filename="phonics.csv",
        actor=world.person("manage_data"),
    )
    DeadlineRun.objects.create(collection=collection, deadline="provisional", schools=1)
    FrozenSubmission.objects.create(
        collection=collection, deadline="provisional", school=world.s1, upload=upload
    )
    client = signed_in(staff)
    pages = {url: client.get(url) for url in LISTS}
    assert {url: r.status_code for url, r in pages.items()} == dict.fromkeys(LISTS, 200)
    assert "Phonics" in pages["/admin/results/collection/"].content.decode()
    listing = pages["/admin/results/upload/"].content.decode()
    assert "phonics.csv" in listing and "School One" in listing and "manage-data@example.org" in listing
    assert "School One" in pages["/admin/results/frozensubmission/"].content.decode()
    runs = pages["/admin/results/deadlinerun/"].content.decode()
    assert "Phonics 2025/26" in runs and "Provisional deadline" in runs
    detail = client.get(f"/admin/results/upload/{upload.pk}/change/")
    assert detail.status_code == 200
    page = detail.content.decode()
    assert "phonics.csv" in page and 'name="_save"' not in page  # looked at, not edited
    assert upload.file.name in page and f'href="{upload.file.name}' not in page  # named, not linked
    # Nobody adds, changes or deletes an upload or a deadline record here.
    assert client.get("/admin/results/upload/add/").status_code == 403
    assert client.get(f"/admin/results/upload/{upload.pk}/delete/").status_code == 403
    assert client.post(f"/admin/results/upload/{upload.pk}/change/", {"status": "deleted"}).status_code == 403
    assert client.get("/admin/results/deadlinerun/add/").status_code == 403
    assert client.get("/admin/results/frozensubmission/add/").status_code == 403
    upload.refresh_from_db()
    assert upload.status == "processing"


def test_staff_create_a_collection_through_the_service_so_its_deadlines_are_queued(
    db, staff, django_capture_on_commit_callbacks
):
    client = signed_in(staff)
    form = client.get("/admin/results/collection/add/")
    assert form.status_code == 200 and 'name="terms"' in form.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/admin/results/collection/add/", _form())
    assert response.status_code == 302
    collection = Collection.objects.get()
    assert (collection.kind, collection.year, collection.created_by) == ("phonics", 2026, staff)
    assert collection.opens_at == datetime(2026, 6, 1, 9, 0, tzinfo=LONDON)
    assert _queued() == [collection.provisional_deadline, collection.final_deadline]
    event = AuditEvent.objects.get(action=AuditAction.COLLECTION_CREATED)
    assert event.actor == staff and event.subject == "Phonics 2025/26"
    assert "Phonics 2025/26" in client.get("/admin/results/collection/").content.decode()


def test_moving_a_deadline_in_the_admin_queues_its_collection_again(
    db, staff, django_capture_on_commit_callbacks
):
    client = signed_in(staff)
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/admin/results/collection/add/", _form())
    collection = Collection.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            f"/admin/results/collection/{collection.pk}/change/",
            _form(final_deadline_0="2026-10-02", final_deadline_1="12:00"),
        )
    assert response.status_code == 302
    collection.refresh_from_db()
    assert collection.final_deadline == datetime(2026, 10, 2, 12, 0, tzinfo=LONDON)
    assert datetime(2026, 10, 2, 12, 0, tzinfo=LONDON) in _queued()
    # A collection is never deleted: its uploads and deadline runs belong to it.
    assert client.get(f"/admin/results/collection/{collection.pk}/delete/").status_code == 403


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"kind": "ks4-gcse"}, "KS4 qualification catalogue has not been loaded"),
        (
            {"final_deadline_0": "2026-06-30"},
            "The final deadline must be on or after the provisional deadline",
        ),
        (
            {"opens_at_0": "2026-07-03", "opens_at_1": "17:00"},
            "provisional deadline must be after the window opens",
        ),
        ({"terms": "   "}, "Enter the terms a school agrees to"),
    ],
)
def test_a_collection_the_service_would_refuse_is_a_message_on_the_form(db, staff, changes, message):
    without_ks4_catalogue()
    response = signed_in(staff).post("/admin/results/collection/add/", _form(**changes))
    assert response.status_code == 200
    page = response.content.decode()
    assert message in page and "Constraint" not in page
    assert not Collection.objects.exists() and not _queued()


def test_a_second_collection_of_a_kind_and_year_is_refused_on_the_form(db, staff):
    client = signed_in(staff)
    client.post("/admin/results/collection/add/", _form())
    response = client.post("/admin/results/collection/add/", _form(terms="Other terms."))
    assert response.status_code == 200
    assert "already exists" in response.content.decode()
    assert Collection.objects.count() == 1


def test_people_who_are_not_platform_staff_are_refused(world):
    collection = open_collection()
    upload = Upload.objects.create(
        collection=collection, school=world.s1, filename="r.xlsx", sha256="0" * 64, uploaded_at=timezone.now()
    )
    for name in ("school_admin", "manage_data", "trust_admin", "la_data_officer", "other_school_admin"):
        client = signed_in(world.person(name))
        for url in [*LISTS, "/admin/results/collection/add/", f"/admin/results/upload/{upload.pk}/change/"]:
            # The admin sends them to its sign-in, which refuses someone signed in who is not staff.
            assert client.get(url, follow=True).status_code == 403, (name, url)
        refused = client.post("/admin/results/collection/add/", _form(year="2027"), follow=True)
        assert refused.status_code == 403
    assert Collection.objects.count() == 1
