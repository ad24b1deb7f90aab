"""A new year's DfE files in /admin/: platform staff upload them, see what they would change, and apply
it as one audited action; a bad file, a stale preview or someone who is not platform staff changes
nothing."""

from __future__ import annotations

import shutil
from io import StringIO
from pathlib import Path

import pytest
import xlsxwriter
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.test import Client

from keystage.audit.models import AuditAction, AuditEvent
from keystage.core.reference.dfe_files import KS4_PROGRESS8, shipped_path
from keystage.measures import reference_choice
from keystage.reference_data.models import (
    EstimatesRelease,
    PendingReferenceLoad,
    PendingStatus,
    Qualification,
    QualificationGrade,
    QualificationYear,
    ReferenceImport,
)
from keystage.reference_data.services import loaded_ks4_catalogue
from tests.conftest import signed_in

UPLOAD = "/admin/reference_data/pendingreferenceload/upload/"
PROGRESS8 = shipped_path(KS4_PROGRESS8)

POINTS_HEADER = [
    "Qualification Number",
    "Qualification Title",
    "Qualification Type",
    "Pass Grades",
    "Grade Text",
    "Pass Points",
    "GCSE Size Equivalence 1",
]
# A "2022" set of files: GCSE maths with grade 4 at 4.5 points (4 in the shipped files), a new
# qualification, and one row that cannot be read.
POINTS_2022 = [
    ["60146060", "GCSE (9-1) in Mathematics", "GCSE (9-1) Full Course", "5", "Grade 5", 5, 1],
    ["60146060", "GCSE (9-1) in Mathematics", "GCSE (9-1) Full Course", "4", "Grade 4", 4.5, 1],
    ["61234567", "GCSE (9-1) in Astronomy", "GCSE (9-1) Full Course", "4", "Grade 4", 4, 1],
    ["6014606", "A short qualification number", "GCSE (9-1) Full Course", "4", "Grade 4", 4, 1],
]


def _workbook(path: Path, sheets: dict[str, list[list[object]]]) -> Path:
    book = xlsxwriter.Workbook(str(path))
    for name, rows in sheets.items():
        sheet = book.add_worksheet(name)
        for index, row in enumerate(rows):
            sheet.write_row(index, 0, row)
    book.close()
    return path


def _files_2022(folder: Path, **replace: Path) -> dict[str, SimpleUploadedFile]:
    paths = {
        "points": _workbook(folder / "points-2022.xlsx", {"Underlying Data": [POINTS_HEADER, *POINTS_2022]}),
        "discount_codes": _workbook(
            folder / "discount-codes-2022.xlsx",
            {
                "2022": [
                    ["Qualification Number", "Qualification Title", "2022 KS4 Discount Code"],
                    ["60146060", "GCSE (9-1) in Mathematics", "RB1"],
                    ["61234567", "GCSE (9-1) in Astronomy", "ZZ9"],
                ],
                "Discount Codes": [["Discount Code", "Description"], ["ZZ9", "Astronomy"]],
            },
        ),
        "ebacc": _workbook(
            folder / "ebacc-2022.xlsx",
            {"Maths": [["QN", "Qualification Title", "2022"], ["60146060", "GCSE Maths", "Y"]]},
        ),
    }
    paths.update(replace)
    return {role: SimpleUploadedFile(path.name, path.read_bytes()) for role, path in paths.items()}


