"""The roster check through the real interfaces: a row whose UPN is a roster pupil's but whose name
is not gets the same warning from `keystage validate --json`, from POST /api/v1/validate and on the
upload's page."""

from __future__ import annotations

import io
import json

import openpyxl
import pytest
from django.core.management import call_command

from keystage.results import services
from tests.api.conftest import api
from tests.api.test_endpoints import _form
from tests.conftest import signed_in
from tests.results.conftest import YEAR, as_file, filled, open_collection, roster

MARK = "Phonics screening check mark"


@pytest.fixture(autouse=True)
def _uploads_in_a_temporary_folder(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "storage"


def test_a_changed_name_is_warned_about_in_the_cli_the_api_and_on_the_page(world, tmp_path, capsys):
    collection = open_collection("phonics")
    pupils = roster(world.s1, "phonics", 3)
    template = services.download_template(collection, world.s1, actor=None)
    data = filled(template, "phonics", {(1, "Forename"): "Kid0", (1, MARK): 35, (2, MARK): 36, (3, MARK): 37})
    expected = f"UPN {pupils[0].upn} is {pupils[0].forename} {pupils[0].surname}"

    path = tmp_path / "results.xlsx"
    path.write_bytes(data)
    call_command(
        "validate",
        str(path),
        "--collection",
        "phonics",
        "--year",
        str(YEAR),
        "--school",
        world.s1.dfe_number,
        "--json",
    )
    printed = json.loads(capsys.readouterr().out)
    (cli,) = [i for i in printed["issues"] if i["code"] == "pupil.roster_differs"]
    assert cli["message"].startswith(expected) and printed["issues"][0]["code"] == "pupil.roster_differs"

    answer = api(world.person("manage_data")).post("/api/v1/validate", _form(world, data)).json()
    assert answer["valid"] is True
    assert [i["message"] for i in answer["issues"] if i["code"] == "pupil.roster_differs"] == [cli["message"]]

    upload = services.upload_results(
        collection, world.s1, as_file(data), filename="r.xlsx", actor=world.person("manage_data")
    )
    upload = services.validate_stored_upload(upload.pk)
    page = signed_in(world.person("manage_data")).get(f"/uploads/{upload.pk}/")
    assert page.status_code == 200
    assert "this row&#x27;s forename is “Kid0”" in page.content.decode()
    errors = signed_in(world.person("manage_data")).get(f"/uploads/{upload.pk}/errors/")
    assert errors.status_code == 200
    book = openpyxl.load_workbook(io.BytesIO(b"".join(errors.streaming_content)))
    listed = [str(cell) for row in book["Errors"].iter_rows(values_only=True) for cell in row if cell]
    assert any(text == cli["message"] for text in listed)
