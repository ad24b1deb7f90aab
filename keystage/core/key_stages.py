"""The key stages keystage works out figures for, declared once: the collections whose confirmed
results feed each, and the earlier years' results its figures read. Everything that asks "which
collections does KS2 read?" or "whose figures change when last year's phonics does?" asks here.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class EarlierResults:
    """Results of an earlier academic year that a key stage's figures read."""

    key_stage: str  # whose confirmed results are read
    years_before: int  # academic years before the figures' own
    why: str


@dataclass(frozen=True)
class KeyStageInfo:
    key: str  # as runs, reports and URLs name it
    title: str  # as people name it
    kinds: tuple[str, ...]  # the collection kinds whose confirmed results feed its figures
    earlier: tuple[EarlierResults, ...] = ()

    def reads(self, key_stage: str) -> EarlierResults:
        """What this key stage reads of ``key_stage``'s earlier results (KeyError if nothing)."""
        found = next((e for e in self.earlier if e.key_stage == key_stage), None)
        if found is None:
            raise KeyError(f"{self.key} reads no earlier {key_stage} results")
        return found


KEY_STAGES: dict[str, KeyStageInfo] = {
    info.key: info
    for info in (
        KeyStageInfo("eyfsp", "EYFSP", ("eyfsp",)),
        KeyStageInfo(
            "phonics",
            "Phonics",
            ("phonics",),
            (
                EarlierResults(
                    "phonics",
                    1,
                    "Year 2's met by the end of Year 2 counts the Year 1 check a year before, and the "
                    "Year 1 pupils who met the standard then are not checked again",
                ),
            ),
        ),
        KeyStageInfo("ks1", "KS1", ("ks1",)),
        KeyStageInfo(
            "ks2",
            "KS2",
            ("ks2-ta",),
            (EarlierResults("ks1", 4, "progress is measured from the KS1 teacher assessments in Year 2"),),
        ),
        KeyStageInfo("ks4", "KS4", ("ks4-gcse", "ks4-non-gcse")),
    )
}
PRIMARY = tuple(key for key in KEY_STAGES if key != "ks4")


def key_stage_of(kind: str) -> str | None:
    """The key stage whose figures a collection kind's results feed (None: none does)."""
    return next((info.key for info in KEY_STAGES.values() if kind in info.kinds), None)


def later_readers(key_stage: str, year: int) -> list[tuple[str, int]]:
    """The key stages and years whose figures read ``key_stage``'s results of ``year``: phonics the
    year after, KS2 four years after KS1."""
    return [
        (info.key, year + earlier.years_before)
        for info in KEY_STAGES.values()
        for earlier in info.earlier
        if earlier.key_stage == key_stage
    ]