@pytest.fixture(autouse=True)
def _storage_in_a_temporary_folder(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "storage"
    settings.VAR_DIR = tmp_path / "var"


@pytest.fixture
def staff(django_user_model):
    # Platform staff: is_staff, with no model permissions of their own.
    return django_user_model.objects.create_user(
        "staff@example.org", "x-long-password-1", full_name="Staff", is_staff=True
    )


def _state() -> tuple[int, int, float, list[int]]:
    return (
        Qualification.objects.count(),
        QualificationYear.objects.count(),
        QualificationGrade.objects.get(qualification_id="60146060", grade="4").points,
        list(ReferenceImport.objects.values_list("pk", flat=True)),
    )


def _preview(client: Client, files: dict[str, SimpleUploadedFile], **fields: str):
    return client.post(UPLOAD, {"form": "catalogue", **fields, **files})


def test_staff_preview_a_new_years_catalogue_then_apply_it_as_one_audited_action(db, staff, tmp_path):
    client = signed_in(staff)
    before = _state()
    page = client.get("/admin/reference_data/pendingreferenceload/")
    assert page.status_code == 200 and "Load new reference data" in page.content.decode()
    assert client.get(UPLOAD).status_code == 200

    response = _preview(client, _files_2022(tmp_path))
    assert response.status_code == 302
    pending = PendingReferenceLoad.objects.get()
    preview = client.get(response["Location"]).content.decode()
    assert _state() == before  # a preview changes nothing
    # What the files would add, remove and change, and the row they could not read.
    assert "2 qualifications in the new files: 1 added, 1,417 removed" in preview
    assert "61234567" in preview and "GCSE (9-1) in Astronomy" in preview
    assert "60146060 grade 4" in preview and "<td>4</td><td>4.5</td>" in preview
    assert "years added: 2022" in preview and "years removed: 2014, 2015" in preview
    assert "2022 discount codes (a year new in these files)" in preview
    assert "<td>points-2022.xlsx</td><td>Underlying Data</td><td>5</td>" in preview
    assert "qualification number “6014606” is not valid" in preview

    applied = client.post(response["Location"], {"action": "apply"})
    assert applied.status_code == 302
    catalogue = loaded_ks4_catalogue()
    assert set(catalogue.qualifications) == {"60146060", "61234567"}
    assert catalogue.by_qan("60146060").points("4") == 4.5
    assert catalogue.by_qan("61234567").discount_code(2022) == "ZZ9"
    record = ReferenceImport.objects.get(pk=applied["Location"].rstrip("/").split("/")[-2])
    assert record.loaded_by == staff and "points-2022.xlsx" in record.source
    assert any("6014606" in problem for problem in record.problems)
    event = AuditEvent.objects.get(action=AuditAction.REFERENCE_LOADED)
    assert event.actor == staff and event.subject == "KS4 qualification catalogue"
    assert event.detail["reference_import"] == record.pk
    pending.refresh_from_db()
    assert pending.status == PendingStatus.APPLIED and pending.applied_as == record
    # Applied once: a second press changes nothing.
    again = client.post(response["Location"], {"action": "apply"})
    assert again.status_code == 409 and "already applied" in again.content.decode()
    assert ReferenceImport.objects.filter(kind="ks4-catalogue").count() == len(before[3]) + 1


def _wrong_sheets(folder: Path) -> Path:
    return _workbook(folder / "points.xlsx", {"Sheet1": [POINTS_HEADER, POINTS_2022[0]]})


def _missing_column(folder: Path) -> Path:
    header = [name for name in POINTS_HEADER if name != "Pass Points"]
    return _workbook(folder / "points.xlsx", {"Underlying Data": [header, POINTS_2022[0][:5]]})


def _not_xlsx(folder: Path) -> Path:
    path = folder / "points.xlsx"
    path.write_text("Qualification Number,Pass Points\n60146060,4\n")
    return path


def _empty(folder: Path) -> Path:
    path = folder / "points.xlsx"
    path.write_bytes(b"")
    return path


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (_wrong_sheets, "points.xlsx: no sheet named “Underlying Data” (found: Sheet1)"),
        (_missing_column, "points.xlsx, sheet Underlying Data: no column “Pass Points”"),
        (_not_xlsx, "points.xlsx: cannot be read as a spreadsheet"),
        (_empty, "points.xlsx (Performance points (performance-points.xlsx)) is empty."),
    ],
)
def test_a_bad_file_changes_nothing_and_says_why(db, staff, tmp_path, make, message):
    client = signed_in(staff)
    before = _state()
    response = _preview(client, _files_2022(tmp_path, points=make(tmp_path)))
    assert response.status_code == 400
    page = response.content.decode()
    assert message in page
    assert not PendingReferenceLoad.objects.exists()
    assert _state() == before


def test_a_missing_file_is_asked_for(db, staff, tmp_path):
    files = _files_2022(tmp_path)
    del files["ebacc"]
    response = _preview(signed_in(staff), files)
    assert response.status_code == 400
    assert "Choose the file for: EBacc qualifications" in response.content.decode()
    assert not PendingReferenceLoad.objects.exists()


