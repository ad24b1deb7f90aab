"""People, the roles they hold in organisations, and invitations to take up roles."""

from __future__ import annotations

import secrets
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from keystage.core.roles import Role
from keystage.organisations.models import Organisation


def normalise_email(email: str) -> str:
    """Emails are compared case-insensitively: people type them in every case."""
    return email.strip().lower()


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def create_user(self, email: str, password: str | None = None, **fields: Any) -> User:
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=normalise_email(email), **fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **fields: Any) -> User:
        fields.setdefault("is_staff", True)
        fields.setdefault("is_superuser", True)
        return self.create_user(email, password, **fields)

    def get_by_natural_key(self, username: str | None) -> User:
        return self.get(email=normalise_email(username or ""))


class User(AbstractBaseUser, PermissionsMixin):
    """A person who signs in with an email address and password. Platform staff have is_staff."""

    email = models.EmailField(unique=True)
    full_name = models.CharField(max_length=150)
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField("platform staff", default=False)
    date_joined = models.DateTimeField(default=timezone.now)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = ["full_name"]

    class Meta:
        ordering = ["full_name", "email"]

    def __str__(self) -> str:
        return f"{self.full_name} <{self.email}>" if self.full_name else self.email

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.email = normalise_email(self.email)
        super().save(*args, **kwargs)


class Membership(models.Model):
    """One role held by one person in one organisation."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=32, choices=[(r.value, r.label) for r in Role])
    granted_by = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    granted_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "organisation", "role"], name="one_role_once_per_org")
        ]
        ordering = ["organisation__name", "role"]

    def __str__(self) -> str:
        return f"{self.user.email}: {Role(self.role).label} at {self.organisation.name}"

    @property
    def role_enum(self) -> Role:
        return Role(self.role)

    def clean(self) -> None:
        if self.organisation_id is not None and self.role in {r.value for r in Role}:
            role = Role(self.role)
            if role.kind.value != self.organisation.kind:
                raise ValidationError(
                    {
                        "role": f"{role.label} is a {role.kind.label.lower()} role; {self.organisation} is a "
                        f"{self.organisation.org_kind.label.lower()}."
                    }
                )


def _new_nonce() -> str:
    return secrets.token_urlsafe(16)


class Invitation(models.Model):
    """An offer of roles in an organisation, sent to an email address as a signed, expiring link."""

    email = models.EmailField()
    full_name = models.CharField(max_length=150)
    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="invitations")
    roles = models.JSONField(default=list)
    invited_by = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    # Signed into the link; replaced when the invitation is re-sent so older links stop working.
    nonce = models.CharField(max_length=32, default=_new_nonce)
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    cancelled_at = models.DateTimeField(null=True, blank=True)
    emailed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["organisation", "email"])]
        constraints = [
            # One open invitation per person and organisation, whatever two clicks try at once.
            models.UniqueConstraint(
                fields=["organisation", "email"],
                condition=models.Q(accepted_at__isnull=True, cancelled_at__isnull=True),
                name="one_open_invitation_per_person",
            )
        ]

    def __str__(self) -> str:
        return f"Invitation of {self.email} to {self.organisation.name}"

    @property
    def role_list(self) -> list[Role]:
        return [Role(r) for r in self.roles]

    @property
    def is_pending(self) -> bool:
        return self.accepted_at is None and self.cancelled_at is None and self.expires_at > timezone.now()


class SignInThrottle(models.Model):
    """Sign-in attempts counted per account or per address within a window.

    An attempt reserves its place here, under a row lock, before the password is checked, so
    many attempts sent at once cannot all slip past the limit.
    """

    key = models.CharField(max_length=300, unique=True)  # account:<email>, address:<ip>, two-factor:<id>
    window_start = models.DateTimeField()
    attempts = models.PositiveIntegerField(default=0)
    # When the last attempt was taken: sign-in slows down (keystage.accounts.throttle) before it locks.
    last_attempt = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.key}: {self.attempts} since {self.window_start:%H:%M}"
