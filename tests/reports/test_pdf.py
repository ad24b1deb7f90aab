"""Reports as PDF: each page prints with the figures shown on screen; long ones are drawn by the worker
for the person who asked, who alone can download them; pupil-level PDFs are audited and never drawn
for a role that may not see pupils."""

from __future__ import annotations

import io
import re

import pytest
from django.core.management import call_command
from pypdf import PdfReader

from keystage.measures.models import PupilFigure, SchoolFigure
from tests.conftest import signed_in
from tests.reports.conftest import YEARS


@pytest.fixture
def reports_world(reports_world_made_once):
    """Every test here reads the same world, made once for the module (tests/reports/conftest.py)."""
    return reports_world_made_once


YEAR = YEARS[-1]


def _url(org, page: str = "", key_stage: str = "ks4", year: int = YEAR) -> str:
    return f"/reports/{org.pk}/{key_stage}/{year}/{page}"


def _pdf_text(data: bytes) -> str:
    reader = PdfReader(io.BytesIO(data))
    return re.sub(r"\s+", " ", " ".join(page.extract_text() for page in reader.pages))


def _run_worker() -> None:
    call_command("worker", "--batch", "--interval", "0", verbosity=0)


def _pupils(school) -> list[PupilFigure]:
    return list(PupilFigure.objects.filter(run__year=YEAR, run__key_stage="ks4", school=school))


def test_the_summary_prints_its_figures_national_source_and_trends(reports_world):
    head = signed_in(reports_world.person("school_named"))
    response = head.get(_url(reports_world.s1) + "?format=pdf")
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"].endswith('-ks4-2026-summary.pdf"')
    text = _pdf_text(response.content)
    mine = SchoolFigure.objects.get(
        run__year=YEAR, run__key_stage="ks4", school=reports_world.s1, group="all", value="all"
    )
    assert f"{mine.p8:+.2f}" in text and f"{mine.p8_ci_low:.2f} to {mine.p8_ci_high:.2f}" in text
    assert f"{mine.a8:.2f}" in text and "synthetic small" in text
    assert all(f"{y - 1}/{str(y)[-2:]}" in text for y in YEARS)  # the trends table
    assert "Download" not in text and "Explore data in detail" not in text  # no screen-only parts
    assert "Page 1 of" in text


def test_a_governors_summary_pdf_has_no_places_among_schools(reports_world):
    governor = signed_in(reports_world.person("governor"))
    text = _pdf_text(governor.get(_url(reports_world.s1) + "?format=pdf").content)
    assert "Attainment 8" in text and "Percentile" not in text


def test_a_filtered_breakdown_prints_the_filters_and_the_figure_shown(reports_world):
    head = signed_in(reports_world.person("school_named"))
    query = "?measure=a8&sex=male"
    page = head.get(_url(reports_world.s1, "explore/") + query).content.decode()
    shown = re.search(r'data-group="all".*?data-figure>([^<]+)<', page, re.S).group(1)
    text = _pdf_text(head.get(_url(reports_world.s1, "explore/") + query + "&format=pdf").content)
    assert "Filters applied: Gender: Male." in text
    assert re.search(rf"All pupils \d+ \d+ {shown} N/A", text), text


def test_an_anonymised_readers_scatter_pdf_is_the_chart_alone(reports_world, settings):
    settings.KEYSTAGE_PDF_ROWS_IN_REQUEST = 10_000  # drawn within the request
    anon = signed_in(reports_world.person("school_anon"))
    response = anon.get(_url(reports_world.s1, "scatter/") + "?format=pdf")
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    text = _pdf_text(response.content)
    assert "Progress 8" in text and "The same figures as a table" not in text
    assert not any(p.upn in text for p in _pupils(reports_world.s1))
    assert anon.get(_url(reports_world.s1, "scatter/") + "?format=xlsx").status_code == 403
    assert anon.get(_url(reports_world.s1, "pupils/") + "?format=pdf").status_code == 403


def test_a_trusts_schools_side_by_side_prints_each_school(reports_world):
    trust = signed_in(reports_world.person("trust_anon"))
    text = _pdf_text(trust.get(_url(reports_world.trust, "schools/", "ks2") + "?format=pdf").content)
    assert reports_world.s2.name in text and "8002001" in text


@pytest.mark.parametrize("page", ["", "explore/?measure=p8", "scatter/", "pupils/"])
def test_every_pdf_download_is_a_pdf(reports_world, page, settings):
    settings.KEYSTAGE_PDF_ROWS_IN_REQUEST = 10_000  # all drawn within the request
    head = signed_in(reports_world.person("school_named"))
    joiner = "&" if "?" in page else "?"
    response = head.get(_url(reports_world.s1, page) + joiner + "format=pdf")
    assert response.status_code == 200 and response.content.startswith(b"%PDF-")
    assert len(PdfReader(io.BytesIO(response.content)).pages) >= 1
