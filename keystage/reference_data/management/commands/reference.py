"""`keystage reference`: check and load assessment frameworks, the KS4 qualification catalogue and
DfE's Progress 8 estimates; a catalogue or estimates load can be previewed first (--preview)."""

from __future__ import annotations

from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.core.files import File
from django.core.management.base import BaseCommand, CommandError

from keystage.core.ctf.model import MappingError, shipped_mappings
from keystage.core.reference import ks4_catalogue
from keystage.core.reference.frameworks import FrameworkError, FrameworkLibrary, load_framework_file
from keystage.core.reference.ks4_diff import diff_catalogues
from keystage.reference_data import services


class Command(BaseCommand):
    help = "Check and load reference data: assessment frameworks and the KS4 qualification catalogue."

    def add_arguments(self, parser: ArgumentParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
        check = sub.add_parser("check", help="validate the shipped framework files, and any files given")
        check.add_argument(
            "files", nargs="*", type=Path, help="framework files (COLLECTION/YEAR.toml) to check too"
        )
        load = sub.add_parser(
            "load-framework", help="load a framework file (a new year's codes) into the database"
        )
        load.add_argument("file", type=Path)
        mapping = sub.add_parser(
            "load-ctf-mapping", help="load a CTF assessment mapping (a new year's Stage/Subject/Method codes)"
        )
        mapping.add_argument("file", type=Path)
        ks4 = sub.add_parser("load-ks4", help="load the KS4 qualification catalogue from DfE's files")
        ks4.add_argument(
            "--dfe-2019",
            type=Path,
            help="folder with performance-points.xlsx, discount-codes.xlsx and ebacc-quals.xlsx "
            "(default: DfE's files shipped with keystage, or KEYSTAGE_REFERENCE_DIR/ks4/dfe-2019)",
        )
        ks4.add_argument("--points", type=Path, help="a performance points workbook (instead of --dfe-2019)")
        ks4.add_argument("--discount-codes", type=Path)
        ks4.add_argument("--ebacc", type=Path)
        ks4.add_argument(
            "--preview",
            action="store_true",
            help="print what loading would add, remove and change compared with the loaded catalogue, "
            "and every row that cannot be read; change nothing",
        )
        p8 = sub.add_parser(
            "load-progress8",
            help="load a release of DfE's Progress 8 estimates (a8_estimates and p8_sd CSVs)",
        )
        p8.add_argument("release", help="the release, e.g. 2025prov or 2025rev")
        p8.add_argument("--estimates", type=Path, required=True, help="a8_estimates_RELEASE.csv")
        p8.add_argument("--sd", type=Path, required=True, help="p8_sd_RELEASE.csv")
        p8.add_argument("--pillars", type=Path, help="ebacc_pillar_estimates_RELEASE.csv, if published")
        p8.add_argument(
            "--preview",
            action="store_true",
            help="print whether the release is new or replaces one; change nothing",
        )
        show = sub.add_parser("show", help="show a qualification from the loaded catalogue")
        show.add_argument("qan", help="qualification number, e.g. 60146060 or 601/4606/0")
        show.add_argument("--year", type=int)

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        try:
            getattr(self, "_" + action.replace("-", "_"))(**options)
        except (
            FrameworkError,
            MappingError,
            ks4_catalogue.CatalogueFileError,
            services.ReferenceLoadError,
        ) as error:
            raise CommandError(str(error)) from None

    def _check(self, files: list[Path], **options: Any) -> None:
        library = FrameworkLibrary.from_directory()
        for framework in library.all():
            self.stdout.write(f"ok  {framework.collection} from {framework.from_year}: {framework.title}")
        for mapping in shipped_mappings():
            self.stdout.write(f"ok  CTF mapping from {mapping.from_year}: {len(mapping.entries)} assessments")
        for path in files:
            framework = load_framework_file(path)
            self.stdout.write(f"ok  {path}: {framework.collection} from {framework.from_year}")

    def _load_ctf_mapping(self, file: Path, **options: Any) -> None:
        mapping = services.load_ctf_mapping(file)
        unconfirmed = sum(1 for e in mapping.entries if not e.confirmed)
        self.stdout.write(
            self.style.SUCCESS(
                f"Loaded the CTF mapping from {mapping.from_year}: {len(mapping.entries)} assessments, "
                f"{unconfirmed} of them marked unconfirmed."
            )
        )

    def _load_framework(self, file: Path, **options: Any) -> None:
        framework = services.load_framework(file)
        self.stdout.write(
            self.style.SUCCESS(f"Loaded {framework.collection} from {framework.from_year} ({file.name}).")
        )

    def _load_ks4(self, **options: Any) -> None:
        if options["points"]:
            catalogue = ks4_catalogue.import_dfe_catalogue(
                points=options["points"], discount_codes=options["discount_codes"], ebacc=options["ebacc"]
            )
            source = str(options["points"])
        else:
            folder = options["dfe_2019"] or services.ks4_catalogue_folder()
            if not folder.is_dir():
                raise CommandError(f"No folder {folder}. Give --dfe-2019 FOLDER or --points FILE.")
            catalogue = ks4_catalogue.import_dfe_2019_folder(folder)
            source = str(folder)
        if options["preview"]:
            diff = diff_catalogues(services.loaded_ks4_catalogue(), catalogue)
            for line in diff.lines():
                self.stdout.write(line)
            self.stdout.write(self.style.WARNING("Preview only: nothing was loaded."))
            return
        if not catalogue.qualifications:
            raise CommandError(f"{source}: the files list no qualifications; nothing was loaded.")
        record = services.load_ks4_catalogue(catalogue, source=source)
        for line in record.summary:
            self.stdout.write(line)
        for problem in record.problems:
            self.stderr.write(f"could not read: {problem}")
        self.stdout.write(self.style.SUCCESS("KS4 catalogue loaded."))

    def _load_progress8(self, release: str, **options: Any) -> None:
        paths = {
            "a8_estimates": options["estimates"],
            "sd": options["sd"],
            "pillar_estimates": options["pillars"],
        }
        opened = {}
        try:
            for role, path in paths.items():
                if path is not None:
                    opened[role] = File(path.open("rb"), name=path.name)
        except OSError as error:
            raise CommandError(f"Cannot read {error.filename}: {error.strerror}.") from None
        try:
            if options["preview"]:
                for line in services.estimates_diff(release, opened).lines():
                    self.stdout.write(line)
                self.stdout.write(self.style.WARNING("Preview only: nothing was loaded."))
                return
            # The same two steps as in /admin/: the preview's files are what is applied.
            pending = services.preview_estimates(release, opened)
        finally:
            for file in opened.values():
                file.close()
        for line in services.pending_diff(pending).lines():
            self.stdout.write(line)
        record = services.apply_reference_load(pending.pk)
        self.stdout.write(self.style.SUCCESS(f"Loaded: {'; '.join(record.summary)}."))

    def _show(self, qan: str, year: int | None, **options: Any) -> None:
        from keystage.reference_data.models import Qualification

        normalised = ks4_catalogue.normalise_qan(qan)
        found = Qualification.objects.filter(pk=normalised).first() if normalised else None
        if found is None:
            raise CommandError(f"No qualification {qan} in the loaded catalogue.")
        self.stdout.write(f"{found.qan}  {found.title}")
        self.stdout.write(f"type: {found.qualification_type or '-'}  category: {found.category or '-'}")
        grades = ", ".join(f"{g.grade}={g.points:g}" for g in found.grades.order_by("-points"))
        self.stdout.write(f"grades: {grades or '-'}")
        years = found.years.order_by("year")
        if year is not None:
            years = years.filter(year=year)
        for entry in years:
            syllabuses = found.syllabuses.filter(year=entry.year).order_by("syllabus")
            per_syllabus = ", ".join(f"{s.syllabus} {s.title}: {s.discount_code}" for s in syllabuses)
            code = entry.discount_code or (f"by syllabus ({per_syllabus})" if per_syllabus else "-")
            self.stdout.write(f"{entry.year}: discount code {code}, EBacc {entry.ebacc_pillar or '-'}")
