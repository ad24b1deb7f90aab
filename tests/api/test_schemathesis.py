"""Schemathesis reads the OpenAPI document and throws generated requests, valid and not, at every operation.

Each response must be what the document promises: never a 5xx, a documented status code, a documented
content type and a body matching its schema. The requests carry a real token of a school's data person,
with an open collection and a roster, so valid requests reach past authentication. A small budget runs in
CI; KEYSTAGE_FUZZ_EXAMPLES raises it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.config import SchemathesisConfig

from keystage.api import services
from keystage.api.models import ApiToken
from keystage.api.services import TOKEN_PREFIX
from keystage.wsgi import application
from tests.results.conftest import open_collection, roster

EXAMPLES = int(os.environ.get("KEYSTAGE_FUZZ_EXAMPLES", "40"))


# A file's bytes are schema-valid whatever they hold, so checking one may rightly answer 422 (cannot be read).
CONFIG = SchemathesisConfig.from_str(
    """
[[operations]]
include-path = "/validate"
checks.positive_data_acceptance.expected-statuses = ["2xx", "401", "403", "404", "409", "422"]
"""
)
# The document is static: read once, at collection, from the app itself.
schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", application, config=CONFIG)


# Schemathesis prepares some requests while collecting tests, before any database exists, so the token's
# text is fixed here and the fixture gives the data person a token with this text.
TOKEN = f"{TOKEN_PREFIX}schemathesis-fixed-token-text-for-tests"


@schema.auth(refresh_interval=None)
class _DataPersonsToken:
    """Puts the token on every request except those testing a missing or broken one."""

    def get(self, case, context) -> str:
        return TOKEN

    def set(self, case, data: str, context) -> None:
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}


@pytest.fixture
def data_person(world, settings) -> Iterator[None]:  # Django's settings fixture, here
    # Hundreds of generated checks from one person: the per-minute limit (tested on its own) is lifted.
    settings.KEYSTAGE_API_CHECKS_PER_MINUTE = 100_000
    open_collection("phonics")
    roster(world.s1)
    token, _text = services.create_token(user=world.person("manage_data"), name="MIS", expires_in_days=90)
    ApiToken.objects.filter(pk=token.pk).update(token_hash=services.hash_token(TOKEN))
    # Called as a WSGI app, Django would close the test's database connection after each request; its own
    # test client stops that the same way.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
    ],
)
def test_every_operation_answers_as_its_document_says(case, data_person):
    response = case.call_and_validate()
    sent_token = (case.headers or {}).get("Authorization") == f"Bearer {TOKEN}"
    if sent_token and case.operation.path != "/openapi.json":
        # The requests get past authentication, so the checks above judged the API, not its 401 page.
        assert response.status_code != 401, response.text
