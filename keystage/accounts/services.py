"""What people do to accounts and roles: one function per action.

Each checks the permission, owns its transaction, writes the audit record and queues any
follow-up work (emails) to run after the commit. Changes to an organisation's people run under a
lock on the organisation's row, with the actor's permission read again inside it: two
administrators acting at once are taken one after the other, on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from keystage.accounts import policy, two_factor
from keystage.accounts.models import Invitation, Membership, User, normalise_email
from keystage.accounts.tasks import send_invitation_email
from keystage.audit.log import record
from keystage.audit.models import AuditAction
from keystage.core.refusals import Refused
from keystage.core.roles import Action, Role, parse_roles
from keystage.organisations.models import Organisation


class ActionRefusedError(Refused):
    """A request that cannot be carried out as asked; str() is a message for the person."""


@contextmanager
def _managing_users(actor: User, organisation: Organisation) -> Iterator[None]:
    """A transaction holding the organisation's row, in which the actor still manages its users."""
    policy.require(actor, Action.MANAGE_USERS, organisation)  # fail fast, before taking the lock
    with transaction.atomic():
        Organisation.objects.select_for_update().get(pk=organisation.pk)
        policy.forget_roles(actor)  # another administrator may have changed them a moment ago
        policy.require(actor, Action.MANAGE_USERS, organisation)
        yield


def _cancel_invitations_sent_by(user: User, organisation: Organisation) -> None:
    """Invitations carry their sender's authority: when that goes, so do they."""
    if not policy.can(user, Action.MANAGE_USERS, organisation):
        Invitation.objects.filter(
            organisation=organisation, invited_by=user, accepted_at__isnull=True, cancelled_at__isnull=True
        ).update(cancelled_at=timezone.now())


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


