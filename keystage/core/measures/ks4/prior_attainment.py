"""Which KS4 results years have no Progress 8, and why: the one table every figure, page, download and
the API ask (``without_progress8``), rather than an "if the year is 2025" in each of them.

Progress 8 measures KS4 against KS2 prior attainment, taken five summers before the GCSEs. The KS2
tests of summer 2020 and summer 2021 were cancelled (COVID-19), so the pupils who took their GCSEs in
summer 2025 and summer 2026 have no KS2 baseline and DfE publishes no Progress 8 for those years
(shared/domain/ks4-measures.md: "No P8 was published for 2025 and 2026"; DfE, "Secondary
accountability measures" guide: Progress 8 returns with the 2027 results [check: the guide's wording
for 2024/25 onwards]). For those years keystage offers its own value added from KS1 teacher
assessment instead (``ks1_value_added``), never called Progress 8.
"""

from __future__ import annotations

from dataclasses import dataclass

# Pupils sit KS2 in Year 6 and GCSEs in Year 11: five summers later.
KS2_TO_KS4_YEARS = 5
# The summers whose KS2 tests did not take place (COVID-19), with the source.
CANCELLED_KS2 = {
    2020: "DfE: the 2019/20 national curriculum assessments (KS1, KS2) were cancelled",
    2021: "DfE: the 2020/21 primary assessments (KS1, KS2) were cancelled",
}


@dataclass(frozen=True)
class WithoutProgress8:
    """A KS4 results year (by its summer) with no Progress 8, and why."""

    year: int
    ks2_year: int  # the summer its pupils would have sat KS2
    source: str

    @property
    def reason(self) -> str:
        return f"these pupils sat no KS2 tests in {self.ks2_year}"

    @property
    def message(self) -> str:
        """What every page, download and the API say where Progress 8 would be."""
        return f"DfE publishes no Progress 8 for {self.year} ({self.reason})"


NO_PROGRESS8: dict[int, WithoutProgress8] = {
    ks2 + KS2_TO_KS4_YEARS: WithoutProgress8(ks2 + KS2_TO_KS4_YEARS, ks2, source)
    for ks2, source in CANCELLED_KS2.items()
}


def without_progress8(year: int | None) -> WithoutProgress8 | None:
    """The KS4 results year's reason for having no Progress 8, or None when DfE publishes one."""
    return NO_PROGRESS8.get(year) if year is not None else None
