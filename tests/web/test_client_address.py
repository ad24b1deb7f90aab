"""The address recorded in the audit log and used for throttling, directly and behind a proxy."""

from django.test import RequestFactory

from keystage.audit.log import client_address


def test_without_a_trusted_proxy_the_forwarded_header_is_ignored(settings):
    settings.KEYSTAGE_TRUSTED_PROXIES = frozenset()
    request = RequestFactory().get("/", REMOTE_ADDR="203.0.113.9", HTTP_X_FORWARDED_FOR="1.2.3.4")
    assert client_address(request) == "203.0.113.9"


def test_behind_a_trusted_proxy_the_client_is_the_nearest_untrusted_hop(settings):
    settings.KEYSTAGE_TRUSTED_PROXIES = frozenset({"10.0.0.2", "10.0.0.3"})
    # The client claims to be 1.2.3.4; our proxies saw it connect from 198.51.100.7.
    request = RequestFactory().get(
        "/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="1.2.3.4, 198.51.100.7, 10.0.0.3"
    )
    assert client_address(request) == "198.51.100.7"


def test_forwarded_addresses_with_ports_or_junk_are_read_safely(settings):
    settings.KEYSTAGE_TRUSTED_PROXIES = frozenset({"10.0.0.2"})
    factory = RequestFactory()
    with_port = factory.get("/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="203.0.113.5:51234")
    assert client_address(with_port) == "203.0.113.5"
    ipv6 = factory.get("/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="[2001:db8::1]:443")
    assert client_address(ipv6) == "2001:db8::1"
    junk = factory.get("/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="<script>, unknown")
    assert client_address(junk) == "10.0.0.2"


def test_a_sign_in_behind_a_proxy_with_a_port_in_the_header_is_recorded_not_a_500(world, password, settings):
    from django.test import Client

    from keystage.audit.models import AuditEvent

    settings.KEYSTAGE_TRUSTED_PROXIES = frozenset({"127.0.0.1"})
    response = Client().post(
        "/sign-in/",
        {"email": world.person("governor").email, "password": password},
        HTTP_X_FORWARDED_FOR="203.0.113.5:51234",
    )
    assert response.status_code == 302
    assert AuditEvent.objects.filter(actor=world.person("governor")).latest("id").ip_address == "203.0.113.5"
