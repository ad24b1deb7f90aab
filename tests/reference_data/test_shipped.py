"""The KS4 catalogue loads by itself from the files keystage ships, into an empty database at migrate;
what platform staff loaded, and a newer year's catalogue, are never replaced by it."""

from __future__ import annotations

import shutil
from io import StringIO
from pathlib import Path

from django.core.management import call_command

from keystage.core.reference.dfe_files import KS4_CATALOGUE, shipped_path
from keystage.core.reference.ks4_catalogue import import_dfe_2019_folder
from keystage.reference_data.models import Qualification, QualificationYear, ReferenceImport
from keystage.reference_data.services import ensure_ks4_catalogue, load_ks4_catalogue
from tests.reference_data.catalogue import without_ks4_catalogue
from tests.reference_data.test_admin_load import _files_2022


def _catalogue_loads() -> list[str]:
    return list(ReferenceImport.objects.filter(kind="ks4-catalogue").values_list("source", flat=True))


def test_a_new_database_has_the_shipped_catalogue_and_migrate_loads_it_again_when_empty(db):
    # The test database was made by migrate, like any installation's.
    assert _catalogue_loads() == [f"automatic: {shipped_path(KS4_CATALOGUE)}"]
    assert Qualification.objects.count() == 1418
    without_ks4_catalogue()
    out = StringIO()
    call_command("migrate", stdout=out)
    assert Qualification.objects.count() == 1418
    assert "Loaded the KS4 qualification catalogue (1418 qualifications" in out.getvalue()
    call_command("migrate", stdout=StringIO())
    assert len(_catalogue_loads()) == 1  # loaded once: a full database is left alone


def test_a_catalogue_platform_staff_loaded_is_never_replaced(db, tmp_path):
    small = import_dfe_2019_folder(shipped_path(KS4_CATALOGUE))
    small.qualifications = {"60146060": small.qualifications["60146060"]}
    load_ks4_catalogue(small, source="uploaded by staff@example.org: points.xlsx")
    assert ensure_ks4_catalogue() is None
    call_command("migrate", stdout=StringIO())
    assert list(Qualification.objects.values_list("qan", flat=True)) == ["60146060"]


def _folder_2022(tmp_path: Path) -> Path:
    """A reference folder whose KS4 catalogue covers 2022, in the shipped layout."""
    folder = tmp_path / "reference" / "ks4" / "dfe-2019"
    folder.mkdir(parents=True)
    names = {
        "points": "performance-points.xlsx",
        "discount_codes": "discount-codes.xlsx",
        "ebacc": "ebacc-quals.xlsx",
    }
    for role, upload in _files_2022(tmp_path).items():
        (folder / names[role]).write_bytes(upload.read())
    return tmp_path / "reference"


def test_a_newer_years_files_replace_only_a_catalogue_keystage_loaded_itself(db, tmp_path, settings):
    settings.KEYSTAGE_REFERENCE_DIR = _folder_2022(tmp_path)
    assert ensure_ks4_catalogue() is not None  # the 2021 catalogue keystage loaded; files of 2022
    assert QualificationYear.objects.filter(year=2022).exists()
    assert ensure_ks4_catalogue() is None
    # Back to the shipped files (2014-2021): the 2022 catalogue stays.
    settings.KEYSTAGE_REFERENCE_DIR = None
    assert ensure_ks4_catalogue() is None
    call_command("migrate", stdout=StringIO())
    assert set(Qualification.objects.values_list("qan", flat=True)) == {"60146060", "61234567"}


def test_unreadable_files_leave_migrate_alone_and_say_so(db, tmp_path, settings, caplog):
    broken = tmp_path / "reference" / "ks4" / "dfe-2019"
    shutil.copytree(shipped_path(KS4_CATALOGUE), broken)
    (broken / "performance-points.xlsx").write_text("not a workbook")
    settings.KEYSTAGE_REFERENCE_DIR = tmp_path / "reference"
    without_ks4_catalogue()
    call_command("migrate", stdout=StringIO())
    assert not Qualification.objects.exists()
    assert "The KS4 qualification catalogue was not loaded" in caplog.text
