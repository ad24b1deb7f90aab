"""Personal API tokens: made, listed and revoked on the account pages; checked on every request."""

from __future__ import annotations

import re
from datetime import timedelta

from django.test import Client
from django.urls import reverse
from django.utils import timezone

from keystage.accounts.models import Membership
from keystage.api.models import ApiToken
from keystage.audit.models import AuditAction, AuditEvent
from tests.api.conftest import api, token_text, upload_file
from tests.conftest import signed_in
from tests.results.conftest import open_collection

COLLECTIONS = "/api/v1/collections"


def test_the_pages_make_show_once_list_and_revoke_a_token(world):
    user = world.person("manage_data")
    client = signed_in(user)
    listing = client.get(reverse("api_tokens:list"))
    assert listing.status_code == 200 and b"You have no API tokens" in listing.content
    assert client.get(reverse("api_tokens:create")).status_code == 200

    made = client.post(reverse("api_tokens:create"), {"name": "  MIS   export ", "expires": "30"})
    assert made.status_code == 200
    page = made.content.decode()
    assert "Copy your token now" in page
    shown = re.search(r"ks_[A-Za-z0-9_-]{43}", page)
    assert shown is not None
    text = shown.group(0)
    token = ApiToken.objects.get(user=user)
    assert token.name == "MIS export" and text.startswith(f"ks_{token.prefix}")
    assert text not in str(list(ApiToken.objects.values_list()))  # only its hash is kept
    assert timedelta(days=29) < token.expires_at - timezone.now() <= timedelta(days=30)
    created = AuditEvent.objects.get(action=AuditAction.API_TOKEN_CREATED)
    assert created.actor == user and token.prefix in created.subject and text not in str(created.detail)

    listing = client.get(reverse("api_tokens:list")).content.decode()
    assert "MIS export" in listing and token.shown in listing and text not in listing
    assert "Active" in listing

    assert api(token=text).get(COLLECTIONS).status_code == 200
    token.refresh_from_db()
    assert token.last_used_at is not None
    assert "Never" not in client.get(reverse("api_tokens:list")).content.decode().split("MIS export")[1][:400]

    confirm = client.get(reverse("api_tokens:revoke", args=[token.pk]))
    assert confirm.status_code == 200 and b"Revoke the token" in confirm.content
    done = client.post(reverse("api_tokens:revoke", args=[token.pk]), follow=True)
    assert done.redirect_chain[-1][0] == reverse("api_tokens:list")
    assert "has been revoked" in done.content.decode() and "Revoked" in done.content.decode()
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert AuditEvent.objects.filter(action=AuditAction.API_TOKEN_REVOKED, actor=user).count() == 1

    refused = api(token=text).get(COLLECTIONS)
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "token_revoked"
    again = client.get(reverse("api_tokens:revoke", args=[token.pk]))
    assert again.status_code == 200 and b"This token was revoked on" in again.content
    # Revoking again changes nothing and records nothing more.
    client.post(reverse("api_tokens:revoke", args=[token.pk]))
    assert AuditEvent.objects.filter(action=AuditAction.API_TOKEN_REVOKED).count() == 1


def test_a_token_without_expiry_lasts_until_revoked(world):
    client = signed_in(world.person("governor"))
    made = client.post(reverse("api_tokens:create"), {"name": "Script", "expires": "never"})
    assert b"It works until you revoke it" in made.content
    token = ApiToken.objects.get()
    assert token.expires_at is None and token.is_active


def test_the_form_explains_what_is_missing(world):
    client = signed_in(world.person("manage_data"))
    response = client.post(reverse("api_tokens:create"), {"name": "   ", "expires": "forever"})
    assert response.status_code == 400
    page = response.content.decode()
    assert "There is a problem" in page
    assert "Enter a name for the token" in page
    assert "Select when the token should stop working" in page
    assert not ApiToken.objects.exists()


def test_people_see_and_revoke_only_their_own_tokens(world):
    owner = world.person("manage_data")
    token_text(owner, name="Owner's script")
    token = ApiToken.objects.get()
    other = signed_in(world.person("school_admin"))
    assert "Owner's script" not in other.get(reverse("api_tokens:list")).content.decode()
    assert other.get(reverse("api_tokens:revoke", args=[token.pk])).status_code == 404
    assert other.post(reverse("api_tokens:revoke", args=[token.pk])).status_code == 404
    assert other.post(f"/account/api-tokens/{10**20}/revoke/").status_code == 404
    token.refresh_from_db()
    assert token.revoked_at is None


def test_signed_out_visitors_are_sent_to_sign_in(world):
    for name in ("api_tokens:list", "api_tokens:create"):
        response = Client().get(reverse(name))
        assert response.status_code == 302 and response["Location"].startswith(reverse("accounts:login"))


def test_requests_without_a_good_token_are_refused_with_401_json(world):
    user = world.person("manage_data")
    text = token_text(user)
    cases = {
        "missing_token": Client(),
        "invalid_token": Client(headers={"authorization": "Basic dXNlcjpwYXNz"}),
        "unknown": Client(headers={"authorization": "Bearer ks_notarealtoken"}),
        "not ours": Client(headers={"authorization": "Bearer abc"}),
        "bare scheme": Client(headers={"authorization": "Bearer"}),
        "too long": Client(headers={"authorization": "Bearer ks_" + "a" * 5000}),
        "tampered": Client(headers={"authorization": f"Bearer {text[:-1]}{'A' if text[-1] != 'A' else 'B'}"}),
    }
    for name, client in cases.items():
        response = client.get(COLLECTIONS)
        assert response.status_code == 401, name
        assert response["WWW-Authenticate"].startswith("Bearer"), name
        error = response.json()["error"]
        assert error["code"] in {"missing_token", "invalid_token"} and error["message"], name
    assert Client().get(COLLECTIONS).json()["error"]["code"] == "missing_token"
    assert Client(headers={"authorization": f"bearer {text}"}).get(COLLECTIONS).status_code == 200


def test_a_signed_in_browser_session_is_not_accepted_by_the_api(world):
    response = signed_in(world.person("manage_data")).get(COLLECTIONS)
    assert response.status_code == 401 and response.json()["error"]["code"] == "missing_token"


def test_expired_tokens_and_deactivated_accounts_are_refused(world):
    user = world.person("manage_data")
    text = token_text(user, days=1)
    ApiToken.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    response = api(token=text).get(COLLECTIONS)
    assert response.status_code == 401 and response.json()["error"]["code"] == "token_expired"

    other = world.person("school_admin")
    text = token_text(other)
    other.is_active = False
    other.save()
    response = api(token=text).get(COLLECTIONS)
    assert response.status_code == 401 and response.json()["error"]["code"] == "account_disabled"


def test_a_token_has_exactly_its_owners_current_roles(world):
    collection = open_collection()
    user = world.person("manage_data")
    client = api(user)
    form = {"collection": collection.kind, "year": str(collection.year), "school": world.s1.dfe_number}
    assert (
        client.post("/api/v1/uploads", {**form, "file": upload_file(b"a,b\n1,2\n", "r.csv")}).status_code
        == 202
    )
    Membership.objects.filter(user=user).delete()  # the administrator removes the role
    refused = client.post("/api/v1/uploads", {**form, "file": upload_file(b"a,b\n1,2\n", "r.csv")})
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"
