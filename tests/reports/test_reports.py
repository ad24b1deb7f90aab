"""The report pages, per role, against figures stored from a synthetic year: what each reader sees,
that filters and the comparator switch change the figures, that pupils are shown only to named roles
of the pupils' school, trust or LA, and that downloads hold the figures shown."""

from __future__ import annotations

import io
import re

import pytest
from python_calamine import CalamineWorkbook

from keystage.audit.models import AuditAction, AuditEvent
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


def _text(response) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode()))


def _row(response, group: str, value: str) -> str:
    html = response.content.decode()
    found = re.search(rf'<tr[^>]*data-group="{group}" data-value="{value}"[^>]*>(.*?)</tr>', html, re.S)
    assert found, f"no row {group}={value}"
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", found.group(1))).strip()


def _stored(school, group="all", value="all") -> SchoolFigure:
    return SchoolFigure.objects.get(
        run__year=YEAR, run__key_stage="ks4", school=school, group=group, value=value
    )


def test_a_named_head_sees_progress_8_with_its_ci_banding_national_source_and_three_years(reports_world):
    head = signed_in(reports_world.person("school_named"))
    page = head.get(_url(reports_world.s1))
    assert page.status_code == 200
    mine = _stored(reports_world.s1)
    national = SchoolFigure.objects.national().get(
        run__year=YEAR, run__key_stage="ks4", group="all", value="all"
    )
    text = _text(page)
    assert f"{mine.p8:+.2f}" in text and f"{mine.p8_ci_low:.2f} to {mine.p8_ci_high:.2f}" in text
    assert mine.banding.capitalize() in text
    assert f"{national.a8:.2f}" in text  # the national A8 beside the school's
    assert "synthetic small-scale background" in text and "Not collected here" in text  # no collection yet
    trends = page.content.decode().split('id="trends"')[1]
    assert all(f"{y - 1}/{str(y)[-2:]}" in trends for y in YEARS)


def test_filters_change_the_figures_and_drop_the_national_comparison(reports_world):
    head = signed_in(reports_world.person("school_named"))
    unfiltered = head.get(_url(reports_world.s1, "explore/") + "?measure=a8")
    boys = head.get(_url(reports_world.s1, "explore/") + "?measure=a8&sex=male")
    pupils = PupilFigure.objects.filter(run__year=YEAR, run__key_stage="ks4", school=reports_world.s1)
    male = [p.a8 for p in pupils if p.characteristics.get("sex") == "M"]
    assert f"{sum(male) / len(male):.2f}" in _row(boys, "all", "all")
    assert f"{_stored(reports_world.s1).a8:.2f}" in _row(unfiltered, "all", "all")
    assert "Filters applied: Gender: Male." in _text(boys)
    assert "N/A" in _row(boys, "all", "all") and "N/A" not in _row(unfiltered, "all", "all")
    assert "switch-comparator" not in boys.content.decode()


def test_the_comparator_switch_compares_disadvantaged_pupils_like_for_like(reports_world):
    head = signed_in(reports_world.person("school_named"))
    national = {
        (f.group, f.value): f
        for f in SchoolFigure.objects.national().filter(run__year=YEAR, run__key_stage="ks4")
    }
    default = _row(
        head.get(_url(reports_world.s1, "explore/") + "?measure=a8"), "disadvantaged", "disadvantaged"
    )
    switched = _row(
        head.get(_url(reports_world.s1, "explore/") + "?measure=a8&comparator=like"),
        "disadvantaged",
        "disadvantaged",
    )
    assert f"{national[('disadvantaged', 'other')].a8:.2f}" in default and "national other pupils" in default
    assert f"{national[('disadvantaged', 'disadvantaged')].a8:.2f}" in switched


def test_small_groups_are_suppressed(reports_world):
    head = signed_in(reports_world.person("school_named"))
    page = head.get(_url(reports_world.s1, "explore/") + "?measure=a8")
    small = SchoolFigure.objects.filter(
        run__year=YEAR, run__key_stage="ks4", school=reports_world.s1, cohort__lt=6, cohort__gt=0
    ).first()
    assert small is not None, "the synthetic school has a group of fewer than 6 pupils"
    assert "SUPP" in _row(page, small.group, small.value)


def test_scatter_points_link_to_pupils_for_named_roles_and_carry_nothing_for_anonymised(reports_world):
    upns = set(
        PupilFigure.objects.filter(run__year=YEAR, run__key_stage="ks4", school=reports_world.s1).values_list(
            "upn", flat=True
        )
    )
    named = signed_in(reports_world.person("school_named")).get(_url(reports_world.s1, "scatter/"))
    anon = signed_in(reports_world.person("school_anon")).get(_url(reports_world.s1, "scatter/"))
    assert named.status_code == anon.status_code == 200
    named_html, anon_html = named.content.decode(), anon.content.decode()
    assert named_html.count('class="ks-chart__point"') > 10
    assert f"/pupils/{sorted(upns)[0]}/" in named_html
    assert "ks-chart__point" not in anon_html and "/pupils/" not in anon_html
    assert not any(upn in anon_html for upn in upns)
    assert anon_html.count("<circle") + anon_html.count("<rect") > 10  # the points are still there


