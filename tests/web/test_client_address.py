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
