"""The platform's stored national KS1 groups, which KS4 figures worked out from files are measured
against in a year without Progress 8 (the method: keystage.core.measures.ks4.no_progress8)."""

from __future__ import annotations

from keystage.core.measures.ks4 import ks1_value_added as ks1
from keystage.measures.models import KeyStage, MeasureRun, RunStatus


def stored_groups(year: int) -> ks1.Ks1Groups | None:
    """The national KS1 groups of the year's latest complete run of every school, if one has them."""
    run = (
        MeasureRun.objects.filter(
            key_stage=KeyStage.KS4, year=year, school__isnull=True, status=RunStatus.COMPLETE
        )
        .exclude(ks1_groups=None)
        .order_by("-computed_at", "-pk")
        .first()
    )
    if run is None or not run.ks1_groups:
        return None
    return ks1.Ks1Groups.from_json(run.ks1_groups)
