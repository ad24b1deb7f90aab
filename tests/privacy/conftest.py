"""What keystage holds about pupils, made row by row with files in a temporary folder: uploads (a
school's submission, files with errors, overwritten files), rosters, pupils' figures beside a school's
aggregate figures, files sent to the LA with the pupils read from them, and published reports."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.base import ContentFile
from django.utils import timezone

from keystage.core.pupils.model import build_upn
from keystage.core.returns import academic_year_of
from keystage.measures.models import MeasureRun, PrimaryPupilFigure, PupilFigure, SchoolFigure
from keystage.pupils.models import Pupil
from keystage.results.models import (
    Collection,
    Deadline,
    FrozenSubmission,
    Result,
    SubmittedPupil,
    Upload,
    UploadStatus,
)
from keystage.returns.models import PublishedReport, Return, ReturnedPupil, ReturnRound

THIS_YEAR = academic_year_of(timezone.localdate())


@pytest.fixture(autouse=True)
def _files_in_a_temporary_folder(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "storage"


def stored(field) -> Path:
    """Where a stored file is on disk."""
    return Path(settings.MEDIA_ROOT) / field.name


def upn_of(school, n: int) -> str:
    return build_upn(school.dfe_number[:3], school.dfe_number[3:], 19, n)


def closed_collection(kind: str, year: int) -> Collection:
    tz = timezone.get_current_timezone()
    return Collection.objects.create(
        kind=kind,
        year=year,
        opens_at=datetime(year, 1, 10, tzinfo=tz),
        provisional_deadline=datetime(year, 6, 20, tzinfo=tz),
        final_deadline=datetime(year, 7, 1, tzinfo=tz),
        terms="Terms.",
    )


def open_collection_of_year(kind: str, year: int) -> Collection:
    """A collection still open now, whatever academic year it is for."""
    now = timezone.now()
    return Collection.objects.create(
        kind=kind,
        year=year,
        opens_at=now - timedelta(days=5),
        provisional_deadline=now + timedelta(days=5),
        final_deadline=now + timedelta(days=10),
        terms="Terms.",
    )


def upload(
    collection: Collection,
    school,
    upns: list[str],
    *,
    status: str = UploadStatus.SUCCESSFUL,
    in_use: bool = False,
    frozen: bool = False,
    error_workbook: bool = False,
    value: str = "WA",
) -> Upload:
    made = Upload(
        collection=collection,
        school=school,
        filename=f"{collection.kind}-{status}.xlsx",
        sha256="0" * 64,
        status=status,
        in_use=in_use,
        confirmed_at=timezone.now() if in_use or frozen else None,
        pupil_count=len(upns),
        issues=[
            {"row": 2, "column": "B", "value": "Jones", "message": "A pupil's name", "severity": "warning"}
        ],
    )
    made.file.save("results.xlsx", ContentFile(b"a spreadsheet of pupils"), save=False)
    if error_workbook:
        made.error_workbook.save("errors.xlsx", ContentFile(b"the same, with errors marked"), save=False)
    made.save()
    for row, upn in enumerate(upns, start=2):
        pupil = SubmittedPupil.objects.create(
            upload=made, row=row, upn=upn, forename=f"Pupil{row}", surname="Jones", sex="F", nc_year=1
        )
        Result.objects.create(upload=made, pupil=pupil, subject="PHONICS", value=value)
    if frozen:
        FrozenSubmission.objects.create(
            collection=collection, deadline=Deadline.FINAL, school=school, upload=made
        )
    return made


def roster_pupil(school, year: int, upn: str, *, forename: str = "Ann", on_roll: bool = True) -> Pupil:
    return Pupil.objects.create(
        school=school,
        academic_year=year,
        upn=upn,
        surname="Jones",
        forename=forename,
        date_of_birth=date(year - 7, 3, 4),
        sex="F",
        nc_year=1,
        fsm6=True,
        on_roll=on_roll,
    )


def ks4_run(school, year: int, upns: list[str]) -> MeasureRun:
    """A complete KS4 run: the school's all-pupil figures and each pupil's."""
    run = MeasureRun.objects.create(key_stage="ks4", year=year, status="complete", computed_at=timezone.now())
    SchoolFigure.objects.create(
        run=run, school=school, group="all", value="all", cohort=len(upns), p8_pupils=0
    )
    for upn in upns:
        PupilFigure.objects.create(
            run=run,
            school=school,
            upn=upn,
            a8=44.5,
            a8_english=10,
            a8_maths=9,
            a8_ebacc=15,
            a8_open=10.5,
            ebacc_slots_filled=3,
            open_slots_filled=3,
            ebacc_entered=False,
            ebacc_aps=4.1,
            em_4plus=True,
            em_5plus=False,
            p8=0.25,
            characteristics={"sex": "F", "disadvantaged": True},
            explanation=[{"slot": "English", "points": 5}],
        )
    return run


def phonics_run(school, year: int, upns: list[str]) -> MeasureRun:
    run = MeasureRun.objects.create(
        key_stage="phonics", year=year, status="complete", computed_at=timezone.now()
    )
    for upn in upns:
        PrimaryPupilFigure.objects.create(
            run=run, school=school, upn=upn, nc_year=1, results={"PHONICS": "WA"}, figures={"wa": True}
        )
    return run


def sent_return(school, round_: ReturnRound, upns: list[str]) -> Return:
    made = Return(round=round_, school=school, tag=round_.tag, filename="phonics.xml", sha256="0" * 64)
    made.file.save("phonics.xml", ContentFile(b"<CTfile>pupils</CTfile>"), save=False)
    made.issues = [{"row": 1, "value": upns[0], "message": "A pupil", "severity": "warning"}]
    made.save()
    for upn in upns:
        ReturnedPupil.objects.create(
            sent_return=made, upn=upn, forename="Ann", surname="Jones", results={"PHONICS": "WA"}
        )
    return made


def published_report(school, round_: ReturnRound) -> PublishedReport:
    made = PublishedReport(
        round=round_, school=school, title="Summary report", filename="summary.pdf", sha256="0" * 64
    )
    made.file.save("summary.pdf", ContentFile(b"%PDF-1.7 pupils"), save=False)
    made.save()
    return made


def return_round(la, year: int) -> ReturnRound:
    return ReturnRound.objects.create(la=la, tag="phonics", year=year, deadline=date(year, 6, 26))
