"""Files live wherever Django's default storage is (KEYSTAGE_STORAGE_BACKEND), never at a local path.

The whole life of an upload runs here against Django's in-memory storage, standing in for object storage
such as S3: stored, checked by the worker, marked up in an error workbook, downloaded, confirmed, deleted.
Nothing may touch the disk's storage folder, so several web and worker machines can share one bucket.
"""

from __future__ import annotations

import pytest
from django.core.files.storage import default_storage
from django.core.management import call_command

from keystage.results import downloads, uploading
from keystage.results.models import Upload
from tests.api.conftest import api, upload_file
from tests.results.conftest import YEAR, filled, open_collection, roster

MARK = "Phonics screening check mark"
IN_MEMORY = {
    "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}


@pytest.mark.django_db(transaction=True)  # the worker commits and checks its connection like a real one
def test_an_upload_lives_and_dies_in_the_configured_storage_not_on_disk(world, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "storage"
    settings.STORAGES = IN_MEMORY
    assert default_storage.__class__.__name__ == "InMemoryStorage"
    collection = open_collection()
    roster(world.s1)
    template = downloads.download_template(collection, world.s1, actor=world.person("manage_data"))
    client = api(world.person("manage_data"))
    form = {"collection": "phonics", "year": str(YEAR), "school": world.s1.dfe_number}
    good = client.post(
        "/api/v1/uploads", {**form, "file": upload_file(filled(template, "phonics", {(1, MARK): 35}))}
    )
    bad = client.post(
        "/api/v1/uploads",
        {**form, "file": upload_file(filled(template, "phonics", {(1, MARK): 99}), "bad.xlsx")},
    )
    assert good.status_code == bad.status_code == 202
    call_command("worker", "--batch", "--interval", "0")

    checked_bad = client.get(bad["Location"]).json()
    assert checked_bad["status"] == "error"
    workbook = client.get(checked_bad["links"]["error_workbook"])
    assert workbook.status_code == 200 and b"".join(workbook.streaming_content).startswith(b"PK")
    confirmed = client.post(
        good.json()["links"]["self"] + "/confirm", {"agree_to_terms": True}, content_type="application/json"
    )
    assert confirmed.status_code == 200 and confirmed.json()["in_use"] is True

    stored = Upload.objects.get(pk=checked_bad["id"])
    kept = [stored.file.name, stored.error_workbook.name]
    assert all(name.endswith(".xlsx") and default_storage.exists(name) for name in kept)
    uploading.delete_upload(stored, actor=world.person("manage_data"))
    # The file and its marked-up copy both hold pupils' names: deleting the upload removes both.
    assert not any(default_storage.exists(name) for name in kept)
    assert client.get(checked_bad["links"]["error_workbook"]).status_code == 404
    # Not one byte went to the disk folder the file-system storage would have used.
    assert not (tmp_path / "storage").exists() or not any((tmp_path / "storage").rglob("*"))
