"""The LA's summary reports (seed 002): the LA previews a school's summary, publishes them all through
a return round, the worker draws and publishes one PDF per school with figures, and the school
downloads its own with its figures beside the LA's and national, and its pupils."""

from __future__ import annotations

import io
import re
from datetime import date

import pytest
from django.core.management import call_command
from pypdf import PdfReader

from keystage.audit.models import AuditAction, AuditEvent
from keystage.measures import services as measures
from keystage.measures.models import PrimaryFigure, PrimaryPupilFigure
from keystage.reports.models import ExportStatus, SummaryPublication
from keystage.returns.models import PublishedReport, ReturnRound
from tests.conftest import signed_in
from tests.reports.conftest import YEARS

YEAR = YEARS[-1]
pytestmark = pytest.mark.django_db(transaction=True)  # the worker closes its connection when done


def _pdf_text(data: bytes) -> str:
    return " ".join(" ".join(p.extract_text() for p in PdfReader(io.BytesIO(data)).pages).split())


def _summaries(world) -> str:
    return f"/reports/{world.la.pk}/ks2/{YEAR}/summaries/"


def test_an_la_publishes_each_schools_summary_report_and_the_school_downloads_its_own(reports_world):
    world = reports_world
    round_ = ReturnRound.objects.create(la=world.la, tag="ks2-ta", year=YEAR, deadline=date(YEAR, 6, 28))
    officer = signed_in(world.person("la_data_officer"))
    page = officer.get(_summaries(world))
    assert page.status_code == 200
    html = page.content.decode()
    assert 'data-school="8002001"' in html and f"through {round_}" in html

    preview = officer.get(_summaries(world) + f"?school={world.s2.pk}&format=pdf")
    assert preview.status_code == 200 and preview["Content-Type"] == "application/pdf"
    assert AuditEvent.objects.filter(
        action=AuditAction.REPORT_DOWNLOADED,
        organisation=world.s2,
        subject__endswith="summary report (preview)",
    ).exists()
    mine = PrimaryFigure.objects.get(
        run__year=YEAR,
        run__key_stage="ks2",
        run__school__isnull=True,
        school=world.s2,
        group="all",
        value="all",
    )
    rwm = mine.figures["ks2_rwm_expected"]["figure"]
    assert f"{round(rwm * 100)}%" in _pdf_text(preview.content)

    first = officer.post(_summaries(world) + "publish/", {"round": round_.pk})
    again = officer.post(_summaries(world) + "publish/", {"round": round_.pk}, follow=True)
    assert first.status_code == 302 and "already under way" in again.content.decode()
    assert SummaryPublication.objects.count() == 1

    call_command("worker", "--batch", "--interval", "0", verbosity=0)

    publication = SummaryPublication.objects.get()
    with_figures = PrimaryFigure.objects.filter(
        run=measures.latest_run("ks2", YEAR), school__la=world.la, group="all", value="all"
    ).count()
    assert publication.status == ExportStatus.READY and publication.published == with_figures
    report = PublishedReport.objects.get(round=round_, school=world.s2)
    assert report.title == f"KS2 {YEAR - 1}/{str(YEAR)[-2:]} summary report"
    assert AuditEvent.objects.filter(action=AuditAction.REPORT_PUBLISHED, organisation=world.s2).exists()
    assert "Published" in officer.get(_summaries(world)).content.decode()

    head = signed_in(world.person("school_named"))  # School One's head: not School Two's
    assert head.get(f"/la-returns/reports/{report.pk}/download/").status_code == 403
    world.person("school_named").memberships.update(organisation=world.s2)
    download = head.get(f"/la-returns/reports/{report.pk}/download/")
    assert download.status_code == 200
    text = _pdf_text(b"".join(download.streaming_content))
    assert "KS2 reading, writing and maths" in text and world.la.name in text
    la_figure = PrimaryFigure.objects.get(
        run=measures.latest_run("ks2", YEAR), organisation=world.la, group="all", value="all"
    ).figures["ks2_rwm_expected"]["figure"]
    row = re.search(r"KS2 reading, writing and maths: expected standard (\S+) (\S+) (\S+)", text)
    assert row and row.group(1) == f"{round(rwm * 100)}%" and row.group(2) == f"{round(la_figure * 100)}%"
    pupils = PrimaryPupilFigure.objects.filter(run=measures.latest_run("ks2", YEAR), school=world.s2)
    assert pupils.exists() and all(p.upn in text for p in pupils)  # the pupil-level part


def test_only_the_las_data_officers_publish_summaries(reports_world):
    world = reports_world
    round_ = ReturnRound.objects.create(la=world.la, tag="ks2-ta", year=YEAR, deadline=date(YEAR, 6, 28))
    for name in ("la_named", "la_anon", "other_la_data_officer", "school_named", "trust_named"):
        reader = signed_in(world.person(name))
        assert reader.get(_summaries(world)).status_code == 403, name
        assert reader.post(_summaries(world) + "publish/", {"round": round_.pk}).status_code == 403, name
    assert SummaryPublication.objects.count() == 0
    officer = signed_in(world.person("la_data_officer"))
    assert officer.get(f"/reports/{world.s1.pk}/ks2/{YEAR}/summaries/").status_code == 404  # a school
    assert officer.get(_summaries(world) + "?school=999999&format=pdf").status_code == 404
    census = ReturnRound.objects.create(la=world.la, tag="census", year=YEAR, deadline=date(YEAR, 6, 28))
    for nonsense in (census.pk, "abc", "", "99999999999999999999"):
        assert officer.post(_summaries(world) + "publish/", {"round": nonsense}).status_code == 404, nonsense
    assert officer.get(f"/reports/{world.la.pk}/ks4/{YEAR}/summaries/").status_code == 404  # no KS4 return
    assert SummaryPublication.objects.count() == 0
