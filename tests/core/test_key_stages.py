"""The key-stage registry: every collection kind feeds exactly one key stage's figures, and a change
to earlier results names every later year whose figures read them."""

from __future__ import annotations

from keystage.core import key_stages
from keystage.core.measures.primary import KEY_STAGES as PRIMARY_STAGES
from keystage.core.results.kinds import KINDS


def test_every_collection_kind_feeds_one_key_stage():
    fed = [kind for info in key_stages.KEY_STAGES.values() for kind in info.kinds]
    assert sorted(fed) == sorted(KINDS)  # each kind once, and no kind the collections do not have
    assert key_stages.key_stage_of("ks4-non-gcse") == "ks4"
    assert key_stages.key_stage_of("ks2-ta") == "ks2"
    assert key_stages.key_stage_of("census") is None


def test_the_primary_key_stages_are_those_the_primary_engine_works_out():
    assert set(key_stages.PRIMARY) == set(PRIMARY_STAGES)


def test_earlier_results_name_the_later_figures_that_read_them():
    assert key_stages.later_readers("phonics", 2025) == [("phonics", 2026)]
    assert key_stages.later_readers("ks1", 2022) == [("ks2", 2026)]
    assert key_stages.later_readers("ks4", 2026) == []
    assert key_stages.KEY_STAGES["ks2"].reads("ks1").years_before == 4
