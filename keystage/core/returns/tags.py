"""What a file sent to the LA is for: its tag, as the LA's file transfer lists them (seed 003), and
which results collection a tag's CTF is checked against."""

from __future__ import annotations

from datetime import date
from enum import StrEnum

from keystage.core.results.kinds import KINDS


class ReturnTag(StrEnum):
    CENSUS = "census"
    EYFSP = "eyfsp"
    PHONICS = "phonics"
    KS1 = "ks1"
    KS2_TA = "ks2-ta"
    KS3_TA = "ks3-ta"
    OTHER = "other"

    @property
    def label(self) -> str:
        return _LABELS[self]

    @property
    def collection_kind(self) -> str | None:
        """The results collection whose rules a CTF with this tag is checked against; None for a
        plain file (Census, KS3 TA, Other) that the LA takes as it is."""
        return _KINDS.get(self)

    @property
    def key_stage(self) -> str | None:
        """The key stage of the reports whose summaries the LA publishes back for this return (the
        annual summary reports of seed 002); None for a tag with no results (Census, KS3 TA, Other)."""
        return _KEY_STAGES.get(self)

    @property
    def nc_years(self) -> tuple[int, ...] | None:
        """The year groups (0 is Reception) the return is about, so the schools it is for: those
        teaching one of them; None for a return every school sends (Census, Other)."""
        kind = _KINDS.get(self)
        if kind is not None:
            return KINDS[kind].nc_years
        return _OTHER_YEARS.get(self)

    @property
    def takes_ctf(self) -> bool:
        return self in _KINDS

    @property
    def period_name(self) -> str | None:
        """The assessment period the movers rules count from, as the guidance names it."""
        return _PERIODS.get(self)

    @property
    def uses_summer_half_term(self) -> bool:
        return self is ReturnTag.EYFSP


_LABELS = {
    ReturnTag.CENSUS: "Census",
    ReturnTag.EYFSP: "EYFSP",
    ReturnTag.PHONICS: "Phonics",
    ReturnTag.KS1: "KS1",
    ReturnTag.KS2_TA: "KS2 TA",
    ReturnTag.KS3_TA: "KS3 TA",
    ReturnTag.OTHER: "Other",
}
_KINDS = {
    ReturnTag.EYFSP: "eyfsp",
    ReturnTag.PHONICS: "phonics",
    ReturnTag.KS1: "ks1",
    ReturnTag.KS2_TA: "ks2-ta",
}
_KEY_STAGES = {
    ReturnTag.EYFSP: "eyfsp",
    ReturnTag.PHONICS: "phonics",
    ReturnTag.KS1: "ks1",
    ReturnTag.KS2_TA: "ks2",
}
_OTHER_YEARS = {ReturnTag.KS3_TA: (9,)}  # KS3 teacher assessment is at the end of Year 9
_PERIODS = {
    ReturnTag.PHONICS: "phonics check period",
    ReturnTag.KS1: "KS1 test period",
    ReturnTag.KS2_TA: "KS2 test week",
}


def parse_tag(value: str) -> ReturnTag:
    """A tag from its code or its label ("ks2-ta" or "KS2 TA"); ValueError saying the choices."""
    text = value.strip()
    for tag in ReturnTag:
        if text == tag.value or text.casefold() == tag.label.casefold():
            return tag
    choices = ", ".join(tag.label for tag in ReturnTag)
    raise ValueError(f"“{text}” is not a tag; choose one of {choices}.")


def academic_year_of(day: date) -> int:
    """The academic year a day falls in, by the year it ends (from 1 September)."""
    return day.year + (1 if day.month >= 9 else 0)
