"""`keystage retention`: delete what keystage holds about pupils once its retention period is over.

keystage retention purge [--dry-run]
    delete uploads and pupil-level data past KEYSTAGE_RETAIN_UPLOADS_YEARS and
    KEYSTAGE_RETAIN_PUPIL_DATA_YEARS (files in storage as well as rows), and audit log entries past
    KEYSTAGE_RETAIN_AUDIT_YEARS if set; print what went, kind by kind. With --dry-run, print what would
    go and delete nothing. A running `keystage worker` does this once a day by itself.
"""

from __future__ import annotations

from argparse import RawDescriptionHelpFormatter
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from keystage.privacy import retention


class Command(BaseCommand):
    help = __doc__.split("\n\n")[0]

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        parser.formatter_class = RawDescriptionHelpFormatter
        parser.epilog = __doc__.split("\n\n", 1)[1]
        return parser

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        purge = actions.add_parser("purge", help="delete data past its retention period")
        purge.add_argument(
            "--dry-run", action="store_true", help="print what would be deleted; delete nothing"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        purge = retention.purge_expired(dry_run=options["dry_run"])
        for line in purge.describe():
            self.stdout.write(line)
        if purge.dry_run:
            self.stdout.write("Dry run: nothing was deleted.")
        else:
            self.stdout.write(f"Deleted {purge.total:,} in all; the audit log records it.")
