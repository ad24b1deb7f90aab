"""`keystage roster import`: load a school's roster for a year from a CSV file."""

from __future__ import annotations

from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from keystage.core.pupils.roster_csv import RosterFileError, read_roster_csv
from keystage.pupils.management.school_option import school_from_option
from keystage.pupils.services import RosterImportRefusedError, import_roster


class Command(BaseCommand):
    help = "Import pupil rosters. A re-import updates pupils by UPN; pupils who left are kept, off roll."

    def add_arguments(self, parser: ArgumentParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
        load = sub.add_parser("import", help="import a roster CSV (see keystage/core/pupils/roster_csv.py)")
        load.add_argument("file", type=Path)
        load.add_argument("--school", required=True, help="the school's DfE number, e.g. 9904001")
        load.add_argument("--year", type=int, required=True, help="academic year by its end, e.g. 2026")
        load.add_argument(
            "--partial",
            action="store_true",
            help="the file is not the whole school: nobody is marked as left",
        )
        load.add_argument(
            "--allow-many-leavers",
            action="store_true",
            help="a whole-school file may mark more than half the roll as left (they really left)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        school = school_from_option(options["school"])
        path: Path = options["file"]
        try:
            read = read_roster_csv(path.read_bytes())
        except OSError as error:
            raise CommandError(f"Cannot read {path}: {error.strerror}.") from None
        except RosterFileError as error:
            raise CommandError(f"{path.name}: {error}") from None
        for problem in read.problems:
            self.stderr.write(str(problem))
        try:
            result = import_roster(
                school=school,
                academic_year=options["year"],
                pupils=read.pupils,
                full=not options["partial"],
                source=path.name,
                also_in_file=read.upns_in_file,
                supplied=read.supplied,
                allow_many_leavers=options["allow_many_leavers"],
            )
        except RosterImportRefusedError as error:
            raise CommandError(str(error)) from None
        self.stdout.write(
            f"{school.name} {options['year']}: {result.added} added, {result.updated} updated, "
            f"{result.unchanged} unchanged, {result.left} marked as left; "
            f"{len(read.problems)} problem{'s' if len(read.problems) != 1 else ''} (rows not imported)."
        )
