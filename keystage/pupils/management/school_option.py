"""The --school option of the pupil commands: a DfE number, checked, and the school it names."""

from __future__ import annotations

from django.core.management.base import CommandError

from keystage.core.identifiers import InvalidIdentifierError, dfe_number
from keystage.organisations.models import School


def school_from_option(number: str) -> School:
    try:
        normalised = dfe_number(number)
    except InvalidIdentifierError as error:
        raise CommandError(str(error)) from None
    school = School.objects.by_dfe_number(normalised)
    if school is None:
        raise CommandError(f"No school with DfE number {normalised}.")
    return school
