"""A KS4 year DfE publishes no Progress 8 for (2026: no KS2 tests in 2021), as a school's readers see
it: the summary page, its Excel and PDF, the pupil pages, Explore and the API say so where Progress 8
would be and show no school Progress 8, and give keystage's KS1-based value added instead, named as
such, with how many pupils it leaves out; the glossary gives its method."""

from __future__ import annotations

import io
import re

import pytest
from pypdf import PdfReader
from python_calamine import CalamineWorkbook

from keystage.core.reports.catalogue import NO_FIGURE
from keystage.measures import services
from keystage.measures.models import PupilFigure, SchoolFigure
from tests.api.conftest import api
from tests.conftest import signed_in
from tests.factories import member
from tests.measures.conftest import LANGUAGE, MATHS, confirm, gcse_collection, ks4_roster, upload_ks4
from tests.results.conftest import YEAR

NO_P8 = "DfE publishes no Progress 8 for 2026 (these pupils sat no KS2 tests in 2021)"
NAME = "keystage's KS1-based value added (not DfE's Progress 8)"
LEFT_OUT = (
    "1 pupil has no KS1 assessment and 1 pupil has a KS1 assessment that gives no KS1 point score "
    "(e.g. BLW, absent, disapplied or a subject missing) and are not in the value added"
)


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).replace("&#x27;", "'")


@pytest.fixture
def year_without_p8(world, ks4_catalogue, django_capture_on_commit_callbacks):
    """School One's 2026 Year 11: KS2 scores on the roster for all, KS1 for most, results confirmed,
    and the year's figures stored."""
    assert YEAR == 2026
    ks1 = [("EXS",) * 3] * 5 + [("WTS",) * 3] * 3 + [("GDS",) * 3] * 3 + [("",) * 3, ("BLW", "PKF", "PKF")]
    pupils = ks4_roster(world.s1, len(ks1))
    for pupil, (reading, writing, maths) in zip(pupils, ks1, strict=True):
        pupil.ks1_reading, pupil.ks1_writing, pupil.ks1_maths = reading, writing, maths
        pupil.save()
    collection = gcse_collection()
    user = world.person("manage_data")
    values = {(n, MATHS): str(2 + n % 7) for n in range(1, len(ks1) + 1)}
    values |= {(n, LANGUAGE): str(1 + n % 8) for n in range(1, len(ks1) + 1)}
    upload = upload_ks4(collection, world.s1, user, values=values)
    # School Three's pupils, of the same KS1, do better: School One's value added is below 0.
    others = ks4_roster(world.s3, len(ks1) - 2)
    for pupil, (reading, writing, maths) in zip(others, ks1, strict=False):
        pupil.ks1_reading, pupil.ks1_writing, pupil.ks1_maths = reading, writing, maths
        pupil.save()
    theirs = member("manage_data", world.s3)
    better = {(n, MATHS): "9" for n in range(1, len(others) + 1)} | {
        (n, LANGUAGE): "8" for n in range(1, len(others) + 1)
    }
    other_upload = upload_ks4(collection, world.s3, theirs, values=better)
    with django_capture_on_commit_callbacks(execute=False):
        confirm(upload, user)
        confirm(other_upload, theirs)
    services.compute_and_store_ks4(YEAR)
    return world, pupils


def _mine(world) -> SchoolFigure:
    return SchoolFigure.objects.get(
        run__year=YEAR, run__key_stage="ks4", school=world.s1, group="all", value="all"
    )


def test_the_summary_says_there_is_no_progress_8_and_shows_the_ks1_value_added(year_without_p8):
    world, _pupils = year_without_p8
    mine = _mine(world)
    assert mine.p8 is None and mine.ks1_va is not None and mine.ks1_va < -0.5
    page = signed_in(world.person("school_named")).get(f"/reports/{world.s1.pk}/ks4/{YEAR}/")
    assert page.status_code == 200
    html = page.content.decode()
    text = _text(html)
    card = _text(html.split('id="progress-8"')[1].split('id="ks1-value-added"')[0])
    assert NO_P8 in card and not re.search(r"[+-]\d\.\d\d", card)  # no Progress 8 figure where it would be
    value_added = _text(html.split('id="ks1-value-added"')[1].split('id="headlines"')[0])
    assert NAME in value_added and f"{mine.ks1_va:+.2f}" in value_added
    assert f"{mine.ks1_va_ci_low:.2f} to {mine.ks1_va_ci_high:.2f}" in value_added
    assert "Pupils in the value added 11" in value_added and LEFT_OUT in value_added
    assert f'data-figure="p8">{NO_FIGURE}<' in html.split('id="headlines"')[1]  # the headline row: no figure
    assert NO_P8 in text.split("Headline measures")[1]
    assert "ks-band" not in html  # no banding
    assert f"{NO_P8}. In its place: {NAME}." in text  # every page's head


