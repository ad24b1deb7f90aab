"""Results that count in no KS4 figure (a qualification off DfE's list for the year, a grade that is not
one of its qualification's, an unknown qualification number) are never dropped without a word: each
pupil's page lists them with the reason, the school's summary page, its Excel and the API count them
by reason."""

from __future__ import annotations

import io
import re

import pytest
from python_calamine import CalamineWorkbook

from keystage.measures import services
from keystage.results.models import Result
from tests.api.conftest import api
from tests.conftest import signed_in
from tests.measures.conftest import LANGUAGE, MATHS, confirm, gcse_collection, ks4_roster, upload_ks4
from tests.results.conftest import YEAR

OFF_LIST = "10034055"  # AS Mathematics: on DfE's 2019 list, not on the 2021 list (the newest keystage has)
UNKNOWN = "99999999"
OFF_LIST_WORDS = (
    f"not on DfE's list of approved qualifications for {YEAR} (the 2021 list is the newest keystage has)"
)
UNKNOWN_WORDS = "not in the catalogue (no qualification has this number)"


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).replace("&#x27;", "'")


@pytest.fixture
def left_out(world, ks4_catalogue, django_capture_on_commit_callbacks):
    """School One's Year 11 with GCSE maths and English language confirmed, and results the template
    never offered stored beside them (as an earlier template or an import could leave them): an AS off
    the year's list for two pupils, an unknown qualification number for one."""
    pupils = ks4_roster(world.s1, 4)
    user = world.person("manage_data")
    values = {(n, MATHS): "5" for n in range(1, 5)} | {(n, LANGUAGE): "6" for n in range(1, 5)}
    upload = upload_ks4(gcse_collection(), world.s1, user, values=values)
    with django_capture_on_commit_callbacks(execute=False):
        confirm(upload, user)
    submitted = {p.upn: p for p in upload.pupils.all()}
    first, second = submitted[pupils[0].upn], submitted[pupils[1].upn]
    for pupil, qan, grade in ((first, OFF_LIST, "A"), (second, OFF_LIST, "B"), (first, UNKNOWN, "7")):
        Result.objects.create(upload=upload, pupil=pupil, subject=qan, qan=qan, value=grade)
    services.compute_and_store_ks4(YEAR)
    return world, pupils


def test_a_pupils_page_lists_each_result_not_counted_with_the_reason(left_out):
    world, pupils = left_out
    head = signed_in(world.person("school_named"))
    html = head.get(f"/reports/{world.s1.pk}/ks4/{YEAR}/pupils/{pupils[0].upn}/").content.decode()
    table = _text(html.split('id="not-counted"')[1].split("</table>")[0])
    assert f"({OFF_LIST}) A Summer {YEAR} {OFF_LIST_WORDS}" in table
    assert f"{UNKNOWN} 7 Summer {YEAR} {UNKNOWN_WORDS}" in table
    # The explanation says it too, and the A8 is the GCSEs' alone: 2 x 5 + 6 (one English, once).
    explanation = _text(html.split('id="explanation"')[1].split("</ol>")[0])
    assert f"not counted in performance measures in {YEAR}: {OFF_LIST_WORDS}" in explanation
    assert "Attainment 8 16:" in explanation
    clean = head.get(f"/reports/{world.s1.pk}/ks4/{YEAR}/pupils/{pupils[3].upn}/").content.decode()
    assert 'id="not-counted"' not in clean


def test_the_summary_its_excel_and_the_api_count_them_by_reason(left_out):
    world, _pupils = left_out
    head = signed_in(world.person("school_named"))
    page = head.get(f"/reports/{world.s1.pk}/ks4/{YEAR}/")
    box = _text(page.content.decode().split('id="not-counted"')[1].split("</div>")[0])
    assert f"2 results of 2 pupils: {OFF_LIST_WORDS}" in box
    assert f"1 result of 1 pupil: {UNKNOWN_WORDS}" in box

    book = CalamineWorkbook.from_filelike(
        io.BytesIO(head.get(f"/reports/{world.s1.pk}/ks4/{YEAR}/?format=xlsx").content)
    )
    sheet = next(name for name in book.sheet_names if name.startswith("Results not counted"))
    rows = book.get_sheet_by_name(sheet).to_python()
    assert [OFF_LIST_WORDS, 2, 2] in [
        [r[0], int(r[1]), int(r[2])] for r in rows if r[1] not in ("", "Results")
    ]

    answer = api(world.person("school_named")).get(
        f"/api/v1/schools/{world.s1.dfe_number}/measures?key_stage=ks4"
    )
    assert answer.status_code == 200
    assert answer.json()["not_counted"] == [
        {"reason": OFF_LIST_WORDS, "results": 2, "pupils": 2},
        {"reason": UNKNOWN_WORDS, "results": 1, "pupils": 1},
    ]


def test_a_trust_and_the_la_add_up_their_schools_counts(left_out):
    world, _pupils = left_out
    for persona, organisation in (("trust_named", world.trust), ("la_named", world.la)):
        page = signed_in(world.person(persona)).get(f"/reports/{organisation.pk}/ks4/{YEAR}/")
        assert page.status_code == 200, persona
        box = _text(page.content.decode().split('id="not-counted"')[1].split("</div>")[0])
        assert f"2 results of 2 pupils: {OFF_LIST_WORDS}" in box, persona
        assert f"1 result of 1 pupil: {UNKNOWN_WORDS}" in box, persona


def test_runs_stored_before_schools_kept_counts_get_them_from_their_pupils(left_out):
    """Migration 0008 fills a school's counts from its pupils' lists, so no earlier run reads "none"."""
    from importlib import import_module

    from django.apps import apps

    from keystage.measures.models import SchoolFigure

    world, _pupils = left_out
    SchoolFigure.objects.update(not_counted=[])
    migration = import_module("keystage.measures.migrations.0008_schoolfigure_not_counted")
    migration.count_stored_pupils(apps, None)
    page = signed_in(world.person("school_named")).get(f"/reports/{world.s1.pk}/ks4/{YEAR}/")
    box = _text(page.content.decode().split('id="not-counted"')[1].split("</div>")[0])
    assert f"2 results of 2 pupils: {OFF_LIST_WORDS}" in box
    assert f"1 result of 1 pupil: {UNKNOWN_WORDS}" in box
