"""`keystage validate`: check a results file with the same rules as an upload, any day of the year.

Exit status: 0 valid, 1 not valid, 2 the file (or the collection) cannot be read."""

from __future__ import annotations

import json
from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from keystage.core.results.kinds import KINDS
from keystage.pupils.management.school_option import school_from_option
from keystage.results import services, upload_checks


class Command(BaseCommand):
    help = "Validate a results file (.xlsx, .xls, .ods, .csv or CTF) against a collection's rules."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument("--collection", required=True, choices=list(KINDS))
        parser.add_argument("--year", type=int, required=True, help="academic year by its end, e.g. 2026")
        parser.add_argument(
            "--school", help="DfE number of the uploading school: checks DfE numbers and roster"
        )
        parser.add_argument("--json", action="store_true", help="print the outcome as JSON")

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["file"]
        try:
            data = path.read_bytes()
        except OSError as error:
            raise CommandError(f"Cannot read {path}: {error.strerror}", returncode=2) from None
        kind, year = options["collection"], options["year"]
        school = school_from_option(options["school"]) if options["school"] else None
        try:
            layout = services.layout_for(kind, year)
            report = upload_checks.check_file(data, kind, year, school)
        except services.CollectionError as error:
            raise CommandError(str(error), returncode=2) from None
        if options["json"]:
            self.stdout.write(json.dumps(report.as_dict(), ensure_ascii=False, indent=2))
        else:
            for issue in report.issues:
                self.stdout.write(f"{issue.severity.value:7} {issue.where}: {issue.message} [{issue.code}]")
            verdict = "valid" if report.valid else "NOT valid"
            self.stdout.write(
                f"{path.name}: {verdict} for {layout.title}: {len(report.pupils)} pupils, "
                f"{len(report.errors)} errors, {len(report.warnings)} warnings."
            )
        if not report.readable:
            raise SystemExit(2)
        if not report.valid:
            raise SystemExit(1)