def test_the_excel_and_pdf_say_so_too(year_without_p8):
    world, _pupils = year_without_p8
    mine = _mine(world)
    head = signed_in(world.person("school_named"))
    book = CalamineWorkbook.from_filelike(
        io.BytesIO(head.get(f"/reports/{world.s1.pk}/ks4/{YEAR}/?format=xlsx").content)
    )
    about = book.get_sheet_by_name("About").to_python()
    assert any(row[0] == "Progress 8" and NO_P8 in row[1] for row in about)
    headlines = book.get_sheet_by_name(book.sheet_names[1]).to_python()
    p8 = next(row for row in headlines if row[0] == "Progress 8 (adjusted)")
    assert p8[1] == NO_FIGURE and p8[-1] == f"{NO_P8}."
    value_added = next(row for row in headlines if row[0] == NAME)
    assert value_added[1] == f"{mine.ks1_va:+.2f}" and LEFT_OUT in value_added[-1]

    pdf = head.get(f"/reports/{world.s1.pk}/ks4/{YEAR}/?format=pdf")
    text = re.sub(r"\s+", " ", " ".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.content)).pages))
    assert NO_P8 in text and f"{mine.ks1_va:+.2f}" in text and "KS1-based value added" in text


def test_a_pupils_page_gives_their_ks1_prior_attainment_group_and_value_added(year_without_p8):
    world, pupils = year_without_p8
    head = signed_in(world.person("school_named"))
    figure = PupilFigure.objects.get(run__year=YEAR, run__school__isnull=True, upn=pupils[0].upn)
    text = _text(head.get(f"/reports/{world.s1.pk}/ks4/{YEAR}/pupils/{pupils[0].upn}/").content.decode())
    assert f"KS1 prior attainment (average point score) {figure.ks1_aps:.2f}" in text
    assert f"KS1 prior attainment group {figure.ks1_pag}" in text
    assert f"Progress 8 (adjusted) {NO_P8}" in text
    assert f"{NAME} {figure.ks1_va:.2f}" in text
    assert "KS1 prior attainment: reading EXS, writing EXS, maths EXS; KS1 average point score 8" in text
    assert f"No Progress 8: {NO_P8}." in text
    listed = _text(head.get(f"/reports/{world.s1.pk}/ks4/{YEAR}/pupils/").content.decode())
    assert NAME in listed and "KS1 prior attainment (average point score)" in listed
    assert "Progress 8 KS2" not in listed
    missing = _text(head.get(f"/reports/{world.s1.pk}/ks4/{YEAR}/pupils/{pupils[11].upn}/").content.decode())
    assert "no KS1 assessment on record" in missing


def test_explore_and_the_scatter_measure_the_ks1_value_added_by_group(year_without_p8):
    world, _pupils = year_without_p8
    head = signed_in(world.person("school_named"))
    explore = head.get(f"/reports/{world.s1.pk}/ks4/{YEAR}/explore/?measure=ks1_va")
    assert explore.status_code == 200
    assert f"{_mine(world).ks1_va:+.2f}" in _text(explore.content.decode())
    assert 'value="p8"' not in explore.content.decode()  # no Progress 8 to choose
    scatter = head.get(f"/reports/{world.s1.pk}/ks4/{YEAR}/scatter/")
    assert scatter.status_code == 200 and "KS1 average point score" in _text(scatter.content.decode())


def test_the_api_gives_null_progress_8_with_the_reason(year_without_p8):
    world, _pupils = year_without_p8
    mine = _mine(world)
    answer = api(world.person("school_anon")).get(
        f"/api/v1/schools/{world.s1.dfe_number}/measures?key_stage=ks4&year={YEAR}"
    )
    assert answer.status_code == 200
    by_key = {m["key"]: m for m in answer.json()["measures"]}
    assert by_key["p8"]["figure"] is None and by_key["p8"]["note"] == f"{NO_P8}."
    assert by_key["p8"]["ci_low"] is None and by_key["p8"]["banding"] is None
    assert by_key["ks1_va"]["name"] == NAME and by_key["ks1_va"]["figure"] == pytest.approx(mine.ks1_va)
    assert (
        by_key["ks1_va"]["ci_low"] == pytest.approx(mine.ks1_va_ci_low)
        and LEFT_OUT in by_key["ks1_va"]["note"]
    )


def test_the_glossary_says_how_the_value_added_is_worked_out(world):
    text = _text(signed_in(world.person("school_named")).get("/reports/glossary/").content.decode())
    assert f"{NAME} keystage's own measure for the 2025 and 2026 GCSE cohorts" in text
    assert "divided by 10" in text and "1.96 times the national standard deviation" in text
