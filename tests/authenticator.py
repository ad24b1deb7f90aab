"""An authenticator app for tests: a confirmed device per person and the code it shows now.

Tests sign people in as they really are signed in, two-factor included: signed_in() gives a session
that has given a code (as django_otp.login records it), and the browser types a real code.
"""

from __future__ import annotations

import time
from datetime import timedelta

from django.test import Client
from django.utils import timezone
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.oath import totp
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from keystage.accounts import two_factor
from keystage.accounts.models import User


def owes_a_code(user: User) -> bool:
    """Whether signing this person in asks for a code (read afresh: no roles cached on their object)."""
    fresh = User.objects.get(pk=user.pk)
    return two_factor.required_for(fresh) or two_factor.is_set_up(fresh)


def authenticator_for(user: User) -> TOTPDevice:
    """The person's authenticator, set up now if they have none."""
    device = two_factor.authenticator(user)
    return device or TOTPDevice.objects.create(user=user, name=two_factor.AUTHENTICATOR_NAME, confirmed=True)


def code_now(device: TOTPDevice) -> str:
    """The code the app shows now, or the next one if this one was used (each works once)."""
    device.refresh_from_db()
    now = (int(time.time()) - device.t0) // device.step + device.drift
    for ahead in (0, 1):  # the server accepts one step either side of its clock
        if now + ahead > device.last_t:
            code = totp(device.bin_key, device.step, device.t0, device.digits, device.drift + ahead)
            return f"{code:0{device.digits}d}"
    # The same person signed in twice already within these 30 seconds; a person would wait for the
    # next code. A test need not: forget that the current one was used.
    TOTPDevice.objects.filter(pk=device.pk).update(last_t=now - 1)
    return code_now(device)


def give_code(client: Client, user: User) -> Client:
    """Mark the client's session as having given a code from the person's authenticator."""
    if owes_a_code(user):
        session = client.session
        session[DEVICE_ID_SESSION_KEY] = authenticator_for(user).persistent_id
        session.save()
    return client


def wait_out_the_pause(user: User) -> None:
    """As if the person took a moment before retyping: django-otp pauses a device for 1, 2, 4…
    seconds after each wrong code."""
    long_ago = timezone.now() - timedelta(hours=1)
    for model in (TOTPDevice, StaticDevice):
        model.objects.filter(user=user, throttling_failure_count__gt=0).update(
            throttling_failure_timestamp=long_ago
        )
