"""`keystage collections`: a platform administrator opens a results collection and lists them.

    keystage collections create --collection ks4-gcse --year 2026 --opens 2026-06-01 \\
        --provisional-deadline 2026-07-03T17:00 --final-deadline 2026-09-25 --terms-file terms.txt
    keystage collections list [--year 2026]
"""

from __future__ import annotations

from argparse import ArgumentParser
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from keystage.core.results.kinds import KINDS, academic_year_name
from keystage.results import services
from keystage.results.models import Collection

WHEN_HELP = (
    "Times are ISO 8601 in UK time unless they carry an offset: 2026-06-01, 2026-06-01T09:00 or "
    "2026-06-01T09:00+01:00. A date alone opens the window at 00:00 that day, and a deadline given as a "
    "date alone is at 23:59 that day."
)


def parse_when(text: str, *, label: str, end_of_day: bool) -> datetime:
    """An ISO 8601 date or date and time as an aware datetime; a date alone is the start of the day,
    or 23:59 for a deadline (``end_of_day``). Naive times are UK local time."""
    value = text.strip()
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            moment = datetime.combine(day, time(23, 59) if end_of_day else time(0, 0))
        else:
            moment = datetime.fromisoformat(value)
    except ValueError:
        raise CommandError(
            f"{label} “{text}” is not a date or time: write it as 2026-06-01 or 2026-06-01T09:00."
        ) from None
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    return moment


def parse_day(text: str | None, *, label: str) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise CommandError(f"{label} “{text}” is not a date: write it as 2026-07-07.") from None


def _local(moment: datetime) -> str:
    return f"{timezone.localtime(moment):%d/%m/%Y %H:%M}"


class Command(BaseCommand):
    help = "Open a results collection (platform administrators) and list the collections."

    def add_arguments(self, parser: ArgumentParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
        create = sub.add_parser(
            "create",
            help="open a collection: its window, terms and report due dates",
            description=f"Open a results collection. {WHEN_HELP}",
        )
        create.add_argument("--collection", required=True, choices=list(KINDS), help="which collection")
        create.add_argument("--year", type=int, required=True, help="academic year by its end, e.g. 2026")
        create.add_argument(
            "--opens", required=True, metavar="WHEN", help="when uploads open (a date alone: 00:00 that day)"
        )
        create.add_argument(
            "--provisional-deadline",
            required=True,
            metavar="WHEN",
            help="the provisional deadline (a date alone: 23:59)",
        )
        create.add_argument(
            "--final-deadline", required=True, metavar="WHEN", help="the final deadline (a date alone: 23:59)"
        )
        terms = create.add_mutually_exclusive_group(required=True)
        terms.add_argument(
            "--terms", metavar="TEXT", help="the terms a school agrees to when it confirms a submission"
        )
        terms.add_argument("--terms-file", type=Path, metavar="FILE", help="a UTF-8 text file with the terms")
        create.add_argument(
            "--provisional-reports-due",
            metavar="DATE",
            help="date reports after the provisional deadline are due",
        )
        create.add_argument(
            "--final-reports-due", metavar="DATE", help="date reports after the final deadline are due"
        )
        listing = sub.add_parser("list", help="list the collections and their windows")
        listing.add_argument("--year", type=int, help="only this academic year (by its end, e.g. 2026)")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "create":
            self._create(options)
        else:
            self._list(options.get("year"))

    def _terms(self, options: dict[str, Any]) -> str:
        path: Path | None = options.get("terms_file")
        if path is not None:
            try:
                text = path.read_text(encoding="utf-8")
            except UnicodeDecodeError:
                raise CommandError(f"{path} is not UTF-8 text; save it as UTF-8 and try again.") from None
            except OSError as error:
                raise CommandError(f"Cannot read {path}: {error.strerror}") from None
        else:
            text = options.get("terms") or ""
        if not text.strip():
            raise CommandError("The terms and conditions are empty; a school must have terms to agree to.")
        return text

    def _create(self, options: dict[str, Any]) -> None:
        kind, year = options["collection"], options["year"]
        if not 2000 <= year <= 2100:
            raise CommandError(f"--year {year} is not an academic year: give the year it ends, e.g. 2026.")
        opens = parse_when(options["opens"], label="--opens", end_of_day=False)
        provisional = parse_when(
            options["provisional_deadline"], label="--provisional-deadline", end_of_day=True
        )
        final = parse_when(options["final_deadline"], label="--final-deadline", end_of_day=True)
        provisional_due = parse_day(options.get("provisional_reports_due"), label="--provisional-reports-due")
        final_due = parse_day(options.get("final_reports_due"), label="--final-reports-due")
        terms = self._terms(options)
        try:
            collection = services.create_collection(
                kind=kind,
                year=year,
                opens_at=opens,
                provisional_deadline=provisional,
                final_deadline=final,
                terms=terms,
                provisional_reports_due=provisional_due,
                final_reports_due=final_due,
                actor=None,
            )
        except services.CollectionError as error:
            raise CommandError(str(error)) from None
        self.stdout.write(
            self.style.SUCCESS(
                f"Opened {collection}: uploads from {_local(collection.opens_at)}, provisional deadline "
                f"{_local(collection.provisional_deadline)}, final deadline "
                f"{_local(collection.final_deadline)} (UK time). The deadline collections are queued for "
                "the worker."
            )
        )

    def _list(self, year: int | None) -> None:
        collections = Collection.objects.all()
        if year is not None:
            collections = collections.filter(year=year)
        rows = list(collections)
        if not rows:
            where = f" for {academic_year_name(year)}" if year is not None else ""
            self.stdout.write(f"No collections{where}. Open one with keystage collections create.")
            return
        now = timezone.now()
        header = (
            f"{'COLLECTION':14} {'YEAR':8} {'OPENS':17} {'PROVISIONAL DEADLINE':21} "
            f"{'FINAL DEADLINE':17} STATE"
        )
        self.stdout.write(header)
        for collection in rows:
            if now < collection.opens_at:
                state = "not yet open"
            elif collection.is_open(now):
                state = "open"
            else:
                state = "closed"
            self.stdout.write(
                f"{collection.kind:14} {academic_year_name(collection.year):8} "
                f"{_local(collection.opens_at):17} {_local(collection.provisional_deadline):21} "
                f"{_local(collection.final_deadline):17} {state}"
            )