def test_the_pupil_list_and_a_pupils_slots_are_for_named_roles_and_audited(reports_world):
    world = reports_world
    head = signed_in(world.person("school_named"))
    listing = head.get(_url(world.s1, "pupils/") + "?sort=a8&order=desc")
    assert listing.status_code == 200
    best = (
        PupilFigure.objects.filter(run__year=YEAR, run__key_stage="ks4", school=world.s1)
        .order_by("-a8")
        .first()
    )
    first_row = listing.content.decode().split("<tbody")[1].split("</tr>")[0]
    assert f"{best.a8:.2f}" in first_row  # sorted: the highest A8 first
    one = head.get(_url(world.s1, f"pupils/{best.upn}/"))
    assert one.status_code == 200 and best.explanation[0] in one.content.decode()
    assert (
        AuditEvent.objects.filter(
            action=AuditAction.PUPILS_VIEWED, actor=world.person("school_named")
        ).count()
        == 2
    )
    for name in ("trust_named", "la_named"):
        assert signed_in(world.person(name)).get(_url(world.s1, "pupils/")).status_code == 200
    for name in ("school_anon", "governor", "trust_anon", "la_anon", "other_school_named", "other_la_named"):
        assert signed_in(world.person(name)).get(_url(world.s1, "pupils/")).status_code == 403, name
        assert signed_in(world.person(name)).get(_url(world.s1, f"pupils/{best.upn}/")).status_code == 403


def test_a_search_finds_a_pupil_by_name(reports_world):
    head = signed_in(reports_world.person("school_named"))
    listing = head.get(_url(reports_world.s1, "pupils/"))
    first = re.search(
        r'<th scope="row" class="govuk-table__header"><a[^>]*>([^<]+)</a>', listing.content.decode()
    )
    surname = first.group(1).split(",")[0]
    found = head.get(_url(reports_world.s1, "pupils/") + f"?q={surname}")
    rows = found.content.decode().split("<tbody")[1].count("<tr")
    assert 0 < rows < listing.content.decode().split("<tbody")[1].count("<tr")


def test_governors_see_the_headline_summary_only(reports_world):
    governor = signed_in(reports_world.person("governor"))
    page = governor.get(_url(reports_world.s1))
    assert page.status_code == 200 and "Attainment 8" in _text(page)
    assert "Percentile" not in _text(page) and "Explore data in detail" not in _text(page)
    # The head after the governor: the kept dashboard still has its places among schools.
    head = _text(signed_in(reports_world.person("school_named")).get(_url(reports_world.s1)))
    assert "Percentile" in head and f"Q{_stored(reports_world.s1).quintile}" in head
    for part in ("explore/", "scatter/", "pupils/"):
        assert governor.get(_url(reports_world.s1, part)).status_code == 403


def test_other_organisations_are_refused_every_report(reports_world):
    world = reports_world
    for name in ("other_school_named", "other_trust_named", "other_la_named", "other_la_data_officer"):
        reader = signed_in(world.person(name))
        for page in ("", "explore/", "scatter/"):
            assert reader.get(_url(world.s1, page)).status_code == 403, (name, page)
        assert reader.get(_url(world.trust, "schools/")).status_code == 403
    assert signed_in(world.person("manage_data")).get(_url(world.s1)).status_code == 403


def test_a_trust_sees_its_schools_side_by_side_sorted_and_drills_into_one(reports_world):
    world = reports_world
    trust = signed_in(world.person("trust_anon"))
    page = trust.get(_url(world.trust, "schools/", "ks2"))
    assert page.status_code == 200
    html = page.content.decode()
    assert 'data-school="8002001"' in html  # School Two, the trust's primary
    assert 'data-school="8002002"' not in html  # School Three is the LA's, not the trust's
    assert f"/reports/{world.s2.pk}/ks2/{YEAR}/" in html
    assert trust.get(_url(world.s2, "", "ks2")).status_code == 200
    la = signed_in(world.person("la_anon"))
    for order in ("desc", "asc"):
        html = la.get(_url(world.la, "schools/") + f"?sort=a8&order={order}").content.decode()
        shown = re.findall(r'data-school="(\d+)"', html)
        a8 = {s.dfe_number: _stored(s).a8 for s in (world.s1, world.s3)}
        expected = sorted(a8, key=a8.__getitem__, reverse=order == "desc")
        assert [d for d in shown if d in a8] == expected


