"""Results collections through their service functions: template, upload, validation by the worker,
confirmation, overwriting, deletion, deadlines, and who may do what."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from keystage.audit.models import AuditAction, AuditEvent
from keystage.results import downloads, pages, services, upload_checks, uploading
from keystage.results.models import (
    DeadlineRun,
    FrozenSubmission,
    Result,
    TemplateDownload,
    Upload,
    UploadStatus,
)
from tests.results.conftest import as_file, filled, open_collection, roster

MARK = "Phonics screening check mark"


def _upload(collection, school, user, data, name="results.xlsx"):
    upload = uploading.upload_results(collection, school, as_file(data, name), filename=name, actor=user)
    return upload_checks.validate_stored_upload(upload.pk)


def test_template_upload_confirm_then_a_second_upload_overwrites_and_history_keeps_both(world):
    collection = open_collection()
    pupils = roster(world.s1)
    user = world.person("manage_data")
    template = downloads.download_template(collection, world.s1, actor=user)
    assert TemplateDownload.objects.get().pupils == 3
    assert AuditEvent.objects.filter(action=AuditAction.TEMPLATE_DOWNLOADED, actor=user).exists()

    first = _upload(collection, world.s1, user, filled(template, "phonics", {(1, MARK): 35, (2, MARK): "A"}))
    assert first.status == UploadStatus.SUCCESSFUL and first.pupil_count == 3 and not first.in_use
    assert len(first.sha256) == 64 and first.size > 0 and first.file.name.startswith("uploads/")
    stored = {(r.pupil.upn, r.subject, r.value) for r in Result.objects.filter(upload=first)}
    assert stored == {(pupils[0].upn, "phonics_mark", "35"), (pupils[1].upn, "phonics_mark", "A")}

    first = services.confirm_upload(first, actor=user, agreed=True)
    assert first.in_use and first.confirmed_by == user

    second = _upload(collection, world.s1, user, filled(template, "phonics", {(1, MARK): 36, (3, MARK): 20}))
    second = services.confirm_upload(second, actor=user, agreed=True)
    first.refresh_from_db()
    assert second.in_use and not first.in_use
    assert first.status == UploadStatus.OVERWRITTEN and second.status == UploadStatus.SUCCESSFUL
    history = list(pages.uploads_visible_to(user).filter(collection=collection))
    assert history == [second, first]
    assert services.confirm_upload(second, actor=user, agreed=True).in_use  # a second click changes nothing


def test_an_upload_with_errors_keeps_every_issue_and_an_error_workbook(world):
    collection = open_collection()
    roster(world.s1)
    user = world.person("manage_data")
    template = downloads.download_template(collection, world.s1, actor=user)
    upload = _upload(collection, world.s1, user, filled(template, "phonics", {(1, MARK): 41, (2, MARK): "x"}))
    assert upload.status == UploadStatus.ERROR and upload.error_count == 2
    assert [i["code"] for i in upload.issues] == ["result.score_range", "result.score_range"]
    assert "or A, D, Q, L" in upload.issues[1]["message"]
    assert upload.issues[0]["row"] == 4 and upload.issues[0]["column_header"] == MARK
    assert upload.error_workbook.name and not Result.objects.filter(upload=upload).exists()
    with pytest.raises(services.CollectionError, match="upload error"):
        services.confirm_upload(upload, actor=user, agreed=True)


def test_confirmation_needs_the_terms_ticked(world):
    collection = open_collection()
    roster(world.s1)
    user = world.person("manage_data")
    upload = _upload(
        collection,
        world.s1,
        user,
        filled(downloads.download_template(collection, world.s1, actor=user), "phonics", {(1, MARK): 30}),
    )
    with pytest.raises(services.CollectionError, match="Tick the box"):
        services.confirm_upload(upload, actor=user, agreed=False)
    upload.refresh_from_db()
    assert not upload.in_use and upload.confirmed_at is None


def test_uploads_outside_the_window_are_refused_with_the_dates(world):
    now = timezone.now()
    user = world.person("manage_data")
    closed = open_collection(
        opens_at=now - timedelta(days=30),
        provisional_deadline=now - timedelta(days=20),
        final_deadline=now - timedelta(minutes=1),
    )
    with pytest.raises(services.CollectionError, match="closed at its final deadline"):
        uploading.upload_results(closed, world.s1, as_file(b"x"), filename="r.xlsx", actor=user)
    assert not Upload.objects.exists()


def test_only_people_who_submit_for_the_school_can_upload(world):
    collection = open_collection()
    for name in ("school_anon", "governor", "other_school_admin", "other_trust_admin", "la_data_officer"):
        with pytest.raises(PermissionDenied):
            uploading.upload_results(
                collection, world.s1, as_file(b"x"), filename="r.xlsx", actor=world.person(name)
            )
        with pytest.raises(PermissionDenied):
            downloads.download_template(collection, world.s1, actor=world.person(name))
    assert not Upload.objects.exists()
    # The trust administrator uploads for the trust's schools.
    upload = uploading.upload_results(
        collection, world.s2, as_file(b"x,y"), filename="r.csv", actor=world.person("trust_admin")
    )
    assert upload.school == world.s2


def _delete_flow(world) -> str:
    collection = open_collection()
    roster(world.s1)
    user = world.person("manage_data")
    upload = _upload(
        collection,
        world.s1,
        user,
        filled(downloads.download_template(collection, world.s1, actor=user), "phonics", {(1, MARK): 30}),
    )
    path = upload.file.path
    with pytest.raises(services.CollectionError, match="Only the person who uploaded"):
        uploading.delete_upload(upload, actor=world.person("trust_admin"))
    deleted = uploading.delete_upload(upload, actor=user)
    assert deleted.status == UploadStatus.DELETED and not deleted.can_download and not deleted.in_use
    assert Upload.objects.filter(pk=upload.pk).exists() and not Result.objects.filter(upload=upload).exists()
    assert AuditEvent.objects.filter(action=AuditAction.UPLOAD_DELETED).count() == 1
    return path


def test_only_the_uploader_deletes_and_the_row_stays_without_its_file(world):
    assert _delete_flow(world).endswith(".xlsx")


@pytest.mark.django_db(transaction=True)
def test_deleted_files_are_removed_from_storage(world):
    from pathlib import Path

    path = _delete_flow(world)
    assert not Path(path).exists()


def test_each_deadline_freezes_the_upload_in_use_once(world):
    collection = open_collection()
    roster(world.s1)
    user = world.person("manage_data")
    upload = _upload(
        collection,
        world.s1,
        user,
        filled(downloads.download_template(collection, world.s1, actor=user), "phonics", {(1, MARK): 30}),
    )
    services.confirm_upload(upload, actor=user, agreed=True)
    assert services.collect_deadline(collection, "provisional") is None  # not yet due
    later = collection.provisional_deadline + timedelta(seconds=1)
    run = services.collect_deadline(collection, "provisional", now=later)
    assert run.schools == 1
    assert FrozenSubmission.objects.get(deadline="provisional").upload == upload
    assert services.collect_deadline(collection, "provisional", now=later) is None
    assert DeadlineRun.objects.count() == 1
    with pytest.raises(services.CollectionError, match="collected at a deadline"):
        uploading.delete_upload(upload, actor=user)


def test_a_trust_bulk_upload_is_matched_by_the_dfe_number_inside(world):
    collection = open_collection()
    roster(world.s2)
    roster(world.s3)
    admin = world.person("trust_admin")
    own = filled(downloads.download_template(collection, world.s2, actor=admin), "phonics", {(1, MARK): 33})
    other = filled(downloads.download_template(collection, world.s3, actor=None), "phonics", {(1, MARK): 33})
    batch = uploading.new_batch()
    matched = uploading.upload_results(
        collection,
        None,
        as_file(own),
        filename="a.xlsx",
        actor=admin,
        via_organisation=world.trust,
        batch=batch,
    )
    refused = uploading.upload_results(
        collection,
        None,
        as_file(other),
        filename="b.xlsx",
        actor=admin,
        via_organisation=world.trust,
        batch=batch,
    )
    matched = upload_checks.validate_stored_upload(matched.pk)
    refused = upload_checks.validate_stored_upload(refused.pk)
    assert matched.status == UploadStatus.SUCCESSFUL and matched.school == world.s2
    assert refused.status == UploadStatus.ERROR and refused.school is None
    assert "8002002 is not a school of this trust" in refused.issues[-1]["message"]


@pytest.mark.django_db(transaction=True)
def test_two_confirmations_at_once_leave_exactly_one_in_use(world):
    collection = open_collection()
    roster(world.s1)
    user = world.person("manage_data")
    template = downloads.download_template(collection, world.s1, actor=user)
    uploads = [
        uploading.upload_results(
            collection,
            world.s1,
            as_file(filled(template, "phonics", {(1, MARK): m})),
            filename=f"{m}.xlsx",
            actor=user,
        )
        for m in (30, 31)
    ]
    call_command("worker", "--batch", "--interval", "0")
    barrier = threading.Barrier(2)
    errors: list[Exception] = []

    def confirm(upload):
        try:
            barrier.wait()
            services.confirm_upload(Upload.objects.get(pk=upload.pk), actor=user, agreed=True)
        except Exception as error:
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=confirm, args=(u,)) for u in uploads]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # Whichever confirmation came second wins; the older file's confirmer may be told it was overtaken.
    assert all(isinstance(e, services.CollectionError) and "newer upload" in str(e) for e in errors)
    statuses = sorted(Upload.objects.values_list("status", "in_use"))
    assert statuses == [(UploadStatus.OVERWRITTEN, False), (UploadStatus.SUCCESSFUL, True)]


@pytest.mark.django_db(transaction=True)
def test_an_upload_left_processing_by_a_killed_worker_is_validated_after_restart(world):
    collection = open_collection()
    roster(world.s1)
    user = world.person("manage_data")
    data = filled(downloads.download_template(collection, world.s1, actor=user), "phonics", {(1, MARK): 30})
    upload = uploading.upload_results(collection, world.s1, as_file(data), filename="r.xlsx", actor=user)
    # The worker took the task and died mid-check: its task is gone from the queue, and the
    # upload still says Processing.
    from django_tasks_db.models import DBTaskResult

    DBTaskResult.objects.all().delete()
    started = timezone.now()
    Upload.objects.filter(pk=upload.pk).update(validation_started_at=started)
    # A worker restarted at once leaves it (another worker may be checking it) ...
    assert upload_checks.requeue_stalled_validations(now=started + timedelta(seconds=30)) == 0
    # ... and its sweep a couple of minutes on queues it again; the next run checks it.
    assert upload_checks.requeue_stalled_validations(now=started + timedelta(minutes=3)) == 1
    assert upload_checks.requeue_stalled_validations(now=started + timedelta(minutes=3)) == 0  # once
    call_command("worker", "--batch", "--interval", "0")
    upload.refresh_from_db()
    assert upload.status == UploadStatus.SUCCESSFUL and upload.pupil_count == 3
    # Running the task again (a duplicate) changes nothing.
    assert upload_checks.validate_stored_upload(upload.pk).status == UploadStatus.SUCCESSFUL
    assert Result.objects.filter(upload=upload).count() == 1


def test_upload_history_shows_only_the_schools_a_person_submits_for(world):
    collection = open_collection()
    admin = world.person("trust_admin")
    upload = uploading.upload_results(collection, world.s2, as_file(b"a,b"), filename="r.csv", actor=admin)
    assert list(pages.uploads_visible_to(world.person("trust_admin"))) == [upload]
    for name in ("manage_data", "other_trust_admin", "other_school_admin", "la_data_officer", "school_anon"):
        assert not pages.uploads_visible_to(world.person(name)).exists(), name


def test_an_upload_whose_check_fails_unexpectedly_ends_as_an_error_not_processing(world):
    collection = open_collection()
    user = world.person("manage_data")
    upload = uploading.upload_results(collection, world.s1, as_file(b"a,b"), filename="r.csv", actor=user)
    upload.file.storage.delete(upload.file.name)  # the stored file went missing
    checked = upload_checks.validate_stored_upload(upload.pk)
    assert checked.status == UploadStatus.ERROR
    assert checked.issues[0]["message"].startswith("This file could not be checked")


def test_a_late_deadline_run_freezes_what_was_in_use_at_the_deadline(world):
    collection = open_collection()
    roster(world.s1)
    user = world.person("manage_data")
    template = downloads.download_template(collection, world.s1, actor=user)
    before = services.confirm_upload(
        _upload(collection, world.s1, user, filled(template, "phonics", {(1, MARK): 30})),
        actor=user,
        agreed=True,
    )
    collection.provisional_deadline = timezone.now()
    collection.save()
    after = services.confirm_upload(
        _upload(collection, world.s1, user, filled(template, "phonics", {(1, MARK): 31})),
        actor=user,
        agreed=True,
    )
    assert after.in_use and after.confirmed_at > collection.provisional_deadline
    # The deadline's task runs only now, after the school confirmed another file.
    run = services.collect_deadline(collection, "provisional", now=timezone.now())
    assert run.schools == 1
    assert FrozenSubmission.objects.get(deadline="provisional").upload == before
