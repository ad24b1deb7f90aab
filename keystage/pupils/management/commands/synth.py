"""`keystage synth`: a synthetic year, written as files and optionally loaded into the database.

`keystage synth fill-template TEMPLATE.xlsx --collection KIND --year YYYY -o OUT.xlsx [--seed N]
[--errors N]` fills a template downloaded from keystage with synthetic results for its pupils,
optionally with N realistic mistakes, for demos and tests.

`keystage synth ks5 --year YYYY [--scale S] [--seed N] -o FILE.csv` writes a national KS5 (A level)
outcomes dataset in keystage's import format (keystage.core.estimates.ks5), for
`keystage estimates import-ks5`.
"""

from __future__ import annotations

import time
from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from keystage.core.results.kinds import KINDS
from keystage.core.synth import SynthSpec, generate
from keystage.core.synth.output import rosters_by_school, write_ctfs, write_files
from keystage.organisations.models import LocalAuthority, School
from keystage.pupils.services import import_roster

FILL_TEMPLATE = "fill-template"
KS5 = "ks5"
DEFAULT_YEAR = 2026


class Command(BaseCommand):
    help = (
        "Generate a synthetic year of schools, pupils and results (seeded, reproducible), from one school to "
        "national scale, calibrated to published national figures. "
        "`keystage synth fill-template TEMPLATE.xlsx --collection KIND --year YYYY -o OUT.xlsx` fills a "
        "template downloaded from keystage with synthetic results for its pupils (--errors N plants N "
        "realistic mistakes)."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "mode",
            nargs="?",
            choices=[FILL_TEMPLATE, KS5],
            help="fill-template: fill a downloaded template instead of generating a year; ks5: write a "
            "national A level outcomes dataset",
        )
        parser.add_argument(
            "template", nargs="?", type=Path, help="fill-template: the template .xlsx to fill"
        )
        parser.add_argument("--scale", default="small", choices=["school", "small", "mid", "national"])
        parser.add_argument(
            "--year", type=int, help=f"academic year by its end (a synthetic year: default {DEFAULT_YEAR})"
        )
        parser.add_argument("--seed", type=int, default=2026)
        parser.add_argument(
            "-o",
            "--output",
            type=Path,
            help="folder for schools.csv, pupils.csv and results; fill-template: the .xlsx to write",
        )
        parser.add_argument("--per-school", action="store_true", help="also a roster CSV per school")
        parser.add_argument("--ctf", action="store_true", help="also a CTF per primary school to its LA")
        parser.add_argument("--load", action="store_true", help="create the schools and load their rosters")
        parser.add_argument(
            "--collection", choices=list(KINDS), help="fill-template: the template's collection"
        )
        parser.add_argument(
            "--errors", type=int, default=0, help="fill-template: plant this many realistic mistakes"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["mode"] == FILL_TEMPLATE:
            self._fill_template(options)
            return
        if options["mode"] == KS5:
            self._ks5(options)
            return
        if options["collection"] or options["errors"]:
            raise CommandError("--collection and --errors are for keystage synth fill-template.")
        if not (options["output"] or options["load"]):
            raise CommandError("Say where the year goes: -o FOLDER, --load, or both.")
        spec = SynthSpec.at_scale(
            options["scale"], year=options["year"] or DEFAULT_YEAR, seed=options["seed"]
        )
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

    def _ks5(self, options: dict[str, Any]) -> None:
        from keystage.core.measures.pipeline import MeasuresError
        from keystage.core.synth.ks5 import synthetic_ks5_year
        from keystage.measures.reference_choice import catalogue_from

        output: Path | None = options["output"]
        if output is None or output.suffix.lower() not in (".csv", ".parquet"):
            raise CommandError("Say where the dataset goes: -o FILE.csv (or .parquet).")
        if options["load"] or options["ctf"] or options["per_school"] or options["collection"]:
            raise CommandError(
                "keystage synth ks5 writes one file: --load, --ctf, --per-school and --collection "
                "are for synthetic years."
            )
        spec = SynthSpec.at_scale(
            options["scale"], year=options["year"] or DEFAULT_YEAR, seed=options["seed"]
        )
        try:
            catalogue, _ = catalogue_from(None)
        except MeasuresError as error:
            raise CommandError(str(error)) from None
        started = time.perf_counter()
        rows = synthetic_ks5_year(spec, catalogue)
        output.parent.mkdir(parents=True, exist_ok=True)
        if output.suffix.lower() == ".parquet":
            rows.write_parquet(output)
        else:
            rows.write_csv(output)
        self.stdout.write(
            f"Wrote {rows.height:,} A level results of {rows.get_column('upn').n_unique():,} students "
            f"({spec.year}, from the {options['scale']} synthetic KS4 cohort of {spec.year - 2}) to {output} "
            f"in {time.perf_counter() - started:.1f} s."
        )

    def _fill_template(self, options: dict[str, Any]) -> None:
        from keystage.core.results.fill import FillError, fill_template
        from keystage.results import services

        template: Path | None = options["template"]
        usage = "keystage synth fill-template TEMPLATE.xlsx --collection KIND --year YYYY -o OUT.xlsx"
        if template is None:
            raise CommandError(f"Give the template to fill: {usage}")
        missing = [name for name in ("collection", "year", "output") if not options[name]]
        if missing:
            names = ", ".join("-o" if m == "output" else f"--{m}" for m in missing)
            raise CommandError(f"fill-template needs {names}: {usage}")
        if options["load"] or options["ctf"] or options["per_school"]:
            raise CommandError("--load, --ctf and --per-school make a synthetic year, not a filled template.")
        if options["errors"] < 0:
            raise CommandError("--errors is how many mistakes to plant: 0 or more.")
        try:
            data = template.read_bytes()
        except OSError as error:
            raise CommandError(f"Cannot read {template}: {error.strerror}") from None
        kind, year = options["collection"], options["year"]
        try:
            layout = services.layout_for(kind, year)
        except services.CollectionError as error:
            raise CommandError(str(error)) from None
        try:
            filled = fill_template(data, layout, seed=options["seed"], errors=options["errors"])
        except FillError as error:
            raise CommandError(f"{template.name}: {error}.") from None
        output: Path = options["output"]
        try:
            output.write_bytes(filled.data)
        except OSError as error:
            raise CommandError(f"Cannot write {output}: {error.strerror}") from None
        self.stdout.write(
            f"Wrote {output}: {layout.title} results for {filled.pupils} pupils, {filled.results} results "
            f"(seed {options['seed']})."
        )
        if filled.errors_asked:
            self.stdout.write(f"Planted {len(filled.mistakes)} of {filled.errors_asked} mistakes:")
            for mistake in filled.mistakes:
                self.stdout.write(f"  {mistake.severity.value:7} {mistake.describe()}")