def test_the_excel_download_holds_the_figures_and_the_filters_shown(reports_world):
    head = signed_in(reports_world.person("school_named"))
    query = "?measure=a8&sex=female&disadvantaged=disadvantaged"
    page = head.get(_url(reports_world.s1, "explore/") + query)
    download = head.get(_url(reports_world.s1, "explore/") + query + "&format=xlsx")
    assert download.status_code == 200 and download["Content-Type"].startswith("application/vnd.openxml")
    book = CalamineWorkbook.from_filelike(io.BytesIO(download.content))
    about = book.get_sheet_by_name("About").to_python()
    assert ["Filters applied", "Gender: Female. Disadvantaged: Disadvantaged."] in [row[:2] for row in about]
    table = book.get_sheet_by_name(book.sheet_names[1]).to_python()
    everyone = next(row for row in table if row and row[0] == "All pupils")
    assert str(everyone[3]) in _row(page, "all", "all")


def test_anonymised_readers_cannot_download_pupils(reports_world):
    anon = signed_in(reports_world.person("school_anon"))
    assert anon.get(_url(reports_world.s1, "pupils/") + "?format=xlsx").status_code == 403


def test_every_glossary_term_a_page_links_to_exists(reports_world):
    from keystage.core.reports.catalogue import GROUP_TERMS, KS4_MEASURES

    glossary = signed_in(reports_world.person("school_anon")).get("/reports/glossary/").content.decode()
    page = (
        signed_in(reports_world.person("school_named"))
        .get(_url(reports_world.s2, "", "ks2"))
        .content.decode()
    )
    terms = (
        {m.term for m in KS4_MEASURES.values()}
        | set(GROUP_TERMS.values())
        | set(re.findall(r"glossary/#([\w-]+)", page))
    )
    assert terms and all(f'id="{term}"' in glossary for term in terms), terms


@pytest.mark.parametrize(
    "address", ["/reports/999999/ks4/2026/", "/reports/{s1}/ks9/2026/", "/reports/{s1}/ks4/1800/"]
)
def test_nonsense_addresses_are_not_found(reports_world, address):
    head = signed_in(reports_world.person("school_named"))
    assert head.get(address.format(s1=reports_world.s1.pk)).status_code == 404


def test_a_year_without_figures_says_so(reports_world):
    page = signed_in(reports_world.person("school_named")).get(_url(reports_world.s1, year=2021))
    assert page.status_code == 404 and "There are no KS4 figures for 2020/21 yet" in _text(page)


def test_subject_reports_show_entries_points_and_value_added_against_national(reports_world):
    from keystage.measures.models import SubjectFigure

    world = reports_world
    teacher = signed_in(world.person("school_anon"))
    page = teacher.get(_url(world.s1, "subjects/"))
    assert page.status_code == 200
    html = page.content.decode()
    stored = SubjectFigure.objects.filter(
        run__year=YEAR, run__key_stage="ks4", school=world.s1, group="all", value="all"
    ).order_by("-entries")
    busiest = stored.first()
    national = SubjectFigure.objects.national().get(
        run__year=YEAR, run__key_stage="ks4", group="all", value="all", subject=busiest.subject
    )
    row = re.search(rf'data-subject="{busiest.subject}"[^>]*>(.*?)</tr>', html, re.S).group(1)
    assert f"{busiest.average_points:.2f}" in row and f"({national.average_points:.2f})" in row
    assert f"{busiest.va:+.2f}" in row and str(busiest.entries) in row
    assert html.count("data-subject=") == stored.count()

    grades = teacher.get(_url(world.s1, "subjects/") + f"?subject={busiest.subject}")
    grades_html = grades.content.decode()
    assert "<svg" in grades_html and 'role="img"' in grades_html  # the chart, with its table below
    top_grade, top_entries = busiest.grades[0]
    share = round(top_entries / sum(n for _, n in busiest.grades) * 100)
    grade_row = re.search(rf'data-grade="{top_grade}"[^>]*>(.*?)</tr>', grades_html, re.S).group(1)
    assert f"{share}%" in grade_row

    girls = teacher.get(_url(world.s1, "subjects/") + "?pupils=sex:female")
    female = SubjectFigure.objects.get(
        run__year=YEAR,
        run__key_stage="ks4",
        school=world.s1,
        group="sex",
        value="female",
        subject=busiest.subject,
    )
    girls_row = re.search(rf'data-subject="{busiest.subject}"[^>]*>(.*?)</tr>', girls.content.decode(), re.S)
    assert str(female.entries) in girls_row.group(1) and "Gender: Female" in _text(girls)

    download = teacher.get(_url(world.s1, "subjects/") + f"?subject={busiest.subject}&format=xlsx")
    book = CalamineWorkbook.from_filelike(io.BytesIO(download.content))
    table = book.get_sheet_by_name(book.sheet_names[1]).to_python()
    assert any(r and r[0] == busiest.subject_name and r[1] == busiest.entries for r in table)
    assert len(book.sheet_names) == 3  # About, subjects, the chosen subject's grades

    assert teacher.get(_url(world.s1, "subjects/", "ks2")).status_code == 404
    assert teacher.get(_url(world.s1, "subjects/") + "?pupils=nonsense:x&subject=<b>").status_code == 200
    for name in ("other_school_named", "other_la_named", "governor"):
        assert signed_in(world.person(name)).get(_url(world.s1, "subjects/")).status_code == 403, name
    la = signed_in(world.person("la_anon")).get(_url(world.la, "subjects/"))
    assert la.status_code == 200 and "data-subject=" in la.content.decode()


