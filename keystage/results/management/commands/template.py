"""`keystage template`: a school's pre-filled results template, as Get template gives it."""

from __future__ import annotations

from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from keystage.core.results.kinds import KINDS
from keystage.pupils.management.school_option import school_from_option
from keystage.results import downloads, services
from keystage.results.models import Collection


def collection_from_options(kind: str, year: int) -> Collection:
    collection = Collection.objects.filter(kind=kind, year=year).first()
    if collection is None:
        raise CommandError(
            f"There is no {KINDS[kind].title} collection for {year}; a platform administrator opens it."
        )
    return collection


class Command(BaseCommand):
    help = "Write a school's results template (.xlsx) pre-filled with its pupils from the roster."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--collection", required=True, choices=list(KINDS), help="which collection")
        parser.add_argument("--year", type=int, required=True, help="academic year by its end, e.g. 2026")
        parser.add_argument("--school", required=True, help="DfE number of the school")
        parser.add_argument("-o", "--output", type=Path, required=True, help="the .xlsx file to write")

    def handle(self, *args: Any, **options: Any) -> None:
        collection = collection_from_options(options["collection"], options["year"])
        school = school_from_option(options["school"])
        try:
            data = downloads.download_template(collection, school, actor=None)
        except services.CollectionError as error:
            raise CommandError(str(error)) from None
        output: Path = options["output"]
        output.write_bytes(data)
        pupils = len(downloads.roster_for(school, collection.year, collection.kind))
        self.stdout.write(f"Wrote {output}: {collection} template for {school.name}, {pupils} pupils.")
