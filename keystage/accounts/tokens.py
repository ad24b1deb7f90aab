"""Signed invitation links: tamper-evident, expiring, and single-use through the stored nonce."""

from __future__ import annotations

from django.conf import settings
from django.core import signing

from keystage.accounts import policy
from keystage.accounts.models import Invitation
from keystage.core.refusals import Refused
from keystage.core.roles import Action

_SALT = "keystage.accounts.invitation"


class InvitationLinkError(Refused):
    """A link that cannot be used; str() tells the person what to do."""


def invitation_token(invitation: Invitation) -> str:
    return signing.dumps({"i": invitation.pk, "n": invitation.nonce}, salt=_SALT, compress=True)


def invitation_from_token(token: str) -> Invitation:
    """The pending invitation behind a link, or InvitationLinkError saying why it cannot be used."""
    max_age = settings.KEYSTAGE_INVITATION_DAYS * 24 * 60 * 60
    try:
        data = signing.loads(token, salt=_SALT, max_age=max_age)
    except signing.SignatureExpired:
        raise InvitationLinkError(
            "This invitation has expired. Ask your administrator to send you a new one."
        ) from None
    except signing.BadSignature:
        raise InvitationLinkError(
            "This invitation link is not valid. Check you copied the whole link from the email, "
            "or ask your administrator to send a new one."
        ) from None
    invitation = (
        Invitation.objects.select_related("organisation", "invited_by")
        .filter(pk=data.get("i"), nonce=data.get("n"))
        .first()
    )
    if invitation is None:
        raise InvitationLinkError(
            "This invitation link has been replaced by a newer one or withdrawn. Use the latest email, "
            "or ask your administrator."
        )
    if invitation.accepted_at is not None:
        raise InvitationLinkError(
            "This invitation has already been used. Sign in with your email and password."
        )
    if invitation.cancelled_at is not None:
        raise InvitationLinkError("This invitation was cancelled by your administrator.")
    if not invitation.is_pending:
        raise InvitationLinkError(
            "This invitation has expired. Ask your administrator to send you a new one."
        )
    if invitation.invited_by is None or not policy.can(
        invitation.invited_by, Action.MANAGE_USERS, invitation.organisation
    ):
        raise InvitationLinkError(
            "The person who invited you no longer manages users here, so this invitation cannot be used. "
            "Ask an administrator to send you a new one."
        )
    return invitation
