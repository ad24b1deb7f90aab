"""KS4 results in the database: DfE's catalogue loaded, Year 11 rosters with KS2 scores, and uploads
confirmed through the results service, as schools make them."""

from __future__ import annotations

from datetime import date

import pytest

from keystage.core.measures.ks4 import prior_attainment
from keystage.core.pupils.model import build_upn
from keystage.core.reference.ks4_catalogue import import_dfe_2019_folder
from keystage.core.results.fill import fill_template
from keystage.pupils.models import Pupil
from keystage.reference_data.services import load_ks4_catalogue
from keystage.results import downloads, upload_checks, uploading
from keystage.results import services as results
from keystage.results.models import Collection, Upload, UploadStatus
from tests.core.reference.test_ks4_catalogue import DFE_2019
from tests.results.conftest import YEAR, as_file, filled, open_collection

# Column headings of the GCSE template, by the QAN of the qualification.
MATHS = "Mathematics (AQA)"  # 60146084
LANGUAGE = "English Language (AQA)"  # 60142923
LITERATURE = "English Literature (AQA)"  # 60144476
COMBINED = "Combined Science: Trilogy (AQA)"  # 6018758X
HISTORY = "History (AQA)"  # 60182179
FRENCH = "French (AQA)"  # 60181576
ART = "Art and Design (AQA)"  # 60180882


@pytest.fixture(autouse=True)
def _uploads_in_a_temporary_folder(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "storage"


@pytest.fixture
def ks4_catalogue(db) -> None:
    load_ks4_catalogue(import_dfe_2019_folder(DFE_2019), source=str(DFE_2019))


def count_2026_as_a_progress8_year(monkeypatch) -> None:
    """For tests of Progress 8 itself in the test world's year (2026, whose Year 11 rosters have KS2
    scores): 2026 counts as a year DfE publishes Progress 8 for. In truth it publishes none for 2025
    and 2026 (keystage.core.measures.ks4.prior_attainment); tests/measures/test_ks1_value_added.py
    and tests/reports/test_no_progress8_pages.py show what the platform does then."""
    monkeypatch.setattr(prior_attainment, "NO_PROGRESS8", {})


@pytest.fixture
def progress8_in_2026(monkeypatch) -> None:
    count_2026_as_a_progress8_year(monkeypatch)


def ks4_roster(school, count: int, *, ks2=(105.0, 105.0), serial_from: int = 1, **fields) -> list[Pupil]:
    """Year 11 of the school: every pupil with the same KS2 scores unless told, girls and boys in turn,
    the first in three disadvantaged."""
    la, estab = school.dfe_number[:3], school.dfe_number[3:]
    pupils = []
    for n in range(serial_from, serial_from + count):
        values = dict(
            school=school,
            academic_year=YEAR,
            upn=build_upn(la, estab, 15, n),
            forename=f"Pupil{n}",
            surname="Jones",
            date_of_birth=date(YEAR - 17, 1 + n % 12, 1),
            sex="FM"[n % 2],
            nc_year=11,
            fsm6=n % 3 == 1,
            ks2_reading=ks2[0],
            ks2_maths=ks2[1],
            joined_on=date(YEAR - 5, 9, 1),
            ethnicity="WBRI",
            eal=False,
        )
        values.update(fields)
        pupils.append(Pupil.objects.create(**values))
    return pupils


def gcse_collection(**changes) -> Collection:
    return open_collection("ks4-gcse", **changes)


def upload_ks4(collection, school, user, *, values=None, seed: int = 1) -> Upload:
    """The school's template, filled by hand ({(pupil number, heading): grade}) or, without values,
    with synthetic results as `keystage synth fill-template` makes them; uploaded and checked."""
    template = downloads.download_template(collection, school, actor=user)
    if values is None:
        data = fill_template(template, results.layout_for(collection.kind, collection.year), seed=seed).data
    else:
        data = filled(template, collection.kind, values)
    upload = uploading.upload_results(collection, school, as_file(data), filename="results.xlsx", actor=user)
    upload = upload_checks.validate_stored_upload(upload.pk)
    assert upload.status == UploadStatus.SUCCESSFUL, upload.issues[:3]
    return upload


def confirm(upload: Upload, user) -> Upload:
    return results.confirm_upload(upload, actor=user, agreed=True)
