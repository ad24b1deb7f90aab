"""The roster check through the real interfaces: a row whose UPN is a roster pupil's but whose name
is not gets the same warning from `keystage validate --json`, from POST /api/v1/validate and on the
upload's page."""

from __future__ import annotations

import html
import io

import openpyxl
import pytest

from keystage.core.pupils.model import build_upn
from keystage.results import downloads, upload_checks, uploading
from tests.api.conftest import api
from tests.api.test_endpoints import _form
from tests.conftest import signed_in
from tests.results.conftest import as_file, filled, open_collection, roster, validate_json

MARK = "Phonics screening check mark"


@pytest.fixture(autouse=True)
def _uploads_in_a_temporary_folder(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "storage"


def test_a_changed_name_is_warned_about_in_the_cli_the_api_and_on_the_page(world, tmp_path, capsys):
    collection = open_collection("phonics")
    pupils = roster(world.s1, "phonics", 3)
    template = downloads.download_template(collection, world.s1, actor=None)
    data = filled(template, "phonics", {(1, "Forename"): "Kid0", (1, MARK): 35, (2, MARK): 36, (3, MARK): 37})
    expected = f"UPN {pupils[0].upn} is {pupils[0].forename} {pupils[0].surname}"

    path = tmp_path / "results.xlsx"
    path.write_bytes(data)
    printed = validate_json(path, "phonics", world.s1, capsys)
    (cli,) = [i for i in printed["issues"] if i["code"] == "pupil.roster_differs"]
    assert cli["message"].startswith(expected) and printed["issues"][0]["code"] == "pupil.roster_differs"

    answer = api(world.person("manage_data")).post("/api/v1/validate", _form(world, data)).json()
    assert answer["valid"] is True
    assert [i["message"] for i in answer["issues"] if i["code"] == "pupil.roster_differs"] == [cli["message"]]

    upload = uploading.upload_results(
        collection, world.s1, as_file(data), filename="r.xlsx", actor=world.person("manage_data")
    )
    upload = upload_checks.validate_stored_upload(upload.pk)
    page = signed_in(world.person("manage_data")).get(f"/uploads/{upload.pk}/")
    assert page.status_code == 200
    assert "this row&#x27;s forename is “Kid0”" in page.content.decode()
    errors = signed_in(world.person("manage_data")).get(f"/uploads/{upload.pk}/errors/")
    assert errors.status_code == 200
    book = openpyxl.load_workbook(io.BytesIO(b"".join(errors.streaming_content)))
    listed = [str(cell) for row in book["Errors"].iter_rows(values_only=True) for cell in row if cell]
    assert any(text == cli["message"] for text in listed)


def test_a_mistyped_upn_a_changed_birth_date_and_a_pupil_off_the_roster_give_three_warnings_everywhere(
    world, tmp_path, capsys
):
    collection = open_collection("phonics")
    pupils = roster(world.s1, "phonics", 3)
    template = downloads.download_template(collection, world.s1, actor=None)
    la, estab = world.s1.dfe_number[:3], world.s1.dfe_number[3:]
    mistyped, stranger = build_upn(la, estab, 19, 77), build_upn(la, estab, 19, 88)
    changed_day = 1 if pupils[0].date_of_birth.day != 1 else 2
    data = filled(
        template,
        "phonics",
        {
            (1, "Day"): changed_day,  # the roster's pupil 1, born on another day
            (2, "UPN"): mistyped,  # pupil 2's name and birth date under a UPN not on the roster
            (3, "UPN"): stranger,  # someone the roster does not have at all
            (3, "Forename"): "Zara",
            (3, "Surname"): "Okafor",
            (1, MARK): 35,
            (2, MARK): 36,
            (3, MARK): 37,
        },
    )
    wanted = {
        "pupil.roster_differs": f"UPN {pupils[0].upn} is {pupils[0].forename} {pupils[0].surname}",
        "pupil.roster_did_you_mean": f"UPN {mistyped} is not on the roster, but {pupils[1].forename} "
        f"{pupils[1].surname}",
        "pupil.added": f"UPN {stranger} is not on the school's roster",
    }

    def three(issues: list[dict]) -> dict[str, str]:
        found = {i["code"]: i["message"] for i in issues if i["code"] in wanted}
        assert set(found) == set(wanted), issues
        for code, start in wanted.items():
            assert found[code].startswith(start), found[code]
        return found

    path = tmp_path / "results.xlsx"
    path.write_bytes(data)
    printed = validate_json(path, "phonics", world.s1, capsys)
    messages = three(printed["issues"])
    assert printed["valid"] is True  # warnings do not block a submission
    assert {i["code"] for i in printed["issues"][:3]} == set(wanted)  # and they are listed first
    assert "date of birth" in messages["pupil.roster_differs"]
    assert messages["pupil.roster_did_you_mean"].endswith(f"did you mean {pupils[1].upn}?")

    answer = api(world.person("manage_data")).post("/api/v1/validate", _form(world, data)).json()
    assert answer["valid"] is True and three(answer["issues"]) == messages

    upload = uploading.upload_results(
        collection, world.s1, as_file(data), filename="r.xlsx", actor=world.person("manage_data")
    )
    upload = upload_checks.validate_stored_upload(upload.pk)
    assert three(upload.issues) == messages
    page = signed_in(world.person("manage_data")).get(f"/uploads/{upload.pk}/").content.decode()
    for message in messages.values():
        assert html.escape(message) in page
    errors = signed_in(world.person("manage_data")).get(f"/uploads/{upload.pk}/errors/")
    book = openpyxl.load_workbook(io.BytesIO(b"".join(errors.streaming_content)))
    listed = {str(cell) for row in book["Errors"].iter_rows(values_only=True) for cell in row if cell}
    assert set(messages.values()) <= listed
