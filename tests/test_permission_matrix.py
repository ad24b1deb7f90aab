"""Every page and action that exists, tried by every persona, own organisation and others'.

The expectations are written out by hand here, not derived from keystage.core.roles, so a change
to the role table that opens or closes a door shows up as a failing line.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

import pytest
from django.test import Client
from django.urls import URLResolver, get_resolver, resolve, reverse

from keystage.accounts.models import Invitation, Membership
from keystage.accounts.services import invite_user
from keystage.results.models import Collection
from keystage.returns.models import ReturnRound
from tests.authenticator import authenticator_for
from tests.conftest import PERSONAS, World, signed_in
from tests.results.conftest import open_collection
from tests.returns.conftest import open_round

ALL = set(PERSONAS)
S1_READERS = {
    "school_admin",
    "manage_data",
    "school_named",
    "school_anon",
    "governor",
    "trust_admin",
    "trust_named",
    "trust_anon",
    "la_data_officer",
    "la_named",
    "la_anon",
}
TRUST_READERS = {"trust_admin", "trust_named", "trust_anon"}
# Who reads School One's reports (VIEW_REPORTS), and who of them sees its pupils (VIEW_PUPIL_DATA).
S1_REPORT_READERS = {
    "school_named", "school_anon", "trust_admin", "trust_named", "trust_anon", "la_data_officer", "la_named",
    "la_anon",
}  # fmt: skip
S1_PUPIL_READERS = {"school_named", "trust_admin", "trust_named", "la_data_officer", "la_named"}
LA_READERS = {"la_data_officer", "la_named", "la_anon"}


@dataclass
class Case:
    name: str
    method: str
    url: Callable[[World], str]
    allowed: set[str]
    data: Callable[[World], dict] | None = None
    ok_status: int = 200


def _invitation(world: World) -> Invitation:
    admin = world.person("school_admin")
    invitation = Invitation.objects.filter(organisation=world.s1, email="pending@example.org").first()
    return invitation or invite_user(
        actor=admin,
        organisation=world.s1,
        email="pending@example.org",
        full_name="Pending",
        roles=["governor"],
    )


def _collection(world: World) -> Collection:
    return Collection.objects.filter(kind="phonics").first() or open_collection("phonics")


SUBMITTERS_FOR_S1 = {"manage_data", "trust_admin"}


def _round(world: World) -> ReturnRound:
    return ReturnRound.objects.filter(la=world.la).first() or open_round(world.la)


CASES = [
    Case(
        "organisation page: own school",
        "GET",
        lambda w: reverse("organisations:detail", args=[w.s1.pk]),
        S1_READERS,
    ),
    Case(
        "organisation page: trust",
        "GET",
        lambda w: reverse("organisations:detail", args=[w.trust.pk]),
        TRUST_READERS,
    ),
    Case(
        "organisation page: LA", "GET", lambda w: reverse("organisations:detail", args=[w.la.pk]), LA_READERS
    ),
    Case(
        "users of the school",
        "GET",
        lambda w: reverse("accounts:user_list", args=[w.s1.pk]),
        {"school_admin"},
    ),
    Case(
        "users of the trust",
        "GET",
        lambda w: reverse("accounts:user_list", args=[w.trust.pk]),
        {"trust_admin"},
    ),
    Case(
        "users of the LA", "GET", lambda w: reverse("accounts:user_list", args=[w.la.pk]), {"la_data_officer"}
    ),
    Case("invite form", "GET", lambda w: reverse("accounts:invite", args=[w.s1.pk]), {"school_admin"}),
    Case(
        "send an invitation",
        "POST",
        lambda w: reverse("accounts:invite", args=[w.s1.pk]),
        {"school_admin"},
        data=lambda w: {"full_name": "New Person", "email": "new@example.org", "roles": ["school_anon"]},
        ok_status=302,
    ),
    Case(
        "a user's roles",
        "GET",
        lambda w: reverse("accounts:edit_user", args=[w.s1.pk, w.person("school_named").pk]),
        {"school_admin"},
    ),
    Case(
        "change a user's roles",
        "POST",
        lambda w: reverse("accounts:edit_user", args=[w.s1.pk, w.person("school_named").pk]),
        {"school_admin"},
        data=lambda w: {"roles": ["school_named", "governor"]},
        ok_status=302,
    ),
    Case(
        "remove access page",
        "GET",
        lambda w: reverse("accounts:revoke_user", args=[w.s1.pk, w.person("governor").pk]),
        {"school_admin"},
    ),
    Case(
        "remove access",
        "POST",
        lambda w: reverse("accounts:revoke_user", args=[w.s1.pk, w.person("governor").pk]),
        {"school_admin"},
        ok_status=302,
    ),
    Case(
        "reset page for a user's two-factor sign-in",
        "GET",
        lambda w: reverse("accounts:reset_two_factor", args=[w.s1.pk, w.person("school_named").pk]),
        {"school_admin"},
    ),
    Case(
        "reset a user's two-factor sign-in",
        "POST",
        lambda w: (
            authenticator_for(w.person("school_named")),  # set up (again) before each try: a reset needs one
            reverse("accounts:reset_two_factor", args=[w.s1.pk, w.person("school_named").pk]),
        )[1],
        {"school_admin"},
        ok_status=302,
    ),
    Case(
        "re-send an invitation",
        "POST",
        lambda w: reverse("accounts:resend_invitation", args=[w.s1.pk, _invitation(w).pk]),
        {"school_admin"},
        ok_status=302,
    ),
    Case(
        "cancel an invitation",
        "POST",
        lambda w: reverse("accounts:cancel_invitation", args=[w.s1.pk, _invitation(w).pk]),
        {"school_admin"},
        ok_status=302,
    ),
    Case(
        "school audit log",
        "GET",
        lambda w: reverse("audit:organisation_log", args=[w.s1.pk]),
        {"school_admin"},
    ),
    Case(
        "trust audit log",
        "GET",
        lambda w: reverse("audit:organisation_log", args=[w.trust.pk]),
        {"trust_admin"},
    ),
    Case(
        "LA audit log",
        "GET",
        lambda w: reverse("audit:organisation_log", args=[w.la.pk]),
        {"la_data_officer"},
    ),
    Case(
        "results service homepage",
        "GET",
        lambda w: reverse("results:service_home", args=[_collection(w).pk, w.s1.pk]),
        S1_READERS,
    ),
    Case(
        "get template",
        "GET",
        lambda w: reverse("results:get_template", args=[_collection(w).pk, w.s1.pk]),
        SUBMITTERS_FOR_S1,
    ),
    Case(
        "upload page",
        "GET",
        lambda w: reverse("results:upload", args=[_collection(w).pk, w.s1.pk]),
        SUBMITTERS_FOR_S1,
    ),
    Case(
        "trust bulk upload",
        "GET",
        lambda w: reverse("results:bulk_upload", args=[w.trust.pk]),
        {"trust_admin"},
    ),
    Case("results collections", "GET", lambda w: reverse("results:index"), ALL),
    Case("school's LA returns", "GET", lambda w: reverse("returns:school", args=[w.s1.pk]), S1_READERS),
    Case(
        "send a file to the LA",
        "GET",
        lambda w: (_round(w), reverse("returns:send", args=[w.s1.pk]))[1],
        SUBMITTERS_FOR_S1,
    ),
    Case(
        "head teacher's confirmation",
        "GET",
        lambda w: reverse("returns:confirm", args=[w.s1.pk, _round(w).pk]),
        {"school_named"},
    ),
    Case("LA returns rounds", "GET", lambda w: reverse("returns:la", args=[w.la.pk]), {"la_data_officer"}),
    Case(
        "an LA round",
        "GET",
        lambda w: reverse("returns:round", args=[w.la.pk, _round(w).pk]),
        {"la_data_officer"},
    ),
    Case("manage uploads", "GET", lambda w: reverse("results:history"), ALL),
    Case("home page", "GET", lambda w: reverse("web:home"), ALL),
    Case("health", "GET", lambda w: reverse("web:healthz"), ALL),
    Case("reports index", "GET", lambda w: reverse("reports:index"), ALL),
    Case("glossary", "GET", lambda w: reverse("reports:glossary"), ALL),
    # Report pages check the role before they look for figures: with none stored, the people allowed
    # are told there are none (404), the rest are refused (403).
    Case(
        "school's KS4 summary",
        "GET",
        lambda w: reverse("reports:dashboard", args=[w.s1.pk, "ks4", 2026]),
        S1_REPORT_READERS | {"governor"},
        ok_status=404,
    ),
    Case(
        "school's pupil list",
        "GET",
        lambda w: reverse("reports:pupils", args=[w.s1.pk, "ks4", 2026]),
        S1_PUPIL_READERS,
        ok_status=404,
    ),
    *(
        Case(
            f"school's KS4 {page}",
            "GET",
            lambda w, page=page: reverse(f"reports:{page}", args=[w.s1.pk, "ks4", 2026]),
            S1_REPORT_READERS,
            ok_status=404,
        )
        for page in ("explore", "scatter", "subjects", "inspection")
    ),
    Case(
        "a pupil's KS4 figures",
        "GET",
        lambda w: reverse("reports:pupil", args=[w.s1.pk, "ks4", 2026, "A800200115001"]),
        S1_PUPIL_READERS,
        ok_status=404,
    ),
    Case(
        "trust's schools side by side",
        "GET",
        lambda w: reverse("reports:schools", args=[w.trust.pk, "ks4", 2026]),
        TRUST_READERS,
        ok_status=404,
    ),
    Case("how the estimates are made", "GET", lambda w: reverse("estimates:national"), ALL),
    Case(
        "school's estimates",
        "GET",
        lambda w: reverse("estimates:school", args=[w.s1.pk]),
        S1_REPORT_READERS,
        ok_status=404,
    ),
    Case(
        "a pupil's estimates",
        "GET",
        lambda w: reverse("estimates:pupil", args=[w.s1.pk, "A800200115001"]),
        S1_PUPIL_READERS,
        ok_status=404,
    ),
    Case(
        "export a pupil's data (subject access)",
        "GET",
        lambda w: reverse("privacy:subject_access", args=[w.s1.pk]),
        S1_PUPIL_READERS | {"manage_data"},
    ),
    Case(
        "fit estimates",
        "POST",
        lambda w: reverse("estimates:request_fit"),
        set(),  # platform staff only: no organisation role
        data=lambda w: {"years": "2026"},
    ),
]

# Named URLs whose allow-or-refuse is tested where their objects are made (an upload, a return file, a
# PDF export, a token ...), each with the file that does it. A new URL must go in CASES or here.
TESTED_ELSEWHERE = {
    "accounts:login": "tests/accounts (signing in)",
    "accounts:logout": "tests/accounts (signing out)",
    "accounts:accept_invitation": "tests/accounts (a signed, expiring token instead of a role)",
    # Forgotten passwords: for people signed out; a signed, single-use link instead of a role.
    "accounts:forgotten_password": "tests/accounts/test_password_reset.py",
    "accounts:reset_sent": "tests/accounts/test_password_reset.py",
    "accounts:reset_password": "tests/accounts/test_password_reset.py",
    "api:validate_result": "tests/api/test_validate_limits.py (only the sender reads a check)",
    # A person's own two-factor pages: no organisation, only their own devices.
    "accounts:two_factor_verify": "tests/accounts/test_two_factor.py",
    "accounts:two_factor_recovery": "tests/accounts/test_two_factor.py",
    "accounts:two_factor_setup": "tests/accounts/test_two_factor.py",
    "accounts:two_factor": "tests/accounts/test_two_factor.py",
    "accounts:two_factor_recovery_codes": "tests/accounts/test_two_factor.py",
    "accounts:two_factor_renew_codes": "tests/accounts/test_two_factor.py",
    "results:upload_detail": "tests/test_permission_matrix_objects.py (every persona)",
    "results:upload_status": "tests/test_permission_matrix_objects.py (every persona)",
    "results:confirm": "tests/test_permission_matrix_objects.py (every persona)",
    "results:delete": "tests/test_permission_matrix_objects.py (every persona)",
    "results:download_file": "tests/test_permission_matrix_objects.py (every persona)",
    "results:download_errors": "tests/results/test_pages.py",
    "results:ctf_download": "tests/results/test_ctf_export.py (other organisations and roles refused)",
    "results:ctf_send": "tests/returns/test_ctf_export.py (other organisations and roles refused)",
    "results:bulk_batch": "tests/results/test_pages.py",
    "results:bulk_batch_status": "tests/results/test_pages.py",
    "returns:checking": "tests/test_permission_matrix_objects.py (every persona)",
    "returns:return_detail": "tests/test_permission_matrix_objects.py (every persona)",
    "returns:return_download": "tests/test_permission_matrix_objects.py (every persona)",
    "returns:report_download": "tests/test_permission_matrix_objects.py (every persona)",
    "returns:open_round": "tests/test_permission_matrix_objects.py (every persona)",
    "returns:round_school": "tests/test_permission_matrix_objects.py (every persona)",
    "returns:request_correction": "tests/test_permission_matrix_objects.py (every persona)",
    "returns:accept": "tests/returns/test_pages.py",
    "returns:check_again": "tests/returns/test_pages.py",
    "returns:publish": "tests/returns/test_pages.py",
    "reports:export": "tests/reports/test_pdf.py",
    "reports:export_download": "tests/reports/test_pdf.py",
    "reports:summaries": "tests/reports/test_summaries.py",
    "reports:publish_summaries": "tests/reports/test_summaries.py",
    "api:openapi": "tests/api/test_openapi.py",
    "api:collections": "tests/test_permission_matrix_api.py (every persona's token)",
    "api:validate": "tests/test_permission_matrix_api.py (every persona's token)",
    "api:uploads": "tests/test_permission_matrix_api.py (every persona's token)",
    "api:upload": "tests/test_permission_matrix_api.py (every persona's token)",
    "api:confirm": "tests/test_permission_matrix_api.py (every persona's token)",
    "api:error_workbook": "tests/test_permission_matrix_api.py (every persona's token)",
    "api:upload_results": "tests/test_permission_matrix_api.py (every persona's token)",
    "api:school_measures": "tests/test_permission_matrix_api.py (every persona's token)",
    "api:school_estimates": "tests/test_permission_matrix_api.py (every persona's token)",
    "api:not_found": "tests/api/test_endpoints.py",
    "api_tokens:list": "tests/api/test_tokens.py",
    "api_tokens:create": "tests/api/test_tokens.py",
    "api_tokens:revoke": "tests/api/test_tokens.py",
}


def _request(client: Client, case: Case, world: World):
    url = case.url(world)
    if case.method == "POST":
        return client.post(url, case.data(world) if case.data else {})
    return client.get(url)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_every_persona_is_allowed_or_refused_as_written(world, case):
    wrong = []
    for persona in sorted(ALL):
        snapshot = list(Membership.objects.values_list("user_id", "organisation_id", "role"))
        response = _request(signed_in(world.person(persona)), case, world)
        expected = case.ok_status if persona in case.allowed else 403
        if response.status_code != expected:
            wrong.append(f"{persona}: got {response.status_code}, expected {expected}")
        if persona not in case.allowed:
            # A refused request changes nothing.
            assert list(Membership.objects.values_list("user_id", "organisation_id", "role")) == snapshot
            assert b"You do not have permission" in response.content
        elif case.method == "POST" and "remove" in case.name:
            Membership.objects.get_or_create(
                user=world.person("governor"), organisation=world.s1, role="governor"
            )
        elif case.method == "POST" and case.name == "send an invitation":
            Invitation.objects.filter(email="new@example.org").delete()
    assert not wrong, f"{case.name}:\n" + "\n".join(wrong)


@pytest.mark.parametrize(
    "case", [c for c in CASES if c.name not in {"home page", "health"}], ids=lambda c: c.name
)
def test_signed_out_visitors_are_sent_to_sign_in(world, case):
    response = _request(Client(), case, world)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:login"))


def _view_names(patterns, namespace: str | None = None):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            if pattern.namespace == "admin":
                continue
            yield from _view_names(pattern.url_patterns, pattern.namespace or namespace)
        elif pattern.name:
            yield f"{namespace}:{pattern.name}" if namespace else pattern.name


def test_every_named_url_is_in_the_matrix_or_tested_where_its_objects_are_made(world):
    in_matrix = {resolve(urlsplit(case.url(world)).path).view_name for case in CASES}
    every = set(_view_names(get_resolver().url_patterns))
    missing = every - in_matrix - set(TESTED_ELSEWHERE)
    assert not missing, f"add these to CASES (or TESTED_ELSEWHERE, with the test that covers them): {missing}"
    assert not (set(TESTED_ELSEWHERE) - every), "TESTED_ELSEWHERE names a URL that no longer exists"
    assert not (in_matrix & set(TESTED_ELSEWHERE)), "a URL in the matrix need not be listed as elsewhere"


def test_organisations_that_do_not_exist_are_404_not_500(world):
    client = signed_in(world.person("school_admin"))
    for url in (
        reverse("organisations:detail", args=[999999]),
        reverse("accounts:user_list", args=[999999]),
        reverse("audit:organisation_log", args=[999999]),
        reverse("accounts:edit_user", args=[world.s1.pk, 999999]),
    ):
        response = client.get(url)
        assert response.status_code == 404, url
        assert b"Page not found" in response.content


def test_an_administrator_cannot_edit_someone_outside_their_organisation(world):
    """Editing a user who exists, but not in my school, by guessing their id: not found."""
    client = signed_in(world.person("school_admin"))
    outsider = world.person("other_school_named")
    assert client.get(reverse("accounts:edit_user", args=[world.s1.pk, outsider.pk])).status_code == 404
    response = client.post(
        reverse("accounts:edit_user", args=[world.s1.pk, outsider.pk]), {"roles": ["governor"]}
    )
    assert response.status_code == 404
    assert not Membership.objects.filter(user=outsider, organisation=world.s1).exists()


def test_platform_admin_is_for_staff_only(world, django_user_model):
    for persona in ("school_admin", "trust_admin", "la_data_officer"):
        response = signed_in(world.person(persona)).get("/admin/", follow=True)
        assert response.status_code == 403
    response = Client().get("/admin/", follow=True)
    assert response.redirect_chain[-1][0].startswith(reverse("accounts:login"))
    staff = django_user_model.objects.create_superuser(
        "staff@example.org", "x-very-long-password", full_name="S"
    )
    assert signed_in(staff).get("/admin/").status_code == 200
    assert signed_in(staff).get("/admin/organisations/school/").status_code == 200
