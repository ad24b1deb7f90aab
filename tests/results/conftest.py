"""Collections with their window open, rostered pupils, and uploaded files kept in a temporary folder."""

from __future__ import annotations

import io
import json
from datetime import date, timedelta
from pathlib import Path

import openpyxl
import pytest
from django.core.files.base import ContentFile
from django.core.management import call_command
from django.utils import timezone

from keystage.core.pupils.model import build_upn
from keystage.core.results.cells import column_letter
from keystage.core.results.kinds import KINDS
from keystage.pupils.models import Pupil
from keystage.results import services
from keystage.results.models import Collection

YEAR = 2026


@pytest.fixture(autouse=True)
def _uploads_in_a_temporary_folder(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "storage"


def open_collection(kind: str = "phonics", **changes) -> Collection:
    now = timezone.now()
    values = dict(
        kind=kind,
        year=YEAR,
        opens_at=now - timedelta(days=10),
        provisional_deadline=now + timedelta(days=10),
        final_deadline=now + timedelta(days=20),
        terms="Results are used to produce your school's reports.",
        provisional_reports_due=date(YEAR, 7, 7),
        final_reports_due=date(YEAR, 9, 30),
    )
    values.update(changes)
    return Collection.objects.create(**values)


def roster(school, kind: str = "phonics", count: int = 3) -> list[Pupil]:
    nc_year = KINDS[kind].nc_years[0]
    la, estab = school.dfe_number[:3], school.dfe_number[3:]
    return [
        Pupil.objects.create(
            school=school,
            academic_year=YEAR,
            upn=build_upn(la, estab, 19, n),
            forename=f"Pupil{n}",
            surname="Jones",
            date_of_birth=date(YEAR - nc_year - 5, 2, n),
            sex="FM"[n % 2],
            nc_year=nc_year,
        )
        for n in range(1, count + 1)
    ]


def filled(data: bytes, kind: str, values: dict[tuple[int, str], object]) -> bytes:
    """The template with results typed in: {(pupil number, column heading): value}."""
    layout = services.layout_for(kind, YEAR)
    headers = [f.header for f in layout.pupil_fields] + layout.subject_headers
    book = openpyxl.load_workbook(io.BytesIO(data))
    sheet = book["Results"]
    for (pupil, header), value in values.items():
        sheet[f"{column_letter(headers.index(header))}{layout.heading_row + pupil}"] = value
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def as_file(data: bytes, name: str = "results.xlsx") -> ContentFile:
    return ContentFile(data, name=name)


def validate_json(path: Path, kind: str, school, capsys) -> dict:
    """What `keystage validate --json` prints for the file, as a school's data manager runs it."""
    call_command(
        "validate",
        str(path),
        "--collection",
        kind,
        "--year",
        str(YEAR),
        "--school",
        school.dfe_number,
        "--json",
    )
    return json.loads(capsys.readouterr().out)