def test_the_inspection_summary_states_what_the_figures_show_and_links_to_them(reports_world):
    world = reports_world
    head = signed_in(world.person("school_named"))
    page = head.get(_url(world.s1, "inspection/"))
    assert page.status_code == 200
    text = _text(page)
    mine = _stored(world.s1)
    national = SchoolFigure.objects.national().get(
        run__year=YEAR, run__key_stage="ks4", group="all", value="all"
    )
    assert mine.p8_ci_low > national.p8  # the seeded world: School One's P8 is significantly above
    said = "Progress 8 (adjusted) was significantly above national in 2025/26"
    assert said in text and text.index("Strengths") < text.index(said) < text.index("Areas to investigate")
    assert f"({mine.p8:+.2f} against {national.p8:+.2f})" in text
    assert f"/reports/{world.s1.pk}/ks4/{YEAR}/explore/?measure=p8" in page.content.decode()
    row = re.search(r'data-measure="a8"[^>]*>(.*?)</tr>', page.content.decode(), re.S).group(1)
    assert all(f"{_stored_in(world.s1, y).a8:.2f}" in row for y in YEARS)  # three years side by side

    download = head.get(_url(world.s1, "inspection/") + "?format=xlsx")
    book = CalamineWorkbook.from_filelike(io.BytesIO(download.content))
    assert book.sheet_names == ["About", "Headline measures", "Statements"]
    printed = head.get(_url(world.s1, "inspection/") + "?format=pdf")
    assert printed.status_code == 200 and printed.content.startswith(b"%PDF-")

    assert head.get(_url(world.trust, "inspection/")).status_code == 403  # a school's person, not the trust's
    assert signed_in(world.person("trust_anon")).get(_url(world.trust, "inspection/")).status_code == 404
    assert signed_in(world.person("trust_anon")).get(_url(world.s1, "inspection/")).status_code == 200
    for name in ("governor", "other_school_named", "other_la_named"):
        assert signed_in(world.person(name)).get(_url(world.s1, "inspection/")).status_code == 403, name


def _stored_in(school, year: int) -> SchoolFigure:
    return SchoolFigure.objects.get(
        run__year=year,
        run__key_stage="ks4",
        run__school__isnull=True,
        school=school,
        group="all",
        value="all",
    )


def test_the_national_source_says_provisional_until_the_final_deadline_then_final(reports_world):
    from datetime import timedelta

    from django.utils import timezone

    from tests.results.conftest import open_collection

    collection = open_collection("ks4-gcse", year=YEAR)
    head = signed_in(reports_world.person("school_named"))
    provisional = _text(head.get(_url(reports_world.s1)))
    deadline = f"{timezone.localtime(collection.final_deadline):%-d %B %Y}"
    assert "Provisional" in provisional and f"until the final deadline of {deadline}" in provisional
    now = timezone.now()
    collection.opens_at, collection.provisional_deadline = now - timedelta(days=30), now - timedelta(days=20)
    collection.final_deadline = now - timedelta(days=1)
    collection.save()
    final = _text(head.get(_url(reports_world.s1)))
    assert "Final: the collection&#x27;s final deadline has passed" in final and "Provisional" not in final


def test_a_kept_dashboard_gives_way_to_a_new_run(reports_world):
    from keystage.measures import services as measures

    head = signed_in(reports_world.person("school_named"))
    before = _text(head.get(_url(reports_world.s1)))
    assert f"{_stored(reports_world.s1).a8:.2f}" in before
    SchoolFigure.objects.filter(run__year=YEAR, run__key_stage="ks4", school=reports_world.s1).update(
        a8=12.34
    )
    assert "12.34" not in _text(head.get(_url(reports_world.s1)))  # kept: the run has not changed
    run, _figures = measures.compute_and_store_ks4(YEAR)  # a new run of the year
    after = _text(head.get(_url(reports_world.s1)))
    fresh = SchoolFigure.objects.get(run=run, school=reports_world.s1, group="all", value="all")
    assert f"{fresh.a8:.2f}" in after and "12.34" not in after
