"""LA returns: rounds opened for the home LA, CTFs as a school's MIS writes them, rostered pupils
with the days they joined and left, and stored files kept in a temporary folder."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from django.core.files.base import ContentFile
from django.utils import timezone

from keystage.core.ctf.model import CTFDocument, CTFHeader, CTFPupil, SchoolRef, StageResult, mapping_for
from keystage.core.ctf.writer import write_ctf
from keystage.core.pupils.model import build_upn
from keystage.core.results.kinds import KINDS
from keystage.core.returns import academic_year_of
from keystage.pupils.models import Pupil
from keystage.returns.models import ReturnRound

YEAR = academic_year_of(timezone.localdate())  # rounds take files in this academic year


@pytest.fixture(autouse=True)
def _files_in_a_temporary_folder(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "storage"


def open_round(la, tag: str = "phonics", **changes) -> ReturnRound:
    values = dict(
        la=la,
        tag=tag,
        year=YEAR,
        deadline=date(YEAR, 6, 26),
        period_starts=None,
        period_ends=None,
        summer_second_half_starts=None,
    )
    if tag == "phonics":
        values.update(period_starts=date(YEAR, 6, 7), period_ends=date(YEAR, 6, 11))
    elif tag == "ks1":
        values.update(period_starts=date(YEAR, 5, 1), period_ends=date(YEAR, 5, 31))
    elif tag == "ks2-ta":
        values.update(period_starts=date(YEAR, 5, 10), period_ends=date(YEAR, 5, 13))
    elif tag == "eyfsp":
        values["summer_second_half_starts"] = date(YEAR, 6, 1)
    values.update(changes)
    return ReturnRound.objects.create(**values)


def upn(school, n: int) -> str:
    """A pupil's UPN, issued by the school's LA and establishment."""
    return build_upn(school.dfe_number[:3], school.dfe_number[3:], 19, n)


def on_roll(school, number: int, kind: str = "phonics", *, joined=None, left=None, issued_by=None) -> Pupil:
    nc_year = KINDS[kind].nc_years[0]
    first, _last = KINDS[kind].birth_span(YEAR, nc_year)
    return Pupil.objects.create(
        school=school,
        academic_year=YEAR,
        upn=upn(issued_by or school, number),
        forename=f"Pupil{number}",
        surname="Brown",
        date_of_birth=date(first.year, 10, number),
        sex="F",
        nc_year=nc_year,
        joined_on=joined,
        left_on=left,
        on_roll=left is None,
    )


def _result(assessment: str, value: str) -> StageResult:
    entry = mapping_for(YEAR).entry_for(assessment)
    return StageResult(
        entry.stage,
        "ENG",
        str(YEAR),
        entry.subject,
        entry.method,
        entry.component,
        "R",
        entry.result_qualifier,
        value,
    )


def ctf(school, pupils: list[tuple[str, str, str]], kind: str = "phonics", estab: str | None = None) -> bytes:
    """A CTF from the school's MIS: pupils as (upn, forename, result), results in the kind's first
    assessment (the phonics mark, or KS1 reading)."""
    assessment = {"phonics": "phonics_mark", "ks1": "ks1_reading_ta"}[kind]
    nc_year = KINDS[kind].nc_years[0]
    first, _last = KINDS[kind].birth_span(YEAR, nc_year)
    la, own_estab = school.dfe_number[:3], school.dfe_number[3:]
    source = SchoolRef(
        la=la, estab=estab or own_estab, urn=school.urn, name=school.name, academic_year=YEAR - 1
    )
    header = CTFHeader(
        YEAR - 1 - 2000, datetime(YEAR, 6, 20, 10, 30), "partial", "mis", source, SchoolRef(la, "LLLL")
    )
    return write_ctf(
        CTFDocument(
            header,
            [
                CTFPupil(
                    pupil_upn,
                    "Brown",
                    forename,
                    date(first.year, 10, n),
                    "F",
                    str(nc_year),
                    results=(_result(assessment, value),) if value else (),
                )
                for n, (pupil_upn, forename, value) in enumerate(pupils, start=1)
            ],
        )
    )


def as_file(data: bytes, name: str = "return.xml") -> ContentFile:
    return ContentFile(data, name=name)


@pytest.fixture
def world(world):
    """The shared world, with School One teaching every year group (ages 4 to 18, an all-through
    school): these tests send every kind of return from it. Who a return is asked of by year group
    is tested in test_round_schools.py."""
    world.s1.statutory_low_age, world.s1.statutory_high_age = 4, 18
    world.s1.save(update_fields=["statutory_low_age", "statutory_high_age"])
    return world


def teaching_primary(school):
    """The school as a primary (ages 4 to 11): phonics, KS1, KS2 and EYFSP returns are asked of it."""
    school.phase, school.statutory_low_age, school.statutory_high_age = "primary", 4, 11
    school.save(update_fields=["phase", "statutory_low_age", "statutory_high_age"])
    return school
