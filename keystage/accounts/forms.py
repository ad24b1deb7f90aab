"""Forms for signing in, inviting people and setting roles. Messages are written for the person."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.forms import SetPasswordForm
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError

from keystage.core.roles import OrgKind, roles_for


class SignInForm(forms.Form):
    email = forms.EmailField(
        label="Email address",
        max_length=254,
        error_messages={
            "required": "Enter your email address",
            "invalid": "Enter an email address in the correct format, like name@example.com",
            "max_length": "Email address must be 254 characters or fewer",
        },
    )
    password = forms.CharField(
        label="Password", strip=False, max_length=4096, error_messages={"required": "Enter your password"}
    )


def _role_choices(kind: OrgKind) -> list[tuple[str, str]]:
    return [(role.value, role.label) for role in roles_for(kind)]


class RolesField(forms.MultipleChoiceField):
    def __init__(self, kind: OrgKind, **kwargs: Any) -> None:
        super().__init__(
            choices=_role_choices(kind),
            label="Roles",
            error_messages={
                "required": "Select at least one role",
                "invalid_choice": "Select roles from the list",
            },
            **kwargs,
        )
        self.hints = {role.value: role.info.description for role in roles_for(kind)}


class InviteForm(forms.Form):
    full_name = forms.CharField(
        label="Full name", max_length=150, error_messages={"required": "Enter the person's full name"}
    )
    email = forms.EmailField(
        label="Email address",
        max_length=254,
        error_messages={
            "required": "Enter the person's email address",
            "invalid": "Enter an email address in the correct format, like name@example.com",
            "max_length": "Email address must be 254 characters or fewer",
        },
    )

    def __init__(self, *args: Any, kind: OrgKind, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["roles"] = RolesField(kind)


class RolesForm(forms.Form):
    def __init__(self, *args: Any, kind: OrgKind, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["roles"] = RolesField(kind)


class NewAccountForm(forms.Form):
    full_name = forms.CharField(
        label="Full name", max_length=150, error_messages={"required": "Enter your full name"}
    )
    password = forms.CharField(
        label="Create a password",
        strip=False,
        max_length=4096,
        help_text="At least 10 characters. Avoid common words and your name.",
        error_messages={"required": "Create a password"},
    )
    password_again = forms.CharField(
        label="Type the password again",
        strip=False,
        max_length=4096,
        error_messages={"required": "Type the password again"},
    )

    def __init__(self, *args: Any, email: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.email = email

    def clean(self) -> dict[str, Any]:
        from keystage.accounts.models import User

        data = super().clean() or {}
        password = data.get("password")
        if password:
            try:
                validate_password(password, User(email=self.email, full_name=data.get("full_name", "")))
            except ValidationError as error:
                self.add_error("password", error)
        if password and data.get("password_again") and password != data["password_again"]:
            self.add_error("password_again", "The passwords do not match")
        return data


class AuthenticatorCodeForm(forms.Form):
    """One code from an authenticator app; the service checks its form and its value."""

    code = forms.CharField(
        label="Code from your authenticator app",
        max_length=20,
        required=False,  # an empty code gets the service's own message, like any other wrong one
        help_text="The 6-digit code the app shows for keystage. It changes every 30 seconds.",
    )


class RecoveryCodeForm(forms.Form):
    code = forms.CharField(
        label="Recovery code",
        max_length=40,
        required=False,
        help_text="One of the codes you printed or saved when you set up two-factor sign-in, like "
        "abcd-2345. Each code works once.",
    )


class ForgottenPasswordForm(forms.Form):
    email = forms.EmailField(
        label="Email address",
        max_length=254,
        help_text="The address you sign in with. We email a link to choose a new password.",
        error_messages={
            "required": "Enter your email address",
            "invalid": "Enter an email address in the correct format, like name@example.com",
            "max_length": "Email address must be 254 characters or fewer",
        },
    )


class NewPasswordForm(SetPasswordForm):  # type: ignore[type-arg]
    """Django's checks of a new password (length, common, like the name, all digits), in our words."""

    error_messages = {"password_mismatch": "The two passwords do not match"}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["new_password1"].label = "New password"
        self.fields[
            "new_password1"
        ].help_text = "At least 10 characters, not all numbers, not one used widely."
        self.fields["new_password1"].error_messages["required"] = "Enter a new password"
        self.fields["new_password2"].label = "The new password again"
        self.fields["new_password2"].error_messages["required"] = "Enter the new password again"
