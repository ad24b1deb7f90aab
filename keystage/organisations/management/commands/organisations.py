"""`keystage organisations`: import GIAS's establishment file and list the organisations.

keystage organisations import-gias edubasealldata20260301.csv [--include-independent]
keystage organisations list [--json] [--la 940] [--kind la|trust|school]
"""

from __future__ import annotations

import json
from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db.models import Exists, OuterRef

from keystage.core.organisations import gias
from keystage.organisations import services
from keystage.organisations.models import LocalAuthority, School, Trust

KINDS = ("la", "trust", "school")


class Command(BaseCommand):
    help = "Import GIAS's establishment file (local authorities, trusts, schools) and list organisations."

    def add_arguments(self, parser: ArgumentParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
        load = sub.add_parser(
            "import-gias",
            help="create and update LAs, trusts and schools from GIAS's establishment file",
            description=(
                "Import GIAS's establishment file (edubasealldata….csv, as downloaded: Windows-1252, or "
                "UTF-8) in one transaction: state-funded schools by URN, their LAs by code and trusts by "
                "GIAS UID. Importing the same file again changes nothing. If any row has a problem, each is "
                "printed with its row, column and value, nothing is imported and the command fails."
            ),
        )
        load.add_argument("file", type=Path, help="the establishment CSV file")
        load.add_argument(
            "--include-independent",
            action="store_true",
            help="also take independent and non-maintained special schools (type independent)",
        )
        load.add_argument("--changes", action="store_true", help="print what changed for each school")
        show = sub.add_parser(
            "list",
            help="list local authorities, trusts and schools",
            description="List organisations, as text or (--json) a JSON list of objects with kind, name, "
            "la_code, and for schools urn, dfe_number, trust, phase and open.",
        )
        show.add_argument("--json", action="store_true", help="print a JSON list")
        show.add_argument("--la", metavar="CODE", help="only this LA, its schools and their trusts")
        show.add_argument("--kind", choices=KINDS, help="only this kind")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "import-gias":
            self._import(options["file"], options["include_independent"], options["changes"])
        else:
            self._list(options["json"], options["la"], options["kind"])

    def _import(self, path: Path, include_independent: bool, show_changes: bool) -> None:
        try:
            data = path.read_bytes()
        except OSError as error:
            raise CommandError(f"Cannot read {path}: {error.strerror or error}.") from None
        parsed = gias.read_gias(data, include_independent=include_independent)
        result = services.import_gias(parsed, actor_email="command line", source=path.name)
        if not result.ok:
            for problem in result.problems:
                self.stderr.write(str(problem))
            raise CommandError(result.summary_lines()[0])
        for line in result.summary_lines():
            self.stdout.write(line)
        if show_changes:
            for change in result.changes:
                self.stdout.write(f"  {change}")
        elif result.changes:
            self.stdout.write(f"{len(result.changes):,} schools changed (--changes lists them).")
        self.stdout.write(self.style.SUCCESS(f"Imported {path.name}."))

    def _list(self, as_json: bool, la_code: str | None, kind: str | None) -> None:
        las = LocalAuthority.objects.order_by("code")
        schools = School.objects.select_related("la", "trust").order_by("la__code", "dfe_number", "urn")
        trusts = Trust.objects.order_by("name")
        if la_code is not None:
            if not LocalAuthority.objects.filter(code=la_code.strip()).exists():
                raise CommandError(f"No local authority {la_code}.")
            las = las.filter(code=la_code.strip())
            schools = schools.filter(la__code=la_code.strip())
            trusts = trusts.filter(
                Exists(School.objects.filter(trust=OuterRef("pk"), la__code=la_code.strip()))
            )
        rows: list[dict[str, Any]] = []
        if kind in (None, "la"):
            rows.extend({"kind": "la", "name": la.name, "la_code": la.code} for la in las)
        if kind in (None, "trust"):
            rows.extend(
                {
                    "kind": "trust",
                    "name": trust.name,
                    "la_code": None,
                    "gias_uid": trust.gias_uid,
                    "companies_house_number": trust.companies_house_number,
                }
                for trust in trusts
            )
        if kind in (None, "school"):
            rows.extend(
                {
                    "kind": "school",
                    "name": school.name,
                    "la_code": school.la.code,
                    "urn": school.urn,
                    "dfe_number": school.dfe_number,
                    "trust": school.trust.name if school.trust else None,
                    "phase": school.phase,
                    "school_type": school.school_type,
                    "establishment_type": school.establishment_type,
                    "statutory_low_age": school.statutory_low_age,
                    "statutory_high_age": school.statutory_high_age,
                    "open": school.is_open,
                    "closed_on": school.closed_on.isoformat() if school.closed_on else None,
                }
                for school in schools
            )
        if as_json:
            self.stdout.write(json.dumps(rows, ensure_ascii=False, indent=1))
            return
        for row in rows:
            if row["kind"] == "la":
                self.stdout.write(f"LA      {row['la_code']}      {row['name']}")
            elif row["kind"] == "trust":
                uid = row["gias_uid"] or "-"
                self.stdout.write(f"trust   {uid:<10} {row['name']}")
            else:
                state = "" if row["open"] else f"  (closed {row['closed_on'] or ''})".rstrip()
                trust = f"  [{row['trust']}]" if row["trust"] else ""
                self.stdout.write(
                    f"school  {row['dfe_number']} URN {row['urn']}  {row['name']}, {row['phase']}, "
                    f"{row['school_type']}{trust}{state}"
                )