def test_a_preview_made_stale_by_another_load_is_refused(db, staff, tmp_path):
    client = signed_in(staff)
    first = _preview(client, _files_2022(tmp_path))["Location"]
    # Someone loads other files meanwhile (here the shipped ones again, through the command).
    call_command("reference", "load-ks4", stdout=StringIO(), stderr=StringIO())
    before = _state()
    assert "What is loaded has changed since this preview" in client.get(first).content.decode()
    refused = client.post(first, {"action": "apply"})
    assert refused.status_code == 409
    assert "Upload the files again for a new preview" in refused.content.decode()
    assert _state() == before
    assert PendingReferenceLoad.objects.get().status == PendingStatus.PENDING
    assert not AuditEvent.objects.filter(action=AuditAction.REFERENCE_LOADED).exists()


def test_discarding_loads_nothing_and_keeps_no_file(
    db, staff, tmp_path, settings, django_capture_on_commit_callbacks
):
    client = signed_in(staff)
    before = _state()
    location = _preview(client, _files_2022(tmp_path))["Location"]
    kept = PendingReferenceLoad.objects.get().files.values()
    stored = [Path(settings.MEDIA_ROOT) / entry["name"] for entry in kept]
    assert all(path.is_file() for path in stored)
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(location, {"action": "discard"}).status_code == 302
    assert _state() == before
    assert PendingReferenceLoad.objects.get().status == PendingStatus.DISCARDED
    assert not any(path.exists() for path in stored)
    assert client.post(location, {"action": "apply"}).status_code == 409


def test_people_who_are_not_platform_staff_are_refused(db, world, staff, tmp_path):
    location = _preview(signed_in(staff), _files_2022(tmp_path))["Location"]
    before = _state()
    for person in ("school_admin", "la_data_officer", "trust_admin"):
        client = signed_in(world.person(person))
        for response in (
            client.get(UPLOAD),
            _preview(client, _files_2022(tmp_path)),
            client.get(location),
            client.post(location, {"action": "apply"}),
        ):
            # Sent to the admin's sign-in, which refuses someone signed in who is not platform staff.
            assert response.status_code == 302 and response["Location"].startswith("/admin/login/")
            assert client.get(response["Location"]).status_code == 403
    anonymous = Client().post(location, {"action": "apply"})
    assert anonymous.status_code == 302 and anonymous["Location"].startswith("/admin/login/")
    assert _state() == before
    assert PendingReferenceLoad.objects.get().status == PendingStatus.PENDING


def _estimates_files(folder: Path, release: str, *, shift: float = 0.0) -> dict[str, SimpleUploadedFile]:
    """DfE's 2024 provisional files as a new release, every Attainment 8 estimate moved by ``shift``."""
    a8 = (PROGRESS8 / "a8_estimates_2024prov.csv").read_text(encoding="utf-8-sig").splitlines()
    header, rows = a8[:3], a8[3:]  # the header's quoted cells run over three lines
    moved = []
    for row in rows:
        cells = row.split(",")
        cells[2] = f"{float(cells[2]) + shift:.2f}"
        moved.append(",".join(cells))
    shutil.copyfile(PROGRESS8 / "p8_sd_2024prov.csv", folder / f"p8_sd_{release}.csv")
    return {
        "a8_estimates": SimpleUploadedFile(f"a8_{release}.csv", "\n".join([*header, *moved]).encode()),
        "sd": SimpleUploadedFile("sd.csv", (folder / f"p8_sd_{release}.csv").read_bytes()),
    }


