"""The site around the pages: health, error pages, security headers and the start page."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from keystage.web.models import WorkerHeartbeat
from tests.conftest import signed_in


def test_healthz_reports_the_database_and_a_missing_worker(db):
    response = Client().get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["database"]["ok"] is True
    assert body["worker"]["ok"] is False and body["worker"]["alive"] == 0
    assert body["status"] == "degraded"


def test_healthz_is_ok_with_a_live_worker_and_degraded_when_its_heartbeat_is_stale(db, settings):
    now = timezone.now()
    beat = WorkerHeartbeat.objects.create(worker_id="w1", hostname="h", pid=1, started_at=now, last_seen=now)
    assert Client().get("/healthz").json()["status"] == "ok"
    beat.last_seen = now - timedelta(seconds=settings.KEYSTAGE_WORKER_STALE_SECONDS + 5)
    beat.save()
    body = Client().get("/healthz").json()
    assert body["status"] == "degraded" and body["worker"]["last_seen_seconds"] >= 60


def test_healthz_is_503_when_the_database_is_down(db, monkeypatch):
    from keystage.web import views

    def broken():
        return {"ok": False, "engine": "sqlite", "error": "OperationalError"}

    monkeypatch.setattr(views, "_database_status", broken)
    response = Client().get("/healthz")
    assert response.status_code == 503 and response.json()["status"] == "down"


def test_the_start_page_invites_signing_in(db):
    page = Client().get("/").content.decode()
    assert "Assessment results for schools, trusts and local authorities" in page
    assert 'href="/sign-in/"' in page


def test_every_page_has_a_content_security_policy_and_safe_headers(world):
    for client, url in ((Client(), "/"), (signed_in(world.person("school_admin")), "/")):
        response = client.get(url)
        csp = response["Content-Security-Policy"]
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp and "object-src 'none'" in csp
        assert "'unsafe-inline'" not in csp
        assert response["X-Frame-Options"] == "DENY"
        assert response["X-Content-Type-Options"] == "nosniff"
        assert response["Referrer-Policy"] == "same-origin"
        assert "camera=()" in response["Permissions-Policy"]
    signed = signed_in(world.person("school_admin")).get("/")
    assert signed["Cache-Control"] == "no-store"


def test_the_inline_script_carries_the_nonce_the_policy_allows(db):
    response = Client().get("/")
    nonce = response["Content-Security-Policy"].split("'nonce-")[1].split("'")[0]
    assert f'<script nonce="{nonce}">' in response.content.decode()


def test_cookies_are_http_only_and_same_site(world, password):
    response = Client().post("/sign-in/", {"email": world.person("governor").email, "password": password})
    cookie = response.cookies["sessionid"]
    assert cookie["httponly"] and cookie["samesite"] == "Lax"


def test_unknown_pages_get_the_styled_404(db):
    response = Client().get("/no-such-page/")
    assert response.status_code == 404
    content = response.content.decode()
    assert "Page not found" in content and "govuk-header" in content


def test_a_crash_shows_the_styled_500_page_without_details(db, settings):
    from keystage.web.views import server_error

    response = server_error(Client().get("/").wsgi_request)
    assert response.status_code == 500
    content = response.content.decode()
    assert "Sorry, there is a problem with the service" in content
    assert "Traceback" not in content


def test_bad_request_handler_renders_the_styled_400(db):
    from django.test import RequestFactory

    from keystage.web.views import bad_request

    response = bad_request(RequestFactory().get("/"))
    assert response.status_code == 400
    assert b"Sorry, there is a problem with your request" in response.content


def test_navigation_follows_the_roles(world):
    admin_nav = signed_in(world.person("school_admin")).get("/").content.decode()
    assert "Manage users" in admin_nav and "Audit log" in admin_nav
    teacher_nav = signed_in(world.person("school_anon")).get("/").content.decode()
    assert "Manage users" not in teacher_nav and "Audit log" not in teacher_nav
    assert "Platform admin" not in admin_nav


@pytest.mark.parametrize("persona", ["trust_named", "la_anon"])
def test_trust_and_la_people_see_their_schools_listed(world, persona):
    org = world.trust if persona.startswith("trust") else world.la
    page = (
        signed_in(world.person(persona)).get(reverse("organisations:detail", args=[org.pk])).content.decode()
    )
    assert "School One" in page and "School Two" in page
    assert "School Four" not in page and "School Five" not in page
