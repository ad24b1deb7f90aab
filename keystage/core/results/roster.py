"""What a check knows of the uploader (UploadContext): their school, checked against the DfE numbers in
the file, and its roster for the year (RosterPupil), against which each row's pupil is compared.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from keystage.core.results.cells import day_in_words


@dataclass(frozen=True)
class RosterPupil:
    upn: str
    forename: str = ""
    surname: str = ""
    date_of_birth: date | None = None
    sex: str = ""  # F / M
    nc_year: int | None = None

    def in_words(self) -> str:
        """The pupil as a roster difference names them: "Amelia Walker, born 1 October 2014, female"."""
        parts = [" ".join(p for p in (self.forename, self.surname) if p) or "(no name)"]
        if self.date_of_birth:
            parts.append(f"born {day_in_words(self.date_of_birth)}")
        if self.sex in ("F", "M"):
            parts.append({"F": "female", "M": "male"}[self.sex])
        if self.nc_year is not None:
            parts.append("Reception" if self.nc_year == 0 else f"Year {self.nc_year}")
        return ", ".join(parts)


@dataclass(frozen=True)
class UploadContext:
    """What is known of the uploader: their school (checked against the DfE numbers in the file),
    and its roster for the year (pupils not on it are refused or flagged, by collection)."""

    school_dfe: str | None = None
    school_name: str = ""
    roster: Mapping[str, RosterPupil] | None = None


def _folded(text: str) -> str:
    """A name as compared with the roster's: spacing and case aside."""
    return " ".join(text.split()).casefold()


def person_key(surname: str, forename: str, born: date | None) -> tuple[str, str, date | None]:
    return (_folded(surname), _folded(forename), born)


def same_text(a: str, b: str) -> bool:
    return _folded(a) == _folded(b)
