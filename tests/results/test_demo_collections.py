"""The demo opens every collection of the current year, once."""

from __future__ import annotations

from keystage.results.models import Collection
from keystage.web.demo import current_academic_year, load_demo_collections


def test_demo_opens_every_collection_of_the_year_and_keeps_its_dates(db):
    opened = load_demo_collections()
    year = current_academic_year()
    assert len(opened) == 6 and Collection.objects.filter(year=year).count() == 6
    assert all(c.is_open() for c in Collection.objects.all())
    first = list(Collection.objects.values_list("pk", "final_deadline"))
    assert load_demo_collections() == opened
    assert list(Collection.objects.values_list("pk", "final_deadline")) == first
