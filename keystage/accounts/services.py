"""What people do to accounts and roles: one function per action.

Each checks the permission, owns its transaction, writes the audit record and queues any
follow-up work (emails) to run after the commit.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from keystage.accounts import policy
from keystage.accounts.models import Invitation, Membership, User, normalise_email
from keystage.accounts.tasks import send_invitation_email
from keystage.audit.log import record
from keystage.audit.models import AuditAction
from keystage.core.roles import Action, Role, parse_roles
from keystage.organisations.models import Organisation


class ActionRefusedError(Exception):
    """A request that cannot be carried out as asked; str() is a message for the person."""


def _roles_for(organisation: Organisation, roles: Sequence[str | Role]) -> list[Role]:
    try:
        parsed = parse_roles([str(r) for r in roles], organisation.org_kind)
    except ValueError as error:
        raise ActionRefusedError(str(error)) from None
    if not parsed:
        raise ActionRefusedError("Select at least one role.")
    return parsed


def _queue_email(invitation: Invitation) -> None:
    nonce = invitation.nonce
    transaction.on_commit(lambda: send_invitation_email.enqueue(invitation.pk, nonce))


def pending_invitation(organisation: Organisation, email: str) -> Invitation | None:
    return (
        Invitation.objects.filter(
            organisation=organisation,
            email=normalise_email(email),
            accepted_at__isnull=True,
            cancelled_at__isnull=True,
            expires_at__gt=timezone.now(),
        )
        .order_by("-created_at")
        .first()
    )


def invite_user(
    *,
    actor: User,
    organisation: Organisation,
    email: str,
    full_name: str,
    roles: Sequence[str | Role],
    ip_address: str | None = None,
) -> Invitation:
    """Invite a person, by email, to take up roles in the organisation."""
    policy.require(actor, Action.MANAGE_USERS, organisation)
    email = normalise_email(email)
    parsed = _roles_for(organisation, roles)
    if Membership.objects.filter(organisation=organisation, user__email=email).exists():
        raise ActionRefusedError(
            f"{email} already has access to {organisation.name}. "
            "Change their roles from the user list instead."
        )
    if pending_invitation(organisation, email) is not None:
        raise ActionRefusedError(
            f"{email} has already been invited to {organisation.name}. Re-send or cancel that invitation "
            "from the user list."
        )
    with transaction.atomic():
        invitation = Invitation.objects.create(
            email=email,
            full_name=full_name.strip(),
            organisation=organisation,
            roles=[r.value for r in parsed],
            invited_by=actor,
            expires_at=timezone.now() + timedelta(days=settings.KEYSTAGE_INVITATION_DAYS),
        )
        record(
            AuditAction.INVITATION_SENT,
            actor=actor,
            organisation=organisation,
            subject=email,
            ip_address=ip_address,
            roles=[r.value for r in parsed],
        )
        _queue_email(invitation)
    return invitation


def _require_manages_invitation(actor: User, organisation: Organisation, invitation: Invitation) -> None:
    policy.require(actor, Action.MANAGE_USERS, organisation)
    if invitation.organisation_id != organisation.pk:
        raise ActionRefusedError("That invitation is not for this organisation.")


def resend_invitation(
    *, actor: User, organisation: Organisation, invitation: Invitation, ip_address: str | None = None
) -> Invitation:
    """Send a pending or expired invitation again with a fresh link; older links stop working."""
    _require_manages_invitation(actor, organisation, invitation)
    if invitation.accepted_at is not None or invitation.cancelled_at is not None:
        raise ActionRefusedError("That invitation has already been accepted or cancelled.")
    with transaction.atomic():
        invitation.nonce = Invitation._meta.get_field("nonce").get_default()
        invitation.expires_at = timezone.now() + timedelta(days=settings.KEYSTAGE_INVITATION_DAYS)
        invitation.emailed_at = None
        invitation.save(update_fields=["nonce", "expires_at", "emailed_at"])
        record(
            AuditAction.INVITATION_RESENT,
            actor=actor,
            organisation=organisation,
            subject=invitation.email,
            ip_address=ip_address,
        )
        _queue_email(invitation)
    return invitation


def cancel_invitation(
    *, actor: User, organisation: Organisation, invitation: Invitation, ip_address: str | None = None
) -> None:
    _require_manages_invitation(actor, organisation, invitation)
    if invitation.accepted_at is not None:
        raise ActionRefusedError(
            "That invitation has already been accepted; remove the user's access instead."
        )
    with transaction.atomic():
        updated = Invitation.objects.filter(pk=invitation.pk, cancelled_at__isnull=True).update(
            cancelled_at=timezone.now()
        )
        if updated:
            record(
                AuditAction.INVITATION_CANCELLED,
                actor=actor,
                organisation=organisation,
                subject=invitation.email,
                ip_address=ip_address,
            )


def accept_invitation(
    *,
    invitation: Invitation,
    user: User | None,
    full_name: str = "",
    password: str = "",
    ip_address: str | None = None,
) -> User:
    """Take up the invitation's roles: as the signed-in user, or as a new account with this password.

    Safe against a double click: the invitation row is locked and a second acceptance is refused.
    """
    with transaction.atomic():
        locked = Invitation.objects.select_for_update().get(pk=invitation.pk)
        if not locked.is_pending or locked.nonce != invitation.nonce:
            raise ActionRefusedError("This invitation has already been used, cancelled or replaced.")
        if user is None:
            if User.objects.filter(email=locked.email).exists():
                raise ActionRefusedError("An account with this email already exists. Sign in to accept.")
            candidate = User(email=locked.email, full_name=full_name.strip() or locked.full_name)
            try:
                validate_password(password, candidate)
            except ValidationError as error:
                raise ActionRefusedError(" ".join(error.messages)) from None
            candidate.set_password(password)
            try:
                with transaction.atomic():
                    candidate.save()
            except IntegrityError:
                raise ActionRefusedError(
                    "An account with this email already exists. Sign in to accept."
                ) from None
            user = candidate
        elif normalise_email(user.email) != locked.email:
            raise ActionRefusedError(
                f"This invitation is for {locked.email}, but you are signed in as {user.email}. "
                "Sign out, then open the link again."
            )
        for role in locked.role_list:
            Membership.objects.get_or_create(
                user=user,
                organisation=locked.organisation,
                role=role.value,
                defaults={"granted_by": locked.invited_by},
            )
        locked.accepted_at = timezone.now()
        locked.accepted_by = user
        locked.save(update_fields=["accepted_at", "accepted_by"])
        record(
            AuditAction.INVITATION_ACCEPTED,
            actor=user,
            organisation=locked.organisation,
            subject=user.email,
            ip_address=ip_address,
            roles=locked.roles,
        )
    policy.forget_roles(user)
    return user


def change_roles(
    *,
    actor: User,
    organisation: Organisation,
    user: User,
    roles: Sequence[str | Role],
    ip_address: str | None = None,
) -> list[Role]:
    """Set exactly these roles for the user in the organisation."""
    policy.require(actor, Action.MANAGE_USERS, organisation)
    wanted = _roles_for(organisation, roles)
    with transaction.atomic():
        current = {
            Role(r)
            for r in Membership.objects.filter(user=user, organisation=organisation).values_list(
                "role", flat=True
            )
        }
        if not current:
            raise ActionRefusedError(f"{user.email} has no access to {organisation.name}.")
        if (
            user.pk == actor.pk
            and any(r.is_administrator for r in current)
            and not any(r.is_administrator for r in wanted)
        ):
            raise ActionRefusedError(
                "You cannot remove your own administrator role. Ask another administrator to do it."
            )
        added = [r for r in wanted if r not in current]
        removed = [r for r in current if r not in wanted]
        if not added and not removed:
            return wanted
        Membership.objects.filter(
            user=user, organisation=organisation, role__in=[r.value for r in removed]
        ).delete()
        for role in added:
            Membership.objects.create(user=user, organisation=organisation, role=role.value, granted_by=actor)
        record(
            AuditAction.ROLES_CHANGED,
            actor=actor,
            organisation=organisation,
            subject=user.email,
            ip_address=ip_address,
            added=[r.value for r in added],
            removed=sorted(r.value for r in removed),
        )
    policy.forget_roles(user)
    return wanted


def revoke_access(
    *, actor: User, organisation: Organisation, user: User, ip_address: str | None = None
) -> None:
    """Remove every role the user holds in the organisation (their account and other roles remain)."""
    policy.require(actor, Action.MANAGE_USERS, organisation)
    if user.pk == actor.pk:
        raise ActionRefusedError("You cannot remove your own access. Ask another administrator to do it.")
    with transaction.atomic():
        removed = list(
            Membership.objects.filter(user=user, organisation=organisation).values_list("role", flat=True)
        )
        if not removed:
            raise ActionRefusedError(f"{user.email} has no access to {organisation.name}.")
        Membership.objects.filter(user=user, organisation=organisation).delete()
        record(
            AuditAction.ACCESS_REVOKED,
            actor=actor,
            organisation=organisation,
            subject=user.email,
            ip_address=ip_address,
            removed=sorted(removed),
        )
    policy.forget_roles(user)
