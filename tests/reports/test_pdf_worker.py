"""PDFs drawn by the worker: a long one for the person who asked, who alone downloads it; one that
cannot be drawn or stored is failed visibly; a role taken away stops both the drawing and the
download. These commit (the worker closes its connection when done), so each makes its own world."""

from __future__ import annotations

import pytest

from keystage.accounts.models import Membership
from keystage.audit.models import AuditAction, AuditEvent
from keystage.reports.models import ExportStatus, ReportExport
from tests.conftest import signed_in
from tests.reports.test_pdf import _pdf_text, _pupils, _run_worker, _url


@pytest.mark.django_db(transaction=True)  # the worker closes its connection when done
def test_a_long_pdf_is_drawn_by_the_worker_for_its_requester_alone(reports_world, settings):
    settings.KEYSTAGE_PDF_ROWS_IN_REQUEST = 5
    world = reports_world
    head = signed_in(world.person("school_named"))
    address = _url(world.s1, "pupils/") + "?sort=a8&order=desc&format=pdf"
    queued = head.get(address)
    assert queued.status_code == 302 and queued["Location"].startswith("/reports/downloads/")
    again = head.get(address)  # a double click queues nothing twice
    assert again["Location"] == queued["Location"] and ReportExport.objects.count() == 1
    waiting = head.get(queued["Location"])
    assert "being prepared" in waiting.content.decode()
    assert head.get(queued["Location"] + "?format=json").json() == {"done": False, "reload": True}
    downloads_before = AuditEvent.objects.filter(action=AuditAction.REPORT_DOWNLOADED).count()
    assert downloads_before == 0  # nothing recorded until the PDF is drawn

    _run_worker()

    ready = head.get(queued["Location"])
    assert "Your PDF is ready" in ready.content.decode()
    export = ReportExport.objects.get()
    assert export.status == ExportStatus.READY and export.personal
    download = head.get(f"/reports/downloads/{export.pk}/file/")
    assert download.status_code == 200 and download["Content-Type"] == "application/pdf"
    text = _pdf_text(b"".join(download.streaming_content))
    pupils = _pupils(world.s1)
    assert all(p.upn in text for p in pupils)
    first = min(pupils, key=lambda p: text.index(p.upn))
    assert first.a8 == max(p.a8 for p in pupils)  # sorted as asked: the highest A8 first
    events = AuditEvent.objects.filter(
        action=AuditAction.REPORT_DOWNLOADED, actor=world.person("school_named")
    )
    assert events.count() == 2  # drawn for them, then downloaded
    for name in ("school_anon", "trust_named", "other_school_named"):
        other = signed_in(world.person(name))
        assert other.get(queued["Location"]).status_code == 404, name
        assert other.get(f"/reports/downloads/{export.pk}/file/").status_code == 404, name


@pytest.mark.django_db(transaction=True)
def test_a_pdf_queued_before_a_role_was_taken_away_is_not_drawn(reports_world, settings):
    settings.KEYSTAGE_PDF_ROWS_IN_REQUEST = 5
    world = reports_world
    person = world.person("school_named")
    queued = signed_in(person).get(_url(world.s1, "pupils/") + "?format=pdf")
    Membership.objects.filter(user=person).delete()
    _run_worker()
    export = ReportExport.objects.get()
    assert export.status == ExportStatus.FAILED and not export.file
    assert "no longer read this report" in signed_in(person).get(queued["Location"]).content.decode()


@pytest.mark.django_db(transaction=True)
def test_a_pdf_that_cannot_be_drawn_says_so_and_a_week_old_one_is_gone(reports_world, settings, monkeypatch):
    from datetime import timedelta

    from django.utils import timezone

    from keystage.reports import pdf

    settings.KEYSTAGE_PDF_ROWS_IN_REQUEST = 5
    head = signed_in(reports_world.person("school_named"))
    queued = head.get(_url(reports_world.s1, "pupils/") + "?format=pdf")

    def broken(*args, **kwargs):
        raise OSError("no fonts")

    monkeypatch.setattr(pdf, "render_pdf", broken)
    _run_worker()
    export = ReportExport.objects.get()
    assert export.status == ExportStatus.FAILED
    assert "Something went wrong preparing this PDF" in head.get(queued["Location"]).content.decode()

    monkeypatch.undo()
    again = head.get(_url(reports_world.s1, "pupils/") + "?format=pdf")  # a failed one is not handed back
    assert again["Location"] != queued["Location"]
    _run_worker()
    ready = ReportExport.objects.get(status=ExportStatus.READY)
    stored = ready.file.name
    assert ready.file.storage.exists(stored)
    ReportExport.objects.filter(pk=ready.pk).update(created_at=timezone.now() - timedelta(days=8))
    assert head.get(f"/reports/downloads/{ready.pk}/file/").status_code == 404  # past its week
    head.get(_url(reports_world.s1, "pupils/") + "?sort=a8&format=pdf")  # the next request prunes
    assert not ReportExport.objects.filter(pk=ready.pk).exists() and not ready.file.storage.exists(stored)


@pytest.mark.django_db(transaction=True)
def test_a_drawn_pdf_of_pupils_is_not_downloaded_after_the_role_is_taken_away(reports_world, settings):
    settings.KEYSTAGE_PDF_ROWS_IN_REQUEST = 5
    person = reports_world.person("school_named")
    head = signed_in(person)
    head.get(_url(reports_world.s1, "pupils/") + "?format=pdf")
    _run_worker()
    export = ReportExport.objects.get(status=ExportStatus.READY)
    Membership.objects.filter(user=person).update(role="school_anon")  # aggregates only, now
    assert head.get(f"/reports/downloads/{export.pk}/file/").status_code == 403


@pytest.mark.django_db(transaction=True)
def test_a_pdf_a_full_disk_could_not_store_is_failed_visibly_not_left_being_prepared(reports_world, settings):
    from pathlib import Path

    settings.KEYSTAGE_PDF_ROWS_IN_REQUEST = 5
    person = reports_world.person("school_named")
    queued = signed_in(person).get(_url(reports_world.s1, "pupils/") + "?format=pdf")
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "tests.results.test_faults.FullDisk"},  # every write fails half way
    }
    _run_worker()
    export = ReportExport.objects.get()
    assert export.status == ExportStatus.FAILED and not export.file
    assert "could not store this PDF" in signed_in(person).get(queued["Location"]).content.decode()
    assert not [p for p in Path(settings.MEDIA_ROOT).rglob("*") if p.is_file()]  # not half a PDF either
