"""The results API end to end: collections, validate, upload, status, confirm, error workbook; who
may do what; and every kind of bad input answered with JSON, never a 500 or an HTML page."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from keystage.audit.models import AuditAction, AuditEvent
from keystage.results import downloads, upload_checks, uploading
from keystage.results.models import Collection, Upload, UploadStatus
from tests.api.conftest import api, token_text, upload_file
from tests.results.conftest import YEAR, filled, open_collection, roster

MARK = "Phonics screening check mark"
OUTSIDERS = ("other_school_admin", "other_trust_admin", "other_la_data_officer", "la_data_officer")


def _template(world, collection) -> bytes:
    roster(world.s1)
    return downloads.download_template(collection, world.s1, actor=world.person("manage_data"))


def _form(world, data: bytes, name: str = "results.xlsx", **changes) -> dict:
    form = {
        "collection": "phonics",
        "year": str(YEAR),
        "school": world.s1.dfe_number,
        "file": upload_file(data, name),
    }
    form.update(changes)
    return {k: v for k, v in form.items() if v is not None}


def _error(response, status: int, code: str) -> str:
    assert response.status_code == status, response.content[:500]
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["error"]["code"] == code, body
    assert body["error"]["message"]
    return body["error"]["message"]


def test_collections_lists_each_with_its_window_and_terms(world):
    open_collection("phonics")
    open_collection("ks1", opens_at=timezone.now() + timedelta(days=1))
    client = api(world.person("governor"))
    response = client.get("/api/v1/collections")
    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    found = {c["collection"]: c for c in response.json()["collections"]}
    assert set(found) == {"phonics", "ks1"}
    assert found["phonics"]["open"] is True and found["ks1"]["open"] is False
    assert found["phonics"]["academic_year"] == "2025/26" and found["phonics"]["year"] == YEAR
    assert found["phonics"]["terms"].startswith("Results are used")
    assert found["phonics"]["final_deadline"] and found["phonics"]["final_reports_due"] == f"{YEAR}-09-30"
    only = client.get("/api/v1/collections", {"collection": "ks1", "year": YEAR}).json()["collections"]
    assert [c["collection"] for c in only] == ["ks1"]
    _error(client.get("/api/v1/collections", {"year": "soon"}), 400, "invalid_year")
    _error(client.get("/api/v1/collections", {"collection": "gcse"}), 400, "unknown_collection")


def test_validate_a_good_and_a_bad_file_stores_nothing(world):
    collection = open_collection()
    template = _template(world, collection)
    client = api(world.person("manage_data"))

    good = client.post("/api/v1/validate", _form(world, filled(template, "phonics", {(1, MARK): 35})))
    assert good.status_code == 200
    assert good.json() == {
        "valid": True,
        "pupils": 3,
        "issues": [],
        "issues_total": 0,
        "issues_kept": 0,
        "issues_offset": 0,
        "issues_limit": 500,
        "errors": 0,
        "warnings": 0,
    }

    bad = client.post(
        "/api/v1/validate", _form(world, filled(template, "phonics", {(1, MARK): 41, (2, MARK): "x"}))
    )
    assert bad.status_code == 200
    body = bad.json()
    assert body["valid"] is False and body["pupils"] == 3
    assert [i["code"] for i in body["issues"]] == ["result.score_range", "result.score_range"]
    first = body["issues"][0]
    assert set(first) == {"row", "column", "column_header", "value", "pupil", "code", "message", "severity"}
    assert first["column_header"] == MARK and first["severity"] == "error" and first["value"] == "41"

    # Without a school, the file is checked on its own (no DfE number or roster to compare).
    alone = client.post(
        "/api/v1/validate", _form(world, filled(template, "phonics", {(1, MARK): 35}), school=None)
    )
    assert alone.status_code == 200 and alone.json()["valid"] is True
    assert not Upload.objects.exists()


def test_validate_checks_the_school_named(world):
    collection = open_collection()
    template = _template(world, collection)
    # s1's file, checked as if for s2 (the trust administrator may submit for both).
    response = api(world.person("trust_admin")).post(
        "/api/v1/validate",
        _form(world, filled(template, "phonics", {(1, MARK): 35}), school=world.s2.dfe_number),
    )
    assert response.status_code == 200
    body = response.json()
    assert body["valid"] is False
    assert any(world.s1.dfe_number in (i["message"] + str(i["value"])) for i in body["issues"])


def test_a_file_that_cannot_be_read_is_422_with_the_reason(world):
    client = api(world.person("manage_data"))
    response = client.post("/api/v1/validate", _form(world, b"PK\x03\x04 this is not really a workbook"))
    assert response.status_code == 422
    body = response.json()
    assert body["valid"] is False and body["issues"] and body["error"]["code"] == "unreadable_file"
    assert body["error"]["message"] == body["issues"][0]["message"]


def test_validate_refuses_people_who_cannot_submit(world):
    data = b"UPN,Forename\n"
    for name in ("school_anon", "governor", *OUTSIDERS):
        client = api(world.person(name))
        _error(client.post("/api/v1/validate", _form(world, data)), 403, "forbidden")
    # Without a school, only people who submit for some school may use it.
    for name in ("school_anon", "governor", "la_named"):
        _error(
            api(world.person(name)).post("/api/v1/validate", _form(world, data, school=None)),
            403,
            "forbidden",
        )
    response = api(world.person("other_trust_admin")).post(
        "/api/v1/validate", _form(world, data, school=None)
    )
    assert response.status_code == 200


@pytest.mark.django_db(transaction=True)
def test_upload_then_the_worker_checks_it_then_confirm(world):
    collection = open_collection()
    template = _template(world, collection)
    user = world.person("manage_data")
    client = api(user)

    response = client.post(
        "/api/v1/uploads", _form(world, filled(template, "phonics", {(1, MARK): 35, (2, MARK): "A"}))
    )
    assert response.status_code == 202
    made = response.json()
    assert made["status"] == "processing" and made["school"]["dfe_number"] == world.s1.dfe_number
    assert made["uploaded_by"] == user.email and made["filename"] == "results.xlsx" and not made["in_use"]
    assert response["Location"] == made["links"]["self"]
    assert response["Location"].endswith(f"/api/v1/uploads/{made['id']}")

    bad = client.post(
        "/api/v1/uploads", _form(world, filled(template, "phonics", {(3, MARK): 99}), "bad.xlsx")
    )
    assert bad.status_code == 202

    call_command("worker", "--batch", "--interval", "0")

    status = client.get(response["Location"])
    assert status.status_code == 200
    checked = status.json()
    assert checked["status"] == "successful" and checked["status_label"] == "Successful"
    assert checked["pupils"] == 3 and checked["error_count"] == 0 and checked["issues"] == []
    assert checked["validated_at"] and checked["confirmed_at"] is None and not checked["in_use"]
    assert "error_workbook" not in checked["links"] and checked["links"]["confirm"].endswith("/confirm")

    confirmed = client.post(
        checked["links"]["confirm"], {"agree_to_terms": True}, content_type="application/json"
    )
    assert confirmed.status_code == 200
    assert confirmed.json()["in_use"] is True and confirmed.json()["confirmed_at"]
    assert "confirm" not in confirmed.json()["links"]
    assert AuditEvent.objects.filter(action=AuditAction.UPLOAD_CONFIRMED, actor=user).exists()

    failed = client.get(bad.json()["links"]["self"]).json()
    assert failed["status"] == "error" and failed["error_count"] == 1
    assert failed["issues"][0]["code"] == "result.score_range" and failed["issues"][0]["row"] == 6
    workbook = client.get(failed["links"]["error_workbook"])
    assert workbook.status_code == 200
    assert b"".join(workbook.streaming_content).startswith(b"PK")
    assert "bad-errors.xlsx" in workbook["Content-Disposition"]
    assert AuditEvent.objects.filter(action=AuditAction.UPLOAD_DOWNLOADED, actor=user).exists()
    _error(
        client.post(
            failed["links"]["self"] + "/confirm", {"agree_to_terms": True}, content_type="application/json"
        ),
        409,
        "cannot_confirm",
    )


def _stored_upload(world, collection, values, name="results.xlsx") -> Upload:
    template = _template(world, collection)
    upload = uploading.upload_results(
        collection,
        world.s1,
        upload_file(filled(template, "phonics", values), name),
        filename=name,
        actor=world.person("manage_data"),
    )
    return upload_checks.validate_stored_upload(upload.pk)


def test_people_of_other_organisations_cannot_upload_see_or_confirm(world):
    collection = open_collection()
    upload = _stored_upload(world, collection, {(1, MARK): 35})
    data = b"UPN\n"
    for name in ("school_anon", "governor", *OUTSIDERS):
        client = api(world.person(name))
        _error(client.post("/api/v1/uploads", _form(world, data)), 403, "forbidden")
        _error(client.get(f"/api/v1/uploads/{upload.pk}"), 404, "upload_not_found")
        _error(
            client.post(
                f"/api/v1/uploads/{upload.pk}/confirm",
                {"agree_to_terms": True},
                content_type="application/json",
            ),
            404,
            "upload_not_found",
        )
        _error(client.get(f"/api/v1/uploads/{upload.pk}/error-workbook"), 404, "upload_not_found")
    assert Upload.objects.count() == 1
    upload.refresh_from_db()
    assert not upload.in_use
    # The school's trust reaches it.
    trust = api(world.person("trust_admin"))
    assert trust.get(f"/api/v1/uploads/{upload.pk}").json()["status"] == "successful"


def test_confirm_needs_the_terms_agreed_and_a_checked_upload(world):
    collection = open_collection()
    upload = _stored_upload(world, collection, {(1, MARK): 35})
    client = api(world.person("manage_data"))
    url = f"/api/v1/uploads/{upload.pk}/confirm"
    _error(client.post(url, "{not json", content_type="application/json"), 400, "invalid_json")
    _error(client.post(url, "", content_type="application/json"), 400, "invalid_json")
    _error(client.post(url, b"\xff\xfe", content_type="application/json"), 400, "invalid_json")
    _error(client.post(url, "[true]", content_type="application/json"), 400, "invalid_json")
    _error(
        client.post(url, {"agree_to_terms": "yes"}, content_type="application/json"), 400, "terms_not_agreed"
    )
    _error(client.post(url, {}, content_type="application/json"), 400, "terms_not_agreed")
    upload.refresh_from_db()
    assert not upload.in_use

    processing = uploading.upload_results(
        collection, world.s1, upload_file(b"a,b\n"), filename="r.csv", actor=world.person("manage_data")
    )
    message = _error(
        client.post(
            f"/api/v1/uploads/{processing.pk}/confirm",
            {"agree_to_terms": True},
            content_type="application/json",
        ),
        409,
        "cannot_confirm",
    )
    assert "still being checked" in message
    assert client.post(url, json.dumps({"agree_to_terms": True}), content_type="application/json").json()[
        "in_use"
    ]


def test_malformed_requests_get_400_json(world):
    open_collection()
    client = api(world.person("manage_data"))
    data = b"UPN\n"
    for endpoint in ("/api/v1/validate", "/api/v1/uploads"):
        _error(client.post(endpoint, _form(world, data, collection=None)), 400, "missing_field")
        _error(client.post(endpoint, _form(world, data, collection="ks9")), 400, "unknown_collection")
        _error(client.post(endpoint, _form(world, data, year="next")), 400, "invalid_year")
        _error(client.post(endpoint, _form(world, data, year="99999999999999999999")), 400, "invalid_year")
        _error(client.post(endpoint, _form(world, data, year=None)), 400, "missing_field")
        _error(client.post(endpoint, _form(world, data, file=None)), 400, "missing_file")
        _error(client.post(endpoint, _form(world, data, school="12")), 400, "invalid_school")
        _error(client.post(endpoint, _form(world, data, school="9999999")), 404, "unknown_school")
        two = {**_form(world, data), "file": [upload_file(data, "a.csv"), upload_file(data, "b.csv")]}
        _error(client.post(endpoint, two), 400, "too_many_files")
        _error(
            client.post(endpoint, {"collection": "phonics"}, content_type="application/json"),
            400,
            "expected_multipart",
        )
        garbage = client.generic(
            "POST", endpoint, b"--x\r\nnonsense", content_type="multipart/form-data; boundary=x"
        )
        _error(garbage, 400, "missing_file")
        broken = client.generic("POST", endpoint, b"abc", content_type="multipart/form-data")
        _error(broken, 400, "malformed_request")  # no boundary
    _error(client.post("/api/v1/uploads", _form(world, data, school=None)), 400, "missing_field")
    _error(client.post("/api/v1/uploads", _form(world, b"", school=world.s1.dfe_number)), 400, "empty_file")
    # A collection with no window this year.
    message = _error(
        client.post("/api/v1/uploads", _form(world, data, collection="ks1")), 404, "no_collection"
    )
    assert "KS1" in message
    _error(client.get("/api/v1/uploads/123456"), 404, "upload_not_found")
    _error(client.get(f"/api/v1/uploads/{10**30}"), 404, "not_found")
    assert not Upload.objects.exists()


def test_a_closed_collection_refuses_uploads_with_the_deadline(world):
    now = timezone.now()
    open_collection(
        opens_at=now - timedelta(days=30),
        provisional_deadline=now - timedelta(days=20),
        final_deadline=now - timedelta(minutes=1),
    )
    message = _error(
        api(world.person("manage_data")).post("/api/v1/uploads", _form(world, b"UPN\n")),
        409,
        "collection_closed",
    )
    assert "closed at its final deadline" in message


def test_bodies_over_the_limit_get_413_json(world, settings):
    open_collection()
    settings.KEYSTAGE_MAX_UPLOAD_BYTES = 1000
    client = api(world.person("manage_data"))
    for endpoint in ("/api/v1/validate", "/api/v1/uploads"):
        # Refused from the Content-Length, before the body is read.
        message = _error(client.post(endpoint, _form(world, b"x" * 200_000, "big.csv")), 413, "too_large")
        assert "largest file accepted" in message
        # A body within the allowance for form fields, but a file over the limit: stopped while read.
        _error(client.post(endpoint, _form(world, b"x" * 5_000, "big.csv")), 413, "too_large")
        not_a_number = client.generic(
            "POST", endpoint, b"--x--", content_type="multipart/form-data; boundary=x", CONTENT_LENGTH="lots"
        )
        _error(not_a_number, 400, "malformed_request")
    assert not Upload.objects.exists()
    # A JSON body over Django's limit for request data.
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 100
    stored = Upload.objects.create(
        collection=Collection.objects.get(), school=world.s1, filename="r.csv", status=UploadStatus.SUCCESSFUL
    )
    padded = {"agree_to_terms": True, "note": "x" * 1000}
    response = client.post(f"/api/v1/uploads/{stored.pk}/confirm", padded, content_type="application/json")
    _error(response, 413, "too_large")
    stored.refresh_from_db()
    assert not stored.in_use


def test_unknown_paths_and_methods_answer_json(world):
    client = api(world.person("manage_data"))
    message = _error(client.get("/api/v1/nowhere"), 404, "not_found")
    assert "openapi.json" in message
    assert "final “/”" in _error(client.get("/api/v1/collections/"), 404, "not_found")
    _error(client.post("/api/v1/nowhere/else", {}), 404, "not_found")
    # An encoded newline in the path (found by schemathesis) is still the API's JSON 404.
    _error(client.get("/api/v1/uploads/%0Aa/error-workbook"), 404, "not_found")
    response = client.delete("/api/v1/collections")
    _error(response, 405, "method_not_allowed")
    assert response["Allow"] == "GET"
    response = client.delete("/api/v1/uploads")
    _error(response, 405, "method_not_allowed")
    assert response["Allow"] == "GET, POST"
    _error(client.put("/api/v1/uploads/1/confirm"), 405, "method_not_allowed")


def test_posts_with_a_token_need_no_csrf_token(world):
    open_collection()
    client = Client(
        enforce_csrf_checks=True,
        headers={"authorization": f"Bearer {token_text(world.person('manage_data'))}"},
    )
    response = client.post("/api/v1/uploads", _form(world, b"UPN,Forename\n", "r.csv"))
    assert response.status_code == 202
