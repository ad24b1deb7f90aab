from __future__ import annotations

from django import forms

from keystage.privacy.subject_access import SubjectAccessError, valid_upn


class SubjectAccessForm(forms.Form):
    upn = forms.CharField(
        label="Unique pupil number (UPN)",
        max_length=40,
        help_text="13 characters, for example A800200119001. It is on the pupil's record in your MIS.",
        error_messages={"required": "Enter the pupil's UPN.", "max_length": "A UPN is 13 characters."},
    )

    def clean_upn(self) -> str:
        try:
            return valid_upn(self.cleaned_data["upn"])
        except SubjectAccessError as error:
            raise forms.ValidationError(str(error)) from None
