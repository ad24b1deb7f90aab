"""The forms of LA returns. They check what a person typed; the service functions decide the rest."""

from __future__ import annotations

from datetime import date
from typing import Any

from django import forms
from django.utils import timezone

from keystage.core.results.kinds import academic_year_name
from keystage.core.returns import ReturnTag, academic_year_of

DATE_FORMATS = ["%Y-%m-%d", "%d/%m/%Y", "%d/%m/%y", "%d-%m-%Y", "%d %m %Y"]


def _date_field(
    label: str, *, required: bool = True, help_text: str = "", missing: str = ""
) -> forms.DateField:
    return forms.DateField(
        label=label,
        required=required,
        help_text=help_text,
        input_formats=DATE_FORMATS,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        error_messages={
            "required": missing or f"Enter the {label.lower()}",
            "invalid": f"Enter the {label.lower()} as a real date, for example 28/06/2026",
        },
    )


def _file_field(label: str) -> forms.FileField:
    return forms.FileField(
        label=label,
        error_messages={
            "required": "Select a file to send",
            "empty": "The selected file is empty",
            "invalid": "Select a file to send",
            "missing": "Select a file to send",
        },
    )


class SendForm(forms.Form):
    tag = forms.ChoiceField(
        label="What is the file?",
        error_messages={
            "required": "Select what the file is (its tag)",
            "invalid_choice": "Select one of the tags listed: your LA has no open return with that tag",
        },
    )
    file = _file_field("File")
    comment = forms.CharField(
        label="Comment (optional)",
        required=False,
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 3}),
        error_messages={"max_length": "The comment must be 1000 characters or fewer"},
    )

    def __init__(self, *args: Any, tags: list[ReturnTag], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["tag"].choices = [(tag.value, tag.label) for tag in tags]  # type: ignore[attr-defined]


class ConfirmationForm(forms.Form):
    moderation_done = forms.BooleanField(
        label="All internal moderation processes have been completed",
        error_messages={"required": "Confirm that all internal moderation has been completed"},
    )
    agreed = forms.BooleanField(
        label=(
            "The assessments have been agreed by the head teacher and the teacher(s) and member(s) "
            "of staff responsible"
        ),
        error_messages={
            "required": "Confirm that the head teacher and the staff responsible have agreed the assessments"
        },
    )
    name = forms.CharField(
        label="Name", max_length=200, error_messages={"required": "Enter the head teacher's name"}
    )
    role = forms.CharField(
        label="Role", max_length=200, error_messages={"required": "Enter the role of the person confirming"}
    )
    confirmed_on = _date_field("Date", missing="Enter the date of the confirmation")

    def clean_confirmed_on(self) -> date:
        value: date = self.cleaned_data["confirmed_on"]
        if value > timezone.localdate():
            raise forms.ValidationError("The date of the confirmation cannot be in the future")
        return value


class OpenRoundForm(forms.Form):
    tag = forms.ChoiceField(
        label="Return",
        choices=[(tag.value, tag.label) for tag in ReturnTag],
        error_messages={
            "required": "Select the return to open",
            "invalid_choice": "Select one of the returns",
        },
    )
    year = forms.TypedChoiceField(
        label="Academic year",
        coerce=int,
        error_messages={"invalid_choice": "Select one of the academic years"},
    )
    deadline = _date_field("Deadline", help_text="Files sent after this day are marked late.")
    period_starts = _date_field(
        "First day of the test or check period",
        required=False,
        help_text="KS1: the KS1 test period. Phonics: the check period. KS2 TA: the test week.",
    )
    period_ends = _date_field("Last day of the test or check period", required=False)
    summer_second_half_starts = _date_field(
        "First day of the second half of the summer term", required=False, help_text="EYFSP only."
    )
    instructions = forms.CharField(
        label="Instructions for schools (optional)",
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 4}),
        error_messages={"max_length": "The instructions must be 2000 characters or fewer"},
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        this_year = academic_year_of(timezone.localdate())
        self.fields["year"].choices = [  # type: ignore[attr-defined]
            (year, academic_year_name(year)) for year in (this_year, this_year + 1)
        ]
        self.fields["year"].initial = this_year


class CorrectionForm(forms.Form):
    message = forms.CharField(
        label="What should the school correct?",
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 4}),
        error_messages={
            "required": "Write what the school needs to correct",
            "max_length": "The message must be 2000 characters or fewer",
        },
    )


class PublishForm(forms.Form):
    title = forms.CharField(
        label="Title (optional)",
        required=False,
        max_length=200,
        error_messages={"max_length": "The title must be 200 characters or fewer"},
    )
    file = _file_field("Report file")
