"""Importing GIAS's establishment file: organisations created, a second import changing nothing, each
kind of change applied and said in words, DfE numbers moving to a successor, and all or nothing."""

from __future__ import annotations

from datetime import date

import pytest
from django.db import IntegrityError, transaction

from keystage.audit.models import AuditAction, AuditEvent
from keystage.core.organisations.gias import read_gias
from keystage.organisations.models import LocalAuthority, Organisation, School, Trust
from keystage.organisations.services import import_gias
from keystage.pupils.management.school_option import school_from_option
from tests.core.organisations.gias_files import NENE, ROCKINGHAM, england_sample, gias_bytes, row
from tests.factories import LocalAuthorityFactory, SchoolFactory

SCHOOL_FIELDS = (
    "urn",
    "name",
    "dfe_number",
    "phase",
    "school_type",
    "establishment_type",
    "la__code",
    "trust__gias_uid",
    "statutory_low_age",
    "statutory_high_age",
    "is_open",
    "closed_on",
)


def _import(records, **options):
    include_independent = options.pop("include_independent", False)
    parsed = read_gias(gias_bytes(records), include_independent=include_independent)
    return import_gias(parsed, source="edubasealldata20260301.csv", actor_email="test", **options)


def _everything():
    return (
        list(LocalAuthority.objects.order_by("code").values_list("pk", "code", "name")),
        list(Trust.objects.order_by("pk").values_list("pk", "gias_uid", "name", "companies_house_number")),
        list(School.objects.order_by("urn").values_list("pk", *SCHOOL_FIELDS)),
        Organisation.objects.count(),
    )


def _school(urn):
    return School.objects.select_related("la", "trust").get(urn=urn)


def test_the_organisations_in_the_file_are_created(db):
    result = _import(england_sample())
    assert result.ok
    assert (result.created, result.updated, result.unchanged, result.closed) == (9, 0, 0, 0)
    assert result.skipped == 9  # 8 not taken and the closed school keystage never knew
    assert dict(LocalAuthority.objects.values_list("code", "name")) == {
        "838": "Dorset",
        "940": "North Northamptonshire",
        "941": "West Northamptonshire",
        "942": "Cumberland",
        "943": "Westmorland and Furness",
    }  # 839 holds only a school closed before keystage knew it
    assert dict(Trust.objects.values_list("gias_uid", "name")) == dict([NENE, ROCKINGHAM])
    academy = _school("100002")
    assert (academy.name, academy.dfe_number, academy.la.code, academy.trust.name) == (
        "Café Lumière Academy",
        "9414001",
        "941",
        "Nene Valley Learning Trust",
    )
    assert (academy.phase, academy.school_type, academy.establishment_type) == (
        "secondary",
        "academy",
        "Academy converter",
    )
    assert (academy.statutory_low_age, academy.statutory_high_age, academy.is_open) == (11, 18, True)
    assert academy.year_groups == frozenset(range(7, 14))
    assert _school("100003").name == "St Peter\u2019s Free School"
    assert _school("100005").phase == "special" and _school("100006").phase == "secondary"
    assert _school("100013").phase == "middle" and _school("100013").trust.gias_uid == "5002"
    assert _school("100016").trust is None and _school("100016").school_type == "academy"
    assert not School.objects.filter(urn__in=["100004", "100007", "100008", "100012"]).exists()
    la = LocalAuthority.objects.get(code="940")
    assert la.kind == "la" and set(la.schools().values_list("urn", flat=True)) == {
        "100001",
        "100013",
        "100016",
    }
    assert set(Trust.objects.get(gias_uid="5001").schools().values_list("urn", flat=True)) == {
        "100002",
        "100003",
    }
    assert any(
        line.startswith("Skipped 1: Further education is not taken") for line in result.summary_lines()
    )


def test_a_second_import_of_the_same_file_changes_nothing(db):
    _import(england_sample())
    before = _everything()
    again = _import(england_sample())
    assert (again.created, again.updated, again.unchanged, again.closed, again.changes) == (0, 0, 9, 0, [])
    assert (again.las_created, again.las_renamed, again.trusts_created, again.trusts_renamed) == (0, 0, 0, 0)
    assert _everything() == before


def test_renamed_joining_leaving_a_trust_and_closing_are_applied_and_said(db):
    _import(england_sample())
    closed_school = _school("100005")
    records = england_sample()
    by_urn = {r["URN"]: r for r in records}
    by_urn["100001"]["EstablishmentName"] = "Brook Church of England Primary School"
    by_urn["100016"]["Trusts (code)"], by_urn["100016"]["Trusts (name)"] = ROCKINGHAM
    by_urn["100003"]["Trusts (code)"] = by_urn["100003"]["Trusts (name)"] = ""
    by_urn["100005"]["EstablishmentStatus (name)"], by_urn["100005"]["CloseDate"] = "Closed", "31-08-2026"
    by_urn["100002"]["Trusts (name)"] = "Nene Valley Trust"
    by_urn["100006"]["StatutoryHighAge"] = "14"
    result = _import(records)
    changes = {c.urn: c.changes for c in result.changes}
    assert changes == {
        "100001": ["renamed from “Brook Primary School”"],
        "100016": ["joined trust Rockingham Schools Trust"],
        "100003": ["left trust Nene Valley Trust"],
        "100005": ["closed on 31 August 2026"],
        "100006": ["ages 11-16 → 11-14"],
    }
    assert (result.updated, result.closed, result.unchanged, result.trusts_renamed) == (5, 1, 4, 1)
    assert _school("100001").name == "Brook Church of England Primary School"
    assert _school("100016").trust.name == "Rockingham Schools Trust"
    assert _school("100003").trust is None
    assert Trust.objects.get(gias_uid="5001").name == "Nene Valley Trust"
    closed = _school("100005")
    assert closed.pk == closed_school.pk  # the same row, with its history
    assert (closed.is_open, closed.closed_on) == (False, date(2026, 8, 31))
    assert not closed.takes_part_in((6,))
    assert _import(records).changes == []


