"""`keystage ctf check|import|export`: Common Transfer Files on the command line."""

from __future__ import annotations

from argparse import ArgumentParser
from datetime import datetime
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from keystage.core.ctf.model import (
    DFE_DESTINATION,
    CTFDocument,
    CTFHeader,
    CTFPupil,
    SchoolRef,
    ctf_filename,
    ctf_version,
    la_destination,
)
from keystage.core.ctf.reader import CTFError, check_ctf
from keystage.core.ctf.roster import roster_from_ctf
from keystage.core.ctf.writer import write_ctf
from keystage.pupils.management.school_option import school_from_option
from keystage.pupils.models import Pupil
from keystage.pupils.services import RosterImportRefusedError, import_roster
from keystage.reference_data.services import ctf_mappings, framework_library


class Command(BaseCommand):
    help = "Check, import and export Common Transfer Files (CTF XML)."

    def add_arguments(self, parser: ArgumentParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
        check = sub.add_parser("check", help="list every problem in a CTF with its element path and UPN")
        check.add_argument("file", type=Path)
        load = sub.add_parser("import", help="import the pupils of a CTF into a school's roster")
        load.add_argument("file", type=Path)
        load.add_argument("--school", required=True, help="DfE number of the school")
        load.add_argument("--year", type=int, required=True, help="academic year by its end, e.g. 2026")
        load.add_argument(
            "--whole-school",
            action="store_true",
            help="the file is the school's whole roll: pupils not in it are marked as left",
        )
        load.add_argument("--allow-many-leavers", action="store_true")
        export = sub.add_parser("export", help="write a school's pupils as a CTF for a destination")
        export.add_argument("--school", required=True, help="DfE number of the school")
        export.add_argument("--year", type=int, required=True)
        export.add_argument("--to", required=True, help="la, dfe, or another school's DfE number")
        export.add_argument("-o", "--output", type=Path, default=Path("."), help="folder for the file")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            getattr(self, "_" + options["action"])(**options)
        except CTFError as error:
            raise CommandError(str(error)) from None

    def _check(self, file: Path, **options: Any) -> None:
        read = check_ctf(file, frameworks=framework_library(), mappings=ctf_mappings())
        header = read.document.header
        self.stdout.write(
            f"CTF {header.version}.0 from {header.source.la}{header.source.estab} {header.source.name} to "
            f"{header.destination.la}{header.destination.estab}: {len(read.document.pupils)} pupils"
        )
        for problem in read.problems:
            self.stdout.write(str(problem))
        if read.problems:
            raise CommandError(f"{len(read.problems)} problem{'s' if len(read.problems) != 1 else ''} found.")
        self.stdout.write(self.style.SUCCESS("No problems found."))

    def _import(self, file: Path, school: str, year: int, **options: Any) -> None:
        target = school_from_option(school)
        read = check_ctf(file, frameworks=framework_library(), mappings=ctf_mappings())
        header = read.document.header
        # A CTF comes from this school's MIS, or to this school from elsewhere; anything else is a mistake.
        ours = {
            f"{header.source.la}{header.source.estab}",
            f"{header.destination.la}{header.destination.estab}",
        }
        if target.dfe_number not in ours:
            raise CommandError(
                f"This CTF is from {header.source.la}{header.source.estab} to "
                f"{header.destination.la}{header.destination.estab}, not from or to {target.dfe_number} "
                f"({target.name}). Check you chose the right school and file."
            )
        roster = roster_from_ctf(read.document.pupils)
        for problem in roster.problems:
            self.stderr.write(str(problem))
        # "full" in a CTF's header is about how much of each record is included, not whether the
        # file covers the school: only the person importing can say it is the whole roll.
        full = bool(options["whole_school"])
        try:
            result = import_roster(
                school=target,
                academic_year=year,
                pupils=roster.pupils,
                full=full,
                source=file.name,
                also_in_file=roster.upns_in_file,
                supplied=roster.supplied,
                allow_many_leavers=options["allow_many_leavers"],
            )
        except RosterImportRefusedError as error:
            raise CommandError(str(error)) from None
        self.stdout.write(
            f"{target.name} {year} from {'the whole-school' if full else 'a'} CTF: {result.added} added, "
            f"{result.updated} updated, {result.unchanged} unchanged, {result.left} marked as left; "
            f"{len(roster.problems)} problem{'s' if len(roster.problems) != 1 else ''} (pupils not imported)."
        )

    def _export(self, school: str, year: int, to: str, output: Path, **options: Any) -> None:
        source_school = school_from_option(school)
        source = SchoolRef(
            la=source_school.la.code,
            estab=source_school.establishment_number,
            urn=source_school.urn,
            name=source_school.name,
            academic_year=year - 1,
        )
        if to.lower() == "la":
            destination = la_destination(source_school.la.code)
        elif to.lower() == "dfe":
            destination = DFE_DESTINATION
        else:
            other = school_from_option(to)
            destination = SchoolRef(la=other.la.code, estab=other.establishment_number, urn=other.urn)
        pupils = [
            CTFPupil(
                upn=p.upn,
                surname=p.surname,
                forename=p.forename,
                date_of_birth=p.date_of_birth,
                sex=p.sex,
                nc_year="R" if p.nc_year == 0 else str(p.nc_year),
                ethnicity=p.ethnicity,
                sen_provision=p.sen,
                fsm_eligible=True if p.fsm6 else None,
                in_care=p.looked_after or None,
            )
            for p in Pupil.objects.filter(school=source_school, academic_year=year, on_roll=True).order_by(
                "upn"
            )
        ]
        header = CTFHeader(
            version=ctf_version(year),
            generated_at=datetime.now(tz=timezone.get_current_timezone()).replace(microsecond=0, tzinfo=None),
            document_qualifier="partial",
            supplier_id="keystage",
            source=source,
            destination=destination,
        )
        output.mkdir(parents=True, exist_ok=True)
        sequence = 1
        while (output / ctf_filename(source, destination, sequence)).exists():
            sequence += 1  # never overwrite an earlier file
        path = output / ctf_filename(source, destination, sequence)
        path.write_bytes(write_ctf(CTFDocument(header, pupils)))
        self.stdout.write(f"Wrote {len(pupils)} pupils to {path}")
