"""API tests: uploaded files in a temporary folder (the results tests' fixture), and tokens."""

from __future__ import annotations

from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from keystage.api import services
from tests.results.conftest import _uploads_in_a_temporary_folder  # noqa: F401  (autouse fixture)


def token_text(user, name: str = "MIS export", days: int | None = 90) -> str:
    _token, text = services.create_token(user=user, name=name, expires_in_days=days)
    return text


def api(user=None, token: str | None = None) -> Client:
    """A client that sends the user's new token (or the given one) with every request."""
    if token is None and user is not None:
        token = token_text(user)
    headers = {"authorization": f"Bearer {token}"} if token else {}
    return Client(headers=headers)


def upload_file(data: bytes, name: str = "results.xlsx") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type="application/octet-stream")
