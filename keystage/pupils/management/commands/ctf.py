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
from keystage.core.ctf.reader import CTFError, CTFRead, check_ctf
from keystage.core.ctf.roster import roster_from_ctf
from keystage.core.ctf.writer import write_ctf
from keystage.core.results.kinds import KINDS, academic_year_name
from keystage.organisations.models import School
from keystage.pupils.management.school_option import school_from_option
from keystage.pupils.models import Pupil
from keystage.pupils.services import RosterImportRefusedError, import_roster
from keystage.reference_data.services import ctf_mappings, framework_library
from keystage.results.la_ctf import export_la_ctf, la_ctf_refs
from keystage.results.models import Collection
from keystage.results.services import CollectionError

# The collections whose results go to the LA as a CTF.
RESULTS_KINDS = [key for key, kind in KINDS.items() if kind.la_tag]


def _school_words(school: SchoolRef | None) -> str:
    """A header's school as its LA and establishment number and name, or that the file gives none."""
    if school is None:
        return "(no school given)"
    number = f"{school.la}{school.estab}".strip()
    words = " ".join(part for part in (number, (school.name or "").strip()) if part)
    return words or "(no school given)"


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
        load.add_argument(
            "--allow-many-leavers",
            action="store_true",
            help="with --whole-school: the file may mark more than half the roll as left",
        )
        export = sub.add_parser(
            "export",
            help="write a school's pupils, or its confirmed results of a collection, as a CTF",
            description=(
                "Without --collection: the school's roster (pupils on roll in the year, no results) as a "
                "CTF for the destination. With --collection: the school's confirmed results of that "
                "collection (the submission in use) as StageAssessments, in a CTF for its LA, as the "
                "collection's page downloads it."
            ),
        )
        export.add_argument("--school", required=True, help="DfE number of the school")
        export.add_argument("--year", type=int, required=True, help="academic year by its end, e.g. 2026")
        export.add_argument("--to", required=True, help="la, dfe, or another school's DfE number")
        export.add_argument(
            "--collection",
            choices=RESULTS_KINDS,
            help="write the confirmed results of this collection (needs --to la); without it, the roster",
        )
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
            f"CTF {header.version}.0 from {_school_words(header.source)} to "
            f"{_school_words(header.destination)}: {len(read.document.pupils)} "
            f"pupil{'' if len(read.document.pupils) == 1 else 's'}"
        )
        self._write_what_was_found(read)
        if read.errors:
            raise CommandError(f"{len(read.errors)} problem{'s' if len(read.errors) != 1 else ''} found.")
        warnings = len(read.warnings)
        self.stdout.write(
            self.style.SUCCESS(
                "No problems found"
                + (f" ({warnings} warning{'s' if warnings != 1 else ''})." if warnings else ".")
            )
        )

    def _write_what_was_found(self, read: CTFRead) -> None:
        """Each problem and warning, then the parts of the file keystage skipped, with their pupils."""
        for problem in read.problems:
            self.stdout.write(str(problem))
        if read.not_read:
            parts = ", ".join(f"{name} ({count})" for name, count in sorted(read.not_read.items()))
            self.stdout.write(
                f"Not read (keystage does not use them), with the pupils that have them: {parts}"
            )

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
        # The file's results are not imported here (a collection's upload takes them), but what the
        # check found in them is said, as `ctf check` says it.
        self._write_what_was_found(read)
        roster = roster_from_ctf(read.document.pupils, academic_year=year)
        for problem in roster.problems:
            self.stderr.write(str(problem))
        for warning in roster.warnings:
            self.stdout.write(str(warning))
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
        if options.get("collection"):
            self._export_results(source_school, year, to, output, options["collection"])
            return
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

    def _export_results(self, school: School, year: int, to: str, output: Path, kind: str) -> None:
        if to.lower() != "la":
            raise CommandError(
                f"A results CTF goes to the school's LA: use --to la (not “{to}”), or leave out --collection "
                "to export the roster."
            )
        collection = Collection.objects.filter(kind=kind, year=year).first()
        if collection is None:
            raise CommandError(f"There is no {KINDS[kind].title} {academic_year_name(year)} collection.")
        source, destination = la_ctf_refs(school)
        sequence = 1
        while (output / ctf_filename(source, destination, sequence)).exists():
            sequence += 1  # never overwrite an earlier file
        try:
            made = export_la_ctf(collection, school, actor=None, sequence=sequence)
        except CollectionError as error:
            raise CommandError(str(error)) from None
        output.mkdir(parents=True, exist_ok=True)  # only once there is a file to write
        path = output / made.filename
        path.write_bytes(made.data)
        self.stdout.write(
            f"Wrote {made.pupils} pupils with {made.results} results of {collection} "
            f"({school.name}'s confirmed submission) to {path}"
        )
        for assessment, count in made.unmapped.items():
            results = f"{count} result{'s' if count != 1 else ''}"
            self.stderr.write(
                f"Not written: {results} of {assessment}: the CTF mapping for "
                f"{academic_year_name(year)} has no coding for it."
            )