def test_a_dfe_number_moves_to_the_academy_that_replaces_a_school(db):
    _import(england_sample())
    records = england_sample()
    records[0].update({"EstablishmentStatus (name)": "Closed", "CloseDate": "31-08-2025"})
    records.append(
        row(
            "150001",
            "Brook Primary Academy",
            la="940",
            number="2001",
            type_name="Academy converter",
            trust=NENE,
            opened="01-09-2025",
        )
    )
    result = _import(records)
    assert result.ok and (result.created, result.closed) == (1, 1)
    old, new = _school("100001"), _school("150001")
    assert old.dfe_number == new.dfe_number == "9402001"
    assert (old.is_open, old.closed_on, new.is_open) == (False, date(2025, 8, 31), True)
    # Whoever looks the number up finds the open school.
    assert School.objects.by_dfe_number("9402001") == new
    assert School.objects.filter(dfe_number="9402001").first() == new
    assert school_from_option("9402001") == new
    assert _import(records).changes == []


def test_an_open_school_the_file_no_longer_mentions_gives_way_to_the_one_now_holding_its_number(db):
    _import(england_sample())
    records = [r for r in england_sample() if r["URN"] != "100001"]
    records.append(
        row("150002", "Brook Primary Academy", la="940", number="2001", type_name="Academy converter")
    )
    result = _import(records)
    assert {c.urn: c.changes for c in result.changes} == {
        "100001": ["closed: its DfE number 9402001 is now URN 150002's"]
    }
    assert not _school("100001").is_open and _school("150002").is_open
    assert result.not_in_file == 1
    assert "1 schools in keystage are not in this file and were left as they are." in result.summary_lines()


def test_schools_keystage_has_that_the_file_does_not_mention_are_left_alone(db):
    own = SchoolFactory(urn="199999", dfe_number="8004999", la=LocalAuthorityFactory(code="800"))
    result = _import(england_sample())
    assert result.not_in_file == 1
    assert School.objects.get(pk=own.pk).is_open


def test_a_file_with_a_problem_row_imports_nothing(db):
    _import(england_sample())
    before, audited = _everything(), AuditEvent.objects.count()
    records = england_sample()
    records[0]["EstablishmentName"] = "Renamed, but not to be"
    records[2]["StatutoryLowAge"] = "eleven"
    records.append(row("150003", "New School", number="2999", la="208"))
    result = _import(records)
    assert not result.ok
    assert [(p.row, p.column, p.value) for p in result.problems] == [(4, "StatutoryLowAge", "eleven")]
    assert result.summary_lines() == ["edubasealldata20260301.csv: 1 problem, so nothing was imported."]
    assert _everything() == before and AuditEvent.objects.count() == audited


def test_each_import_is_one_audit_entry(db):
    _import(england_sample())
    event = AuditEvent.objects.get(action=AuditAction.ORGANISATIONS_IMPORTED)
    assert event.actor_email == "test"
    assert event.subject == "GIAS establishments from edubasealldata20260301.csv"
    assert (event.detail["created"], event.detail["skipped"], event.detail["trusts_created"]) == (9, 9, 2)


def test_independent_schools_only_when_asked(db):
    _import(england_sample(), include_independent=True)
    hilltop = _school("100007")
    assert (hilltop.school_type, hilltop.phase, hilltop.trust) == ("independent", "all_through", None)
    assert _school("100015").school_type == "independent" and _school("100015").phase == "special"


def test_create_only_adds_what_is_missing_and_changes_nothing_that_is_there(db):
    _import(england_sample()[:3])
    before = _everything()
    records = england_sample()
    records[0]["EstablishmentName"] = "Not this name"
    records[1]["Trusts (name)"] = "Nor this trust name"
    result = _import(records, create_only=True)
    assert (result.created, result.updated, result.unchanged) == (6, 0, 3)
    assert _everything()[2][:3] == before[2]
    assert _school("100001").name == "Brook Primary School"
    assert Trust.objects.get(gias_uid="5001").name == "Nene Valley Learning Trust"


def test_a_dfe_number_is_unique_among_open_schools_only(db):
    la = LocalAuthorityFactory(code="940")
    SchoolFactory(urn="100100", dfe_number="9402100", la=la, is_open=False)
    SchoolFactory(urn="100101", dfe_number="9402100", la=la)
    with pytest.raises(IntegrityError), transaction.atomic():
        SchoolFactory(urn="100102", dfe_number="9402100", la=la)
    assert School.objects.by_dfe_number("9402100").urn == "100101"
    assert School.objects.by_dfe_number("9409999") is None


def test_the_closed_school_that_closed_last_is_found_when_none_is_open(db):
    la = LocalAuthorityFactory(code="940")
    SchoolFactory(urn="100200", dfe_number="9402200", la=la, is_open=False, closed_on=date(2010, 8, 31))
    SchoolFactory(urn="100201", dfe_number="9402200", la=la, is_open=False, closed_on=date(2020, 8, 31))
    assert School.objects.by_dfe_number("9402200").urn == "100201"
