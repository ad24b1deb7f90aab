"""Shared fixtures: a small world of organisations and a person for every role in it.

World:
    LA "home" (800)                       LA "away" (801)
      trust T: schools S1 (own), S2          trust T2: school S5
      school S3 (maintained, no trust)        school S4 (maintained)
Personas hold their role in S1 (school roles), T (trust roles) or the home LA (LA roles);
"other_*" personas hold roles elsewhere and must be refused everywhere in S1/T/home LA.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import pytest
from django.test import Client

from keystage.accounts.models import User
from keystage.core.roles import Role
from keystage.organisations.models import LocalAuthority, School, Trust
from tests.authenticator import give_code
from tests.factories import PASSWORD, LocalAuthorityFactory, SchoolFactory, TrustFactory, member

os.environ.setdefault("KEYSTAGE_DEMO_BACKGROUND", "small")  # the demo in tests: quick to work out
# Playwright's sync API runs an event loop in the test thread; Django's DB calls there are safe.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@dataclass
class World:
    la: LocalAuthority
    trust: Trust
    s1: School
    s2: School
    s3: School
    away_la: LocalAuthority
    away_trust: Trust
    s4: School
    s5: School
    people: dict[str, User]

    def person(self, name: str) -> User:
        return self.people[name]


# Every persona: name -> (role, where). "where" names a World attribute.
PERSONAS: dict[str, tuple[Role, str]] = {
    "school_admin": (Role.SCHOOL_ADMIN, "s1"),
    "manage_data": (Role.MANAGE_DATA, "s1"),
    "school_named": (Role.SCHOOL_NAMED, "s1"),
    "school_anon": (Role.SCHOOL_ANON, "s1"),
    "governor": (Role.GOVERNOR, "s1"),
    "trust_admin": (Role.TRUST_ADMIN, "trust"),
    "trust_named": (Role.TRUST_NAMED, "trust"),
    "trust_anon": (Role.TRUST_ANON, "trust"),
    "la_data_officer": (Role.LA_DATA_OFFICER, "la"),
    "la_named": (Role.LA_NAMED, "la"),
    "la_anon": (Role.LA_ANON, "la"),
    # Same roles, other organisations: a school in the same LA, another trust, another LA.
    "other_school_admin": (Role.SCHOOL_ADMIN, "s3"),
    "other_school_named": (Role.SCHOOL_NAMED, "s3"),
    "other_trust_admin": (Role.TRUST_ADMIN, "away_trust"),
    "other_trust_named": (Role.TRUST_NAMED, "away_trust"),
    "other_la_data_officer": (Role.LA_DATA_OFFICER, "away_la"),
    "other_la_named": (Role.LA_NAMED, "away_la"),
}


@pytest.fixture
def world(db: None) -> World:
    return make_world()


def make_world() -> World:
    """The world's organisations and people, made in the database (open to the caller)."""
    la = LocalAuthorityFactory(code="800", name="Home Authority")
    away_la = LocalAuthorityFactory(code="801", name="Away Authority")
    trust = TrustFactory(name="Home Trust")
    away_trust = TrustFactory(name="Away Trust")
    s1 = SchoolFactory(name="School One", la=la, trust=trust, urn="100001", dfe_number="8004001")
    s2 = SchoolFactory(
        name="School Two", la=la, trust=trust, urn="100002", dfe_number="8002001", phase="primary"
    )
    s3 = SchoolFactory(
        name="School Three", la=la, trust=None, urn="100003", dfe_number="8002002", school_type="maintained"
    )
    s4 = SchoolFactory(name="School Four", la=away_la, trust=None, urn="100004", dfe_number="8014001")
    s5 = SchoolFactory(name="School Five", la=away_la, trust=away_trust, urn="100005", dfe_number="8014002")
    places = {"la": la, "away_la": away_la, "trust": trust, "away_trust": away_trust, "s1": s1, "s3": s3}
    people = {
        name: member(
            role.value,
            places[where],
            email=f"{name.replace('_', '-')}@example.org",
            full_name=name.replace("_", " ").title(),
        )
        for name, (role, where) in PERSONAS.items()
    }
    return World(la, trust, s1, s2, s3, away_la, away_trust, s4, s5, people)


def signed_in(user: User) -> Client:
    """A client signed in as the person, having given a two-factor code if they owe one."""
    client = Client()
    client.force_login(user)
    return give_code(client, user)


@pytest.fixture
def password() -> str:
    return PASSWORD


class ThrottleClock:
    """The sign-in throttle's clock, moved on by hand: a test waits out a slow-down at once."""

    def __init__(self) -> None:
        from django.utils import timezone

        self.now = timezone.now()

    def __call__(self):
        return self.now

    def wait(self, seconds: float) -> None:
        from datetime import timedelta

        self.now += timedelta(seconds=seconds)


@pytest.fixture
def throttle_clock(monkeypatch) -> ThrottleClock:
    clock = ThrottleClock()
    monkeypatch.setattr("keystage.accounts.throttle._now", clock)
    return clock


@pytest.fixture(autouse=True)
def _static_files_without_collectstatic(settings, tmp_path_factory):
    """Tests render pages from a fresh checkout, before any collectstatic: unhashed static names.
    What a test does collect goes to its own folder, never the checkout's var/static."""
    settings.STATIC_ROOT = tmp_path_factory.mktemp("static")
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """Argon2 is the real hasher (tests/accounts/test_sign_in.py checks it); most tests need speed."""
    settings.PASSWORD_HASHERS = [
        "django.contrib.auth.hashers.MD5PasswordHasher",
        *settings.PASSWORD_HASHERS,
    ]


@pytest.fixture(autouse=True)
def _nothing_kept_between_tests():
    """What the cache keeps is keyed by primary keys, which a test database hands out again."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


# Fitting estimates takes seconds per outcome, and many tests fit the same deterministic national
# sample: each distinct fit is done once per test process and handed out again. The key is the
# whole input (outcome, every row of the data, contextual or not), so any other data is fitted
# afresh; tests of the fit itself (tests/core/estimates) and tests that change the model
# (marked fit_afresh) always fit for real.
_FITS: dict[tuple[str, str, bool], object] = {}


@pytest.fixture(autouse=True)
def _each_estimates_fit_once(request, monkeypatch):
    in_core = "tests/core/" in str(request.node.path).replace(os.sep, "/")
    if in_core or request.node.get_closest_marker("fit_afresh"):
        yield
        return
    import hashlib
    import io

    from keystage.core.estimates import engine

    real_fit = engine.fit_outcome

    def fit_once(data, *, contextual=False):
        buffer = io.BytesIO()
        data.frame.write_ipc(buffer)
        key = (data.key + repr(data.outcome), hashlib.sha256(buffer.getvalue()).hexdigest(), bool(contextual))
        if key not in _FITS:
            _FITS[key] = real_fit(data, contextual=contextual)
        return _FITS[key]

    monkeypatch.setattr(engine, "fit_outcome", fit_once)
    yield


def pytest_report_header(config):
    """Say which database the suite runs on, so CI's log shows SQLite and PostgreSQL runs apart."""
    from django.conf import settings

    engine = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
    return f"database: {engine} (DATABASE_URL {'set' if os.environ.get('DATABASE_URL') else 'not set'})"
