"""Issue 4's acceptance: a template downloaded, filled by `keystage synth fill-template`, uploaded, validated
by the worker and confirmed becomes the school's results; a second upload overwrites it; the history shows
both. With --errors the upload fails with the mistakes that were planted."""

from __future__ import annotations

import re
from io import StringIO
from pathlib import Path

import pytest
from django.core.exceptions import PermissionDenied
from django.core.management import call_command
from django.core.management.base import CommandError

from keystage.core.reference.ks4_catalogue import import_dfe_2019_folder
from keystage.reference_data.services import load_ks4_catalogue
from keystage.results import downloads, pages, services, uploading
from keystage.results.models import Result, Upload, UploadStatus
from tests.core.reference.test_ks4_catalogue import DFE_2019
from tests.reference_data.catalogue import without_ks4_catalogue
from tests.results.conftest import YEAR, as_file, open_collection, roster

PUPILS = 8


def _fill(template: Path, kind: str, out: Path, *extra: str) -> str:
    printed = StringIO()
    call_command(
        "synth",
        "fill-template",
        str(template),
        "--collection",
        kind,
        "--year",
        str(YEAR),
        "-o",
        str(out),
        *extra,
        stdout=printed,
    )
    return printed.getvalue()


def _upload_and_validate(collection, school, user, path: Path) -> Upload:
    upload = uploading.upload_results(
        collection, school, as_file(path.read_bytes(), path.name), filename=path.name, actor=user
    )
    call_command("worker", "--batch", "--interval", "0")
    upload.refresh_from_db()
    return upload


def _ready(kind: str, world, tmp_path: Path):
    if kind.startswith("ks4"):
        load_ks4_catalogue(import_dfe_2019_folder(DFE_2019), source=str(DFE_2019))
    collection = open_collection(kind)
    pupils = roster(world.s1, kind, PUPILS)
    user = world.person("manage_data")
    template = tmp_path / f"{kind}-template.xlsx"
    template.write_bytes(downloads.download_template(collection, world.s1, actor=user))
    return collection, pupils, user, template


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("kind", ["ks4-gcse", "ks1", "phonics"])
def test_a_filled_template_becomes_the_schools_results_and_a_second_overwrites_it(world, tmp_path, kind):
    collection, pupils, user, template = _ready(kind, world, tmp_path)

    first_file = tmp_path / "first.xlsx"
    printed = _fill(template, kind, first_file, "--seed", "1")
    assert f"results for {PUPILS} pupils" in printed
    first = _upload_and_validate(collection, world.s1, user, first_file)
    assert first.status == UploadStatus.SUCCESSFUL, first.issues[:3]
    assert first.error_count == 0 and first.pupil_count == PUPILS
    first = services.confirm_upload(first, actor=user, agreed=True)
    assert first.in_use
    stored = Result.objects.filter(upload=first)
    assert {r.pupil.upn for r in stored} == {p.upn for p in pupils}  # every pupil has results
    counts = [stored.filter(pupil__upn=p.upn).count() for p in pupils]
    if kind == "ks4-gcse":
        assert all(5 <= n <= 13 for n in counts) and all(r.qan == r.subject for r in stored)
    else:
        assert all(n >= 1 for n in counts)

    second_file = tmp_path / "second.xlsx"
    _fill(template, kind, second_file, "--seed", "2")
    second = _upload_and_validate(collection, world.s1, user, second_file)
    assert second.status == UploadStatus.SUCCESSFUL and second.error_count == 0
    second = services.confirm_upload(second, actor=user, agreed=True)
    first.refresh_from_db()
    assert second.in_use and not first.in_use and first.status == UploadStatus.OVERWRITTEN
    history = list(pages.uploads_visible_to(user).filter(collection=collection))
    assert history == [second, first]
    assert Result.objects.filter(upload=second).exists()
    # Another school's administrator cannot put the file in as this school's results.
    with pytest.raises(PermissionDenied):
        uploading.upload_results(
            collection,
            world.s1,
            as_file(second_file.read_bytes(), "x.xlsx"),
            filename="x.xlsx",
            actor=world.person("other_school_admin"),
        )
    assert second not in pages.uploads_visible_to(world.person("other_school_admin"))


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("kind", ["ks4-gcse", "ks1", "phonics"])
def test_a_template_filled_with_errors_is_refused_with_the_planted_mistakes(world, tmp_path, kind):
    collection, _pupils, user, template = _ready(kind, world, tmp_path)
    bad = tmp_path / f"{kind}-bad.xlsx"
    printed = _fill(template, kind, bad, "--seed", "3", "--errors", "4")
    planted = re.findall(r"\[([a-z_.]+)\]$", printed, flags=re.MULTILINE)
    assert "Planted 4 of 4 mistakes" in printed and len(planted) == 4
    upload = _upload_and_validate(collection, world.s1, user, bad)
    assert upload.status == UploadStatus.ERROR and upload.error_count >= 1
    codes = [issue["code"] for issue in upload.issues]
    assert sorted(planted) == sorted(codes)  # each mistake reported once, and nothing else
    assert upload.error_workbook.name  # the school gets its file back with the cells marked
    assert not Result.objects.filter(upload=upload).exists()
    with pytest.raises(services.CollectionError, match="upload error"):
        services.confirm_upload(upload, actor=user, agreed=True)


@pytest.mark.django_db
def test_fill_template_says_what_is_wrong_with_the_command(world, tmp_path):
    collection = open_collection("phonics")
    roster(world.s1, "phonics", 2)
    template = tmp_path / "t.xlsx"
    template.write_bytes(downloads.download_template(collection, world.s1, actor=None))
    out = tmp_path / "out.xlsx"
    with pytest.raises(CommandError, match="fill-template needs --collection, --year"):
        call_command("synth", "fill-template", str(template), "-o", str(out))
    with pytest.raises(CommandError, match="Give the template to fill"):
        call_command("synth", "fill-template", "--collection", "phonics", "--year", "2026", "-o", str(out))
    with pytest.raises(CommandError, match="Cannot read"):
        _fill(tmp_path / "missing.xlsx", "phonics", out)
    not_xlsx = tmp_path / "notes.xlsx"
    not_xlsx.write_text("UPN,Mark\n")
    with pytest.raises(CommandError, match=r"notes\.xlsx: this is not an \.xlsx workbook"):
        _fill(not_xlsx, "phonics", out)
    with pytest.raises(CommandError, match="this is the Phonics 2025/26 template, not EYFSP 2025/26"):
        _fill(template, "eyfsp", out)
    without_ks4_catalogue()
    with pytest.raises(CommandError, match="KS4 qualification catalogue has not been loaded"):
        _fill(template, "ks4-gcse", out)
    with pytest.raises(CommandError, match="--errors is how many mistakes"):
        _fill(template, "phonics", out, "--errors", "-2")
    with pytest.raises(CommandError, match="make a synthetic year, not a filled template"):
        _fill(template, "phonics", out, "--load")
    with pytest.raises(CommandError, match="--collection and --errors are for keystage synth fill-template"):
        call_command("synth", "--scale", "school", "-o", str(tmp_path / "year"), "--collection", "phonics")
    assert not out.exists()