def test_a_new_release_of_progress8_estimates_is_previewed_applied_and_then_offered(db, staff, tmp_path):
    client = signed_in(staff)
    assert "dfe-2025-provisional" not in reference_choice.estimates_names()
    files = _estimates_files(tmp_path, "2025prov")
    response = client.post(UPLOAD, {"form": "estimates", "release": "2025prov", **files})
    assert response.status_code == 302
    preview = client.get(response["Location"]).content.decode()
    assert "DfE 2025 provisional estimates (2025prov): a new release, 34 prior attainment groups" in preview
    assert "Nothing loaded now would change" not in preview
    assert "dfe-2025-provisional" not in reference_choice.estimates_names()  # not before it is applied

    assert client.post(response["Location"], {"action": "apply"}).status_code == 302
    assert "dfe-2025-provisional" in reference_choice.estimates_names()
    assert reference_choice.default_estimates(2025) == "dfe-2025-provisional"
    loaded = EstimatesRelease.objects.get(release="2025prov")
    assert loaded.loaded_by == staff and loaded.source_names == ["a8_2025prov.csv", "sd.csv"]
    event = AuditEvent.objects.get(action=AuditAction.REFERENCE_LOADED)
    assert event.subject == "Progress 8 estimates 2025prov" and event.actor == staff


def test_a_release_of_the_same_name_says_it_replaces_the_shipped_one_and_what_differs(db, staff, tmp_path):
    from keystage.core.measures.ks4.estimates import load_dfe_estimates

    client = signed_in(staff)
    files = _estimates_files(tmp_path, "2024prov", shift=0.5)
    response = client.post(UPLOAD, {"form": "estimates", "release": "2024prov", **files})
    preview = client.get(response["Location"]).content.decode()
    assert "replaces the release loaded now (shipped with keystage); 34 figures differ" in preview
    assert "<td>group 1</td><td>Attainment 8</td><td>15.96</td><td>16.46</td>" in preview
    client.post(response["Location"], {"action": "apply"})
    read = load_dfe_estimates(reference_choice.progress8_folder(), "2024prov")
    assert read.by_pag.filter(read.by_pag["pag"] == 1)["a8"][0] == pytest.approx(16.46)
    assert reference_choice.estimates_names()["dfe-2023-revised"] == "2023rev"  # the shipped ones still there


@pytest.mark.parametrize(
    ("release", "change", "message"),
    [
        ("2025 provisional", {}, "is not a release name"),
        ("2025prov", {"sd": SimpleUploadedFile("sd.csv", b"p8stdev\n1.4\n")}, "sd.csv: no column"),
        (
            "2025prov",
            {"a8_estimates": SimpleUploadedFile("a8.csv", b"\x89PNG\x00\xff")},
            "a8.csv: not a readable",
        ),
    ],
)
def test_bad_estimates_change_nothing_and_say_why(db, staff, tmp_path, release, change, message):
    files = {**_estimates_files(tmp_path, "2025prov"), **change}
    response = signed_in(staff).post(UPLOAD, {"form": "estimates", "release": release, **files})
    assert response.status_code == 400 and message in response.content.decode()
    assert not PendingReferenceLoad.objects.exists() and not EstimatesRelease.objects.exists()


def test_the_command_previews_the_same_diff_and_changes_nothing(db, tmp_path):
    before = _state()
    files = _files_2022(tmp_path)
    out = StringIO()
    call_command(
        "reference",
        "load-ks4",
        "--preview",
        "--points",
        str(tmp_path / files["points"].name),
        "--discount-codes",
        str(tmp_path / files["discount_codes"].name),
        "--ebacc",
        str(tmp_path / files["ebacc"].name),
        stdout=out,
    )
    printed = out.getvalue()
    assert "2 qualifications in the new files: 1 added, 1,417 removed" in printed
    assert "  ~ 60146060 grade 4 GCSE (9-1) in Mathematics: 4 -> 4.5" in printed
    assert "  + 61234567 GCSE (9-1) in Astronomy" in printed
    assert (
        "points-2022.xlsx, sheet Underlying Data, row 5: qualification number “6014606” is not valid"
        in printed
    )
    assert "Preview only: nothing was loaded." in printed
    assert _state() == before

    sd = tmp_path / "p8_sd_2025prov.csv"
    shutil.copyfile(PROGRESS8 / "p8_sd_2024prov.csv", sd)
    out = StringIO()
    call_command(
        "reference",
        "load-progress8",
        "2025prov",
        "--estimates",
        str(PROGRESS8 / "a8_estimates_2024prov.csv"),
        "--sd",
        str(sd),
        "--preview",
        stdout=out,
    )
    assert "a new release, 34 prior attainment groups" in out.getvalue()
    assert not EstimatesRelease.objects.exists() and not PendingReferenceLoad.objects.exists()