def _open_invitations(organisation: Organisation, email: str) -> list[Invitation]:
    return list(
        Invitation.objects.filter(
            organisation=organisation, email=email, accepted_at__isnull=True, cancelled_at__isnull=True
        )
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
    email = normalise_email(email)
    parsed = _roles_for(organisation, roles)
    already_invited = ActionRefusedError(
        f"{email} has already been invited to {organisation.name}. Re-send or cancel that invitation "
        "from the user list."
    )
    with _managing_users(actor, organisation):
        if Membership.objects.filter(organisation=organisation, user__email=email).exists():
            raise ActionRefusedError(
                f"{email} already has access to {organisation.name}. "
                "Change their roles from the user list instead."
            )
        for open_invitation in _open_invitations(organisation, email):
            if open_invitation.is_pending:
                raise already_invited
            open_invitation.cancelled_at = timezone.now()  # expired: make way for the new one
            open_invitation.save(update_fields=["cancelled_at"])
        try:
            with transaction.atomic():
                invitation = Invitation.objects.create(
                    email=email,
                    full_name=full_name.strip(),
                    organisation=organisation,
                    roles=[r.value for r in parsed],
                    invited_by=actor,
                    expires_at=timezone.now() + timedelta(days=settings.KEYSTAGE_INVITATION_DAYS),
                )
        except IntegrityError:
            raise already_invited from None
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


def _invitation_here(organisation: Organisation, invitation: Invitation) -> Invitation:
    """The invitation as it is now, locked, if it belongs to this organisation."""
    current = (
        Invitation.objects.select_for_update().filter(pk=invitation.pk, organisation=organisation).first()
    )
    if current is None:
        raise ActionRefusedError("That invitation is not for this organisation.")
    return current


def resend_invitation(
    *, actor: User, organisation: Organisation, invitation: Invitation, ip_address: str | None = None
) -> Invitation:
    """Send a pending or expired invitation again with a fresh link; older links stop working."""
    with _managing_users(actor, organisation):
        invitation = _invitation_here(organisation, invitation)
        if invitation.accepted_at is not None or invitation.cancelled_at is not None:
            raise ActionRefusedError("That invitation has already been accepted or cancelled.")
        invitation.nonce = Invitation._meta.get_field("nonce").get_default()
        invitation.expires_at = timezone.now() + timedelta(days=settings.KEYSTAGE_INVITATION_DAYS)
        invitation.emailed_at = None
        invitation.invited_by = actor  # the link now carries this administrator's authority
        invitation.save(update_fields=["nonce", "expires_at", "emailed_at", "invited_by"])
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
    with _managing_users(actor, organisation):
        invitation = _invitation_here(organisation, invitation)
        if invitation.accepted_at is not None:
            raise ActionRefusedError(
                "That invitation has already been accepted; remove the user's access instead."
            )
        if invitation.cancelled_at is not None:
            return  # cancelled already (a second click): nothing more to do
        invitation.cancelled_at = timezone.now()
        invitation.save(update_fields=["cancelled_at"])
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
        locked = (
            Invitation.objects.select_for_update(of=("self",))  # not the nullable inviter
            .select_related("organisation", "invited_by")
            .get(pk=invitation.pk)
        )
        if not locked.is_pending or locked.nonce != invitation.nonce:
            raise ActionRefusedError("This invitation has already been used, cancelled or replaced.")
        if locked.invited_by is None or not policy.can(
            locked.invited_by, Action.MANAGE_USERS, locked.organisation
        ):
            raise ActionRefusedError(
                "The person who invited you no longer manages users here, so this invitation cannot be "
                "used. Ask an administrator to send you a new one."
            )
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
    wanted = _roles_for(organisation, roles)
    with _managing_users(actor, organisation):
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
            Membership.objects.get_or_create(
                user=user, organisation=organisation, role=role.value, defaults={"granted_by": actor}
            )
        policy.forget_roles(user)
        _cancel_invitations_sent_by(user, organisation)
        record(
            AuditAction.ROLES_CHANGED,
            actor=actor,
            organisation=organisation,
            subject=user.email,
            ip_address=ip_address,
            added=[r.value for r in added],
            removed=sorted(r.value for r in removed),
        )
    return wanted


def revoke_access(
    *, actor: User, organisation: Organisation, user: User, ip_address: str | None = None
) -> None:
    """Remove every role the user holds in the organisation (their account and other roles remain)."""
    if user.pk == actor.pk:
        raise ActionRefusedError("You cannot remove your own access. Ask another administrator to do it.")
    with _managing_users(actor, organisation):
        removed = list(
            Membership.objects.filter(user=user, organisation=organisation).values_list("role", flat=True)
        )
        if not removed:
            raise ActionRefusedError(f"{user.email} has no access to {organisation.name}.")
        Membership.objects.filter(user=user, organisation=organisation).delete()
        policy.forget_roles(user)
        _cancel_invitations_sent_by(user, organisation)
        record(
            AuditAction.ACCESS_REVOKED,
            actor=actor,
            organisation=organisation,
            subject=user.email,
            ip_address=ip_address,
            removed=sorted(removed),
        )


def why_two_factor_reset_is_refused(*, actor: User, organisation: Organisation, user: User) -> str:
    """Why ``actor`` may not reset ``user``'s two-factor sign-in through ``organisation``; "" if they may
    (besides managing its users, which the caller checks)."""
    if user.pk == actor.pk:
        return (
            "You cannot reset your own two-factor sign-in here. To change your authenticator app or "
            "recovery codes, go to Two-factor sign-in from your home page."
        )
    if user.is_staff or user.is_superuser:
        return "Two-factor sign-in for platform staff is reset by the people who run this service."
    # The reset takes away their devices everywhere: only someone who manages every organisation they
    # belong to may do it, so a school cannot open the sign-in of a trust's or an LA's officer.
    for membership in Membership.objects.filter(user=user).select_related("organisation"):
        elsewhere = membership.organisation.specific()
        if not policy.can(actor, Action.MANAGE_USERS, elsewhere):
            return (
                f"{user.full_name or user.email} also has access to {elsewhere.name}, which you do not "
                "manage, so their two-factor sign-in is reset by that organisation's administrator or by "
                "the people who run this service."
            )
    return ""


def reset_two_factor(
    *, actor: User, organisation: Organisation, user: User, ip_address: str | None = None
) -> int:
    """Delete a colleague's authenticator and recovery codes (a lost phone): they set up again when
    they next sign in, and no session of theirs keeps the verification it had. Returns how many
    devices went."""
    with _managing_users(actor, organisation):
        if not Membership.objects.filter(user=user, organisation=organisation).exists():
            raise ActionRefusedError(f"{user.email} has no access to {organisation.name}.")
        refused = why_two_factor_reset_is_refused(actor=actor, organisation=organisation, user=user)
        if refused:
            raise ActionRefusedError(refused)
        gone = two_factor.forget_devices(user)
        if not gone:
            raise ActionRefusedError(
                f"{user.full_name or user.email} has not set up two-factor sign-in: "
                "there is nothing to reset."
            )
        record(
            AuditAction.TWO_FACTOR_RESET,
            actor=actor,
            organisation=organisation,
            subject=user.email,
            ip_address=ip_address,
            devices=gone,
        )
    return gone


def reset_two_factor_as_platform_staff(*, actor: User, user: User, ip_address: str | None = None) -> int:
    """The same reset from platform administration, for anyone (platform staff included)."""
    if not policy.is_platform_staff(actor):
        raise ActionRefusedError(
            "Only platform staff can reset two-factor sign-in from platform administration."
        )
    with transaction.atomic():
        gone = two_factor.forget_devices(user)
        if gone:
            record(
                AuditAction.TWO_FACTOR_RESET,
                actor=actor,
                subject=user.email,
                ip_address=ip_address,
                devices=gone,
                by="platform staff",
            )
    return gone
