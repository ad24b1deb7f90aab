"""Return tags: what each one is, and how a tag's CTF is checked."""

from __future__ import annotations

from datetime import date

import pytest

from keystage.core.results.kinds import KINDS
from keystage.core.returns import ReturnTag, academic_year_of, parse_tag


def test_the_tags_are_the_ones_the_la_file_transfer_lists_in_its_order():
    assert [t.label for t in ReturnTag] == ["Census", "EYFSP", "Phonics", "KS1", "KS2 TA", "KS3 TA", "Other"]


def test_ctf_tags_validate_against_their_collection_and_the_rest_are_plain_files():
    assert {t: t.collection_kind for t in ReturnTag if t.takes_ctf} == {
        ReturnTag.EYFSP: "eyfsp",
        ReturnTag.PHONICS: "phonics",
        ReturnTag.KS1: "ks1",
        ReturnTag.KS2_TA: "ks2-ta",
    }
    for plain in (ReturnTag.CENSUS, ReturnTag.KS3_TA, ReturnTag.OTHER):
        assert plain.collection_kind is None and not plain.takes_ctf
    # The results collections name the same tag for their CTFs.
    for tag in ReturnTag:
        if tag.collection_kind:
            kind = KINDS[tag.collection_kind]
            assert kind.takes_ctf and kind.la_tag == tag.label


def test_a_tag_is_read_from_its_code_or_its_label_and_anything_else_is_refused_with_the_choices():
    assert parse_tag("ks2-ta") is ReturnTag.KS2_TA
    assert parse_tag(" KS2 TA ") is ReturnTag.KS2_TA
    assert parse_tag("eyfsp") is ReturnTag.EYFSP
    with pytest.raises(ValueError, match="“KS5” is not a tag; choose one of Census, EYFSP"):
        parse_tag("KS5")


def test_the_academic_year_turns_on_the_first_of_september():
    assert academic_year_of(date(2026, 8, 31)) == 2026
    assert academic_year_of(date(2026, 9, 1)) == 2027
    assert academic_year_of(date(2026, 1, 15)) == 2026
