"""Background work of the accounts app, run by `keystage worker`."""

from __future__ import annotations

from django.conf import settings
from django.core.mail import send_mail
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django_tasks import task

from keystage.accounts.models import Invitation
from keystage.accounts.tokens import invitation_token
from keystage.core.roles import Role


@task()
def send_invitation_email(invitation_id: int, nonce: str) -> str:
    """Email the invitation link. A re-sent or cancelled invitation's older email is not sent."""
    invitation = Invitation.objects.select_related("organisation", "invited_by").get(pk=invitation_id)
    if invitation.nonce != nonce or not invitation.is_pending:
        return "skipped: invitation no longer pending"
    link = settings.KEYSTAGE_BASE_URL.rstrip("/") + reverse(
        "accounts:accept_invitation", args=[invitation_token(invitation)]
    )
    context = {
        "invitation": invitation,
        "link": link,
        "roles": [Role(r).label for r in invitation.roles],
        "inviter": invitation.invited_by.full_name if invitation.invited_by else "An administrator",
    }
    send_mail(
        subject=f"You have been invited to keystage for {invitation.organisation.name}",
        message=render_to_string("accounts/email/invitation.txt", context),
        from_email=None,
        recipient_list=[invitation.email],
    )
    Invitation.objects.filter(pk=invitation.pk).update(emailed_at=timezone.now())
    return f"sent to {invitation.email}"


@task()
def send_password_reset_email(user_id: int) -> str:
    """Email a reset link. Made here, not when asked, so no token waits in the queue's table."""
    from keystage.accounts.models import User
    from keystage.accounts.password_reset import link_parts

    user = User.objects.filter(pk=user_id, is_active=True).first()
    if user is None:
        return "skipped: no such active account"
    uidb64, token = link_parts(user)
    link = settings.KEYSTAGE_BASE_URL.rstrip("/") + reverse("accounts:reset_password", args=[uidb64, token])
    minutes = settings.PASSWORD_RESET_TIMEOUT // 60
    send_mail(
        subject="Reset your keystage password",
        message=render_to_string(
            "accounts/email/password_reset.txt", {"user": user, "link": link, "minutes": minutes}
        ),
        from_email=None,
        recipient_list=[user.email],
    )
    return f"sent to {user.email}"
