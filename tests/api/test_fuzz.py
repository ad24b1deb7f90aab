"""Fuzzing the upload endpoints (issue 9): any bytes, under any name, and odd form fields sent to
/api/v1/validate and /api/v1/uploads are answered in JSON with a status below 500, and nothing is stored
by a refused request. A small budget runs in CI; KEYSTAGE_FUZZ_EXAMPLES raises it."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from keystage.results.models import Upload
from tests.api.conftest import api, upload_file
from tests.results.conftest import YEAR, open_collection

FUZZ = settings(
    max_examples=int(os.environ.get("KEYSTAGE_FUZZ_EXAMPLES", "40")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
_FIELD = st.one_of(
    st.none(), st.text(max_size=30), st.sampled_from(["phonics", "ks4-gcse", str(YEAR), "8004001", "0", ""])
)


@FUZZ
@given(
    data=st.binary(max_size=3000),
    name=st.sampled_from(["results.xlsx", "results.csv", "ctf.xml", "x", "../../etc/passwd", "é.ods"]),
    collection=_FIELD,
    year=_FIELD,
    school=_FIELD,
)
def test_whatever_is_sent_the_answer_is_json_below_500(world, data, name, collection, year, school):
    if not hasattr(world, "_opened"):
        open_collection()
        world._opened = True
    client = api(world.person("manage_data"))
    form = {"file": upload_file(data, name), "collection": collection, "year": year, "school": school}
    form = {key: value for key, value in form.items() if value is not None}
    before = Upload.objects.count()
    for endpoint in ("/api/v1/validate", "/api/v1/uploads"):
        response = client.post(
            endpoint, form if endpoint.endswith("validate") else {**form, "file": upload_file(data, name)}
        )
        assert response.status_code < 500, (endpoint, response.status_code, response.content[:200])
        body = response.json()
        assert "issues" in body or "error" in body or "id" in body, body
        if response.status_code >= 400:
            assert body["error"]["code"] and body["error"]["message"]
    # Only an accepted upload (202) is stored; validate stores nothing.
    assert Upload.objects.count() - before <= 1
