"""The API when something the service depends on fails: a full disk while an upload is stored or
streams in, and the database gone. Each is a 503 in JSON, worth retrying, and nothing is kept."""

from __future__ import annotations

import errno
from pathlib import Path
from typing import Any

import pytest
from django.core.files import uploadhandler
from django.db import OperationalError
from django_tasks_db.models import DBTaskResult

from keystage.api import services as api_services
from keystage.results import downloads
from keystage.results.models import Upload
from tests.api.conftest import api, upload_file
from tests.results.conftest import YEAR, open_collection, roster
from tests.results.test_faults import NOT_STORED, full_disk  # noqa: F401  (full_disk: a fixture)


def _form(world, data: bytes) -> dict[str, Any]:
    return {
        "collection": "phonics",
        "year": str(YEAR),
        "school": world.s1.dfe_number,
        "file": upload_file(data),
    }


def _template(world) -> bytes:
    collection = open_collection()
    roster(world.s1)
    return downloads.download_template(collection, world.s1, actor=world.person("manage_data"))


def _unavailable(response, code: str) -> str:
    assert response.status_code == 503, response.content[:500]
    assert response["Content-Type"] == "application/json" and response["Retry-After"] == "30"
    body = response.json()
    assert body["error"]["code"] == code
    return body["error"]["message"]


@pytest.mark.django_db(transaction=True)
def test_a_full_disk_while_storing_an_upload_is_a_503_and_nothing_is_kept(world, settings, full_disk):  # noqa: F811
    data = _template(world)
    full_disk()
    client = api(world.person("manage_data"))
    message = _unavailable(client.post("/api/v1/uploads", _form(world, data)), "storage_unavailable")
    assert message.startswith(NOT_STORED)
    assert not Upload.objects.exists() and not DBTaskResult.objects.exists()
    assert not [p for p in Path(settings.MEDIA_ROOT).rglob("*") if p.is_file()]

    full_disk("nothing-is-full/")  # room again: the same request is accepted
    assert client.post("/api/v1/uploads", _form(world, data)).status_code == 202


def test_a_full_temporary_folder_while_an_upload_streams_in_is_a_503(world, settings, monkeypatch):
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 10  # every file goes to a temporary file as it arrives

    def disk_full(self: Any, raw_data: bytes, start: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(uploadhandler.TemporaryFileUploadHandler, "receive_data_chunk", disk_full)
    response = api(world.person("manage_data")).post("/api/v1/uploads", _form(world, b"UPN,Mark\n" * 20))
    _unavailable(response, "storage_unavailable")
    assert not Upload.objects.exists()


def test_the_database_gone_is_a_503_not_a_500(world, monkeypatch):
    client = api(world.person("manage_data"))

    def database_gone(*args: Any, **kwargs: Any) -> None:
        raise OperationalError('connection to server at "127.0.0.1", port 5432 failed: Connection refused')

    monkeypatch.setattr(api_services, "authenticate", database_gone)
    message = _unavailable(client.get("/api/v1/collections"), "service_unavailable")
    assert "cannot reach its database" in message
