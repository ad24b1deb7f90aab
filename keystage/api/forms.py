"""The form for making an API token."""

from __future__ import annotations

from django import forms

EXPIRY_CHOICES = [
    ("30", "30 days"),
    ("90", "90 days"),
    ("365", "1 year"),
    ("never", "Never: until you revoke it"),
]


class TokenForm(forms.Form):
    name = forms.CharField(
        label="Name",
        max_length=100,
        help_text="What the token is for, for example “MIS export” or “LA upload script”.",
        error_messages={
            "required": "Enter a name for the token",
            "max_length": "Name must be 100 characters or fewer",
        },
    )
    expires = forms.ChoiceField(
        label="When should the token stop working?",
        choices=EXPIRY_CHOICES,
        initial="90",
        error_messages={
            "required": "Select when the token should stop working",
            "invalid_choice": "Select when the token should stop working",
        },
    )

    def clean_name(self) -> str:
        name = " ".join(str(self.cleaned_data["name"]).split())
        if not name:
            raise forms.ValidationError("Enter a name for the token")
        return name

    @property
    def expires_in_days(self) -> int | None:
        value = self.cleaned_data["expires"]
        return None if value == "never" else int(value)
