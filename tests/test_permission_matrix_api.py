"""Every API endpoint, called with the token of every persona: own organisation and others'.

As in test_permission_matrix.py the expectations are written out by hand. A refused caller learns nothing:
another school's upload is "not found" exactly as one that does not exist, and a refusal changes nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest

from keystage.results import downloads, upload_checks, uploading
from keystage.results.models import Upload
from tests.api.conftest import api, upload_file
from tests.conftest import PERSONAS, World
from tests.results.conftest import YEAR, filled, open_collection, roster

ALL = set(PERSONAS)
SUBMITTERS_FOR_S1 = {"manage_data", "trust_admin"}
S1_REPORT_READERS = {
    "school_named", "school_anon", "trust_admin", "trust_named", "trust_anon", "la_data_officer", "la_named",
    "la_anon",
}  # fmt: skip
MARK = "Phonics screening check mark"


@dataclass
class ApiCase:
    name: str
    method: str
    path: str
    allowed: set[str]
    ok_status: int
    refused_status: int
    refused_code: str
    body: str = ""


@pytest.fixture
def api_world(world) -> tuple[World, Upload, bytes]:
    collection = open_collection("phonics")
    roster(world.s1)
    template = downloads.download_template(collection, world.s1, actor=world.person("manage_data"))
    with_an_error = filled(template, "phonics", {(1, MARK): 99})
    upload = uploading.upload_results(
        collection,
        world.s1,
        upload_file(with_an_error),
        filename="results.xlsx",
        actor=world.person("manage_data"),
    )
    upload_checks.validate_stored_upload(upload.pk)
    return world, upload, filled(template, "phonics", {(1, MARK): 32})


def _cases(world: World, upload: Upload) -> list[ApiCase]:
    return [
        ApiCase("collections", "GET", "/api/v1/collections", ALL, 200, 0, ""),
        ApiCase("validate for School One", "POST", "/api/v1/validate", SUBMITTERS_FOR_S1, 200, 403,
                "forbidden"),
        ApiCase("upload for School One", "POST", "/api/v1/uploads", SUBMITTERS_FOR_S1, 202, 403, "forbidden"),
        ApiCase(
            "an upload's status", "GET", f"/api/v1/uploads/{upload.pk}", SUBMITTERS_FOR_S1, 200, 404,
            "upload_not_found",
        ),
        ApiCase(
            "an upload's error workbook", "GET", f"/api/v1/uploads/{upload.pk}/error-workbook",
            SUBMITTERS_FOR_S1, 200, 404, "upload_not_found",
        ),
        # The terms left unagreed: an allowed caller hears that (400), so nothing is confirmed by the matrix.
        ApiCase(
            "confirm an upload", "POST", f"/api/v1/uploads/{upload.pk}/confirm", SUBMITTERS_FOR_S1, 400, 404,
            "upload_not_found", body=json.dumps({"agree_to_terms": False}),
        ),
        ApiCase(
            "School One's uploads", "GET", f"/api/v1/uploads?school={world.s1.dfe_number}", SUBMITTERS_FOR_S1,
            200, 403, "forbidden",
        ),
        # The upload had errors: one who may see it hears nothing was kept (409); anyone else, not found.
        ApiCase(
            "an upload's results", "GET", f"/api/v1/uploads/{upload.pk}/results", SUBMITTERS_FOR_S1, 409, 404,
            "upload_not_found",
        ),
        # No figures worked out: a reader (governors too) hears there are none; anyone else is refused first.
        ApiCase(
            "School One's measures", "GET", f"/api/v1/schools/{world.s1.dfe_number}/measures",
            S1_REPORT_READERS | {"governor"}, 404, 403, "forbidden",
        ),
        # No estimates fitted: a reader hears there are none (404 no_estimates); anyone else is refused first.
        ApiCase(
            "School One's estimates", "GET", f"/api/v1/schools/{world.s1.dfe_number}/estimates",
            S1_REPORT_READERS, 404, 403, "forbidden",
        ),
    ]  # fmt: skip


def _call(client, case: ApiCase, world: World, good_file: bytes):
    if case.method == "GET":
        return client.get(case.path)
    if case.body:
        return client.post(case.path, case.body, content_type="application/json")
    form = {"collection": "phonics", "year": str(YEAR), "school": world.s1.dfe_number}
    return client.post(case.path, {**form, "file": upload_file(good_file)})


def test_every_persona_is_allowed_or_refused_as_written_through_the_api(api_world):
    world, upload, good_file = api_world
    wrong = []
    for case in _cases(world, upload):
        for persona in sorted(ALL):
            uploads_before = Upload.objects.count()
            response = _call(api(world.person(persona)), case, world, good_file)
            expected = case.ok_status if persona in case.allowed else case.refused_status
            if response.status_code != expected:
                wrong.append(f"{case.name}, {persona}: got {response.status_code}, expected {expected}")
                continue
            if persona not in case.allowed:
                assert response.json()["error"]["code"] == case.refused_code, (case.name, persona)
                assert Upload.objects.count() == uploads_before, (case.name, persona)
                assert set(response.json()) == {"error"}, (case.name, persona)  # and nothing of the upload
    assert not wrong, "\n".join(wrong)
    upload.refresh_from_db()
    assert not upload.in_use  # the matrix confirmed nothing


def test_an_api_call_without_a_token_is_refused_everywhere(api_world):
    world, upload, good_file = api_world
    for case in _cases(world, upload):
        response = _call(api(), case, world, good_file)
        assert response.status_code == 401, case.name
        assert response.json()["error"]["code"] in {"missing_token", "unauthorised", "not_authenticated"}
