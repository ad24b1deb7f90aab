"""`keystage synth`: a synthetic year, written as files and optionally loaded into the database."""

from __future__ import annotations

import time
from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from keystage.core.synth import SynthSpec, generate
from keystage.core.synth.output import rosters_by_school, write_ctfs, write_files
from keystage.organisations.models import LocalAuthority, School
from keystage.pupils.services import import_roster


class Command(BaseCommand):
    help = (
        "Generate a synthetic year of schools, pupils and results (seeded, reproducible), from one school to "
        "national scale, calibrated to published national figures."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--scale", default="small", choices=["school", "small", "mid", "national"])
        parser.add_argument("--year", type=int, default=2026, help="academic year by its end")
        parser.add_argument("--seed", type=int, default=2026)
        parser.add_argument(
            "-o", "--output", type=Path, help="folder for schools.csv, pupils.csv and results"
        )
        parser.add_argument("--per-school", action="store_true", help="also a roster CSV per school")
        parser.add_argument("--ctf", action="store_true", help="also a CTF per primary school to its LA")
        parser.add_argument("--load", action="store_true", help="create the schools and load their rosters")

    def handle(self, *args: Any, **options: Any) -> None:
        if not (options["output"] or options["load"]):
            raise CommandError("Say where the year goes: -o FOLDER, --load, or both.")
        spec = SynthSpec.at_scale(options["scale"], year=options["year"], seed=options["seed"])
        started = time.perf_counter()
        year = generate(spec)
        self.stdout.write(
            f"Generated {year.schools.height} schools, {year.pupils.height} pupils, "
            f"{year.ks4_results.height} KS4 and {year.primary_results.height} primary results "
            f"in {time.perf_counter() - started:.1f} s (seed {spec.seed})."
        )
        if options["output"]:
            written = write_files(year, options["output"], per_school=options["per_school"])
            if options["ctf"]:
                written += write_ctfs(year, options["output"] / "ctf")
            self.stdout.write(f"Wrote {len(written)} files to {options['output']}.")
        if options["load"]:
            self._load(year, spec)

    def _load(self, year: Any, spec: SynthSpec) -> None:
        rosters = rosters_by_school(year)
        loaded = 0
        for school in year.schools.iter_rows(named=True):
            with transaction.atomic():
                la, _ = LocalAuthority.objects.get_or_create(
                    code=school["la_code"], defaults={"name": f"Synthetic LA {school['la_code']}"}
                )
                target, _ = School.objects.get_or_create(
                    dfe_number=school["dfe_number"],
                    defaults={
                        "urn": str(school["urn"]),
                        "name": school["name"],
                        "phase": school["phase"],
                        "school_type": "maintained",
                        "la": la,
                    },
                )
            read = rosters[school["dfe_number"]]
            if read.problems:
                raise CommandError(
                    f"Synthetic roster of {school['dfe_number']} has problems: {read.problems[0]}"
                )
            import_roster(
                school=target, academic_year=spec.year, pupils=read.pupils, full=True, source="synth"
            )
            loaded += len(read.pupils)
        self.stdout.write(f"Loaded {year.schools.height} schools and {loaded} pupils for {spec.year}.")
