"""`keystage measures ks4`: Attainment 8, Progress 8, EBacc and English and maths, per pupil, school,
pupil group and nation, from files or from the results schools have confirmed.

From files (nothing is stored):
    keystage measures ks4 --results results.csv --pupils pupils.csv \\
        [--points-year 2024] [--estimates dfe-2024-provisional] [--pupil-out p.csv] \\
        [--school-out s.parquet] [--not-counted-out not-counted.csv]
From the database (the figures are stored for the reports):
    keystage measures ks4 --year 2026 [--school 8004001] [--estimates platform]
EYFSP, phonics, KS1 and KS2, from files (results: upn,assessment,result; pupils: upn,nc_year, then
characteristics, and trust and la to aggregate) or from the database (stored):
    keystage measures eyfsp --results results.csv --pupils pupils.csv [--framework-year 2026] \\
        [--pupil-out p.csv] [--school-out s.csv] [--aggregate-out a.csv]
    keystage measures ks2 --year 2026 [--school 8004001]
Trends, every measure year by year from the stored runs:
    keystage measures ks2 --trends [--school 8004001] [--trend-out trends.csv]
"""

from __future__ import annotations

import dataclasses
from argparse import ArgumentParser, RawDescriptionHelpFormatter
from pathlib import Path
from typing import Any

import polars as pl
from django.core.management.base import BaseCommand, CommandError, CommandParser

from keystage.core.measures import pipeline
from keystage.core.measures.group_figures import SUPPRESS_BELOW, suppressed
from keystage.core.measures.ks4 import io
from keystage.core.measures.ks4.explanations import not_counted, not_counted_summary
from keystage.core.measures.ks4.pupils import PupilMeasures
from keystage.core.measures.primary import KEY_STAGES
from keystage.core.results.kinds import academic_year_name
from keystage.measures import reference_choice, services, trends
from keystage.measures.models import MeasureRun
from keystage.pupils.management.school_option import school_from_option

SHOWN_SCHOOLS = 20  # schools listed in the summary; the rest are in --school-out
OUTPUTS = ("pupil_out", "school_out", "aggregate_out", "subject_out", "not_counted_out")


def _estimates_help() -> str:
    try:
        # The files' releases only: building a command's help reads no database.
        names = list(reference_choice.estimates_names(reference_choice.progress8_base_folder()))
    except OSError:
        names = []
    listed = ", ".join([*names, reference_choice.PLATFORM])
    return (
        f"the Progress 8 estimates: {listed}. dfe-* are DfE's published estimates (shipped with keystage, "
        "or KEYSTAGE_REFERENCE_DIR/ks4/progress8; and any release loaded in /admin/); platform computes "
        "national estimates from the pupils given "
        "(from the database: every school's). Default: DfE's estimates of the year where published, else "
        "from files the newest DfE release and from the database platform."
    )


def _count(number: int, noun: str) -> str:
    return f"{number:,} {noun}" + ("" if number == 1 else "s")


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.0f}%"


def _number(value: float | None, places: int = 2) -> str:
    return "-" if value is None else f"{value:.{places}f}"


def _check_outputs(options: dict[str, Any], names: tuple[str, ...]) -> None:
    """Refuse an output file of an unknown kind before any work is done."""
    for option in names:
        if options[option] is not None:
            try:
                io.check_output(options[option])
            except io.TableFileError as error:
                raise CommandError(f"--{option.replace('_', '-')}: {error}") from None


def _from_files(options: dict[str, Any]) -> bool:
    """Whether the figures are asked for from files (else from the database), refusing mixed options."""
    from_files = options["results"] is not None or options["pupils"] is not None
    if options["school"] and options["year"] is None:
        raise CommandError("--school needs --year: it chooses a school's figures in the database.")
    if options["school"] and options["aggregate_out"] is not None:
        raise CommandError(
            "--aggregate-out writes every trust's and LA's figures; it cannot be given with --school."
        )
    if from_files and options["year"] is not None:
        raise CommandError(
            "Give either --results and --pupils (from files) or --year (from the database), not both."
        )
    if not from_files and options["year"] is None:
        raise CommandError(
            "Give --results and --pupils to compute from files, or --year to compute from the database."
        )
    return from_files


class Command(BaseCommand):
    help = (
        "Compute KS4 measures (A8, P8, EBacc, English and maths, subjects) or EYFSP, phonics, KS1 and KS2 "
        "measures from results and pupils files, or from the database for a year (stored for the reports)."
    )

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        parser.formatter_class = RawDescriptionHelpFormatter
        parser.epilog = (__doc__ or "").split("\n\n", 1)[1]
        return parser

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "key_stage",
            choices=["ks4", *KEY_STAGES],
            help="the key stage: ks4, eyfsp, phonics, ks1 or ks2",
        )
        parser.add_argument(
            "--framework-year",
            type=int,
            help="eyfsp, phonics, ks1, ks2: the academic year (by its end) whose framework reads the "
            "results; default: the newest",
        )
        files = parser.add_argument_group("from files")
        files.add_argument(
            "--results",
            type=Path,
            help="results file (CSV, JSON or Parquet): ks4 upn,qan,grade and exam_date or series "
            "(e.g. 2026-06-05, or summer 2026, November 2025) or both; primary upn,assessment,result",
        )
        files.add_argument(
            "--pupils",
            type=Path,
            help="pupils file: ks4 upn,ks2_reading,ks2_maths; primary upn,nc_year; then optional school, "
            "sex, disadvantaged, sen, eal, non_mobile, ethnicity_group, month_of_birth, trust, la (without "
            "school, all pupils are one school 'file')",
        )
        files.add_argument(
            "--catalogue",
            type=Path,
            help="folder of DfE's KS4 performance points, discount codes and EBacc files; default: "
            "the catalogue loaded into the database (DfE's files shipped with keystage, or a newer year's "
            "loaded in /admin/)",
        )
        database = parser.add_argument_group("from the database")
        database.add_argument(
            "--year", type=int, help="academic year by its end, e.g. 2026: the uploads in use that year"
        )
        database.add_argument("--school", help="DfE number: store only this school's (and national) figures")
        parser.add_argument(
            "--points-year",
            type=int,
            help="the catalogue year to score results with; default: the results' year (from exam dates, "
            "or --year), else the newest",
        )
        parser.add_argument("--estimates", help=_estimates_help())
        parser.add_argument(
            "--no-floors",
            action="store_true",
            help="leave extreme negative P8 scores as they are (by default they are raised to their "
            "group's floor, from national figures: the platform's estimates' own, the year's national "
            "background against DfE's estimates, else DfE's published estimates and SDs)",
        )
        parser.add_argument(
            "--pupil-out", type=Path, help="write one row per pupil (.csv, .json or .parquet)"
        )
        parser.add_argument(
            "--school-out",
            type=Path,
            help="write one row per school and pupil group with counts, CIs and national comparators "
            "(.csv, .json or .parquet)",
        )
        parser.add_argument(
            "--aggregate-out",
            type=Path,
            help="write one row per trust and LA and pupil group, over the pupils of all their schools "
            "(from files: the pupils file's trust and la columns name them)",
        )
        parser.add_argument(
            "--suppress-below",
            type=int,
            default=SUPPRESS_BELOW,
            metavar="N",
            help=f"eyfsp, phonics, ks1, ks2: figures counting fewer than N pupils are shown as SUPP and "
            f"left empty in the files (default {SUPPRESS_BELOW}; 0 shows every figure)",
        )
        parser.add_argument(
            "--not-counted-out",
            type=Path,
            help="ks4: write every result not counted in performance measures (off DfE's list for the "
            "year, not a grade of its qualification, or not in the catalogue), one row each: school, "
            "upn, qan, title, grade, series, reason",
        )
        trend_options = parser.add_argument_group("trends, from the stored runs")
        trend_options.add_argument(
            "--trends",
            action="store_true",
            help="print every measure year by year (of --school, else the nation) from each year's latest "
            "stored run, with the national figure beside it",
        )
        trend_options.add_argument(
            "--trend-out", type=Path, help="write the trends table (.csv, .json or .parquet)"
        )
        parser.add_argument(
            "--subject-out",
            type=Path,
            help="write one row per school, trust, LA and nation, pupil group and subject: entries, "
            "average points, grades and subject value added with its CI",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["suppress_below"] < 0:
            raise CommandError("--suppress-below: give a number of pupils, 0 or more.")
        if options["trends"] or options["trend_out"] is not None:
            self._trends(options)
            return
        if options["key_stage"] != "ks4":
            self._primary(options)
            return
        if options["framework_year"] is not None:
            raise CommandError("--framework-year is for the primary key stages; KS4 uses --points-year.")
        from_files = _from_files(options)
        _check_outputs(options, OUTPUTS)
        try:
            figures = self._from_files(options) if from_files else self._from_database(options)
            self._write(figures, options)
        except (pipeline.MeasuresError, io.TableFileError) as error:
            raise CommandError(str(error)) from None

    def _trends(self, options: dict[str, Any]) -> None:
        key_stage = options["key_stage"]
        others = [name for name in ("results", "pupils", "year", "pupil_out", "school_out") if options[name]]
        if others:
            given = ", ".join(f"--{name.replace('_', '-')}" for name in others)
            raise CommandError(
                f"--trends reads the stored runs of every year; {given} cannot be given with it."
            )
        _check_outputs(options, ("trend_out",))
        school = school_from_option(options["school"]) if options["school"] else None
        table = trends.trend_table(key_stage, school=school)
        years = [c.split()[0] for c in table.columns if c.endswith(" figure")]
        below = options["suppress_below"]
        small = {y: (pl.col(f"{y} pupils") > 0) & (pl.col(f"{y} pupils") < below) for y in years}
        table = table.with_columns(
            column
            for y in years
            for column in (
                pl.when(small[y]).then(None).otherwise(pl.col(f"{y} figure")).alias(f"{y} figure"),
                small[y].fill_null(False).alias(f"{y} suppressed"),
            )
        )
        whose = school.name if school is not None else "The nation"
        if not years:
            raise CommandError(
                f"No {key_stage} figures are stored yet: they are stored when results are confirmed, or "
                f"with keystage measures {key_stage} --year."
            )
        self.stdout.write(f"{whose}, {key_stage}, {' '.join(academic_year_name(int(y)) for y in years)}:")
        for row in table.iter_rows(named=True):
            cells = [
                f"{'SUPP' if row[f'{y} suppressed'] else _number(row[f'{y} figure'])} "
                f"(national {_number(row[f'{y} national'])})"
                for y in years
            ]
            self.stdout.write(f"  {row['measure']}: {'; '.join(cells)}")
        if options["trend_out"] is not None:
            try:
                io.write_table(table, options["trend_out"])
            except io.TableFileError as error:
                raise CommandError(str(error)) from None
            self.stdout.write(f"Wrote {table.height} measures to {options['trend_out']}.")

    def _primary(self, options: dict[str, Any]) -> None:
        key_stage = options["key_stage"]
        ks4_only = ("estimates", "points_year", "catalogue", "subject_out", "not_counted_out")
        given = [f"--{name.replace('_', '-')}" for name in ks4_only if options[name] is not None]
        if options["no_floors"]:
            given.append("--no-floors")
        if given:
            raise CommandError(f"{', '.join(given)}: not for {key_stage}, only for ks4.")
        from_files = _from_files(options)
        if from_files and (options["results"] is None or options["pupils"] is None):
            missing = "--pupils" if options["results"] is not None else "--results"
            raise CommandError(f"From files, give both --results and --pupils ({missing} is missing).")
        if options["year"] is not None and options["framework_year"] is not None:
            raise CommandError(
                "--framework-year is for files; from the database the year's framework is used."
            )
        _check_outputs(options, ("pupil_out", "school_out", "aggregate_out"))
        if options["framework_year"] is not None and not 2000 <= options["framework_year"] <= 2100:
            raise CommandError("--framework-year: give the academic year by its end, e.g. 2026 for 2025/26.")
        try:
            if from_files:
                figures = self._primary_from_files(key_stage, options)
                # From files the comparator is every pupil given, not the nation: say so.
                compared = "all pupils given"
            else:
                figures = self._primary_from_database(key_stage, options)
                compared = "national"
            self._write_primary(key_stage, figures, compared, options)
        except (pipeline.MeasuresError, io.TableFileError) as error:
            raise CommandError(str(error)) from None

    def _primary_from_files(self, key_stage: str, options: dict[str, Any]) -> pipeline.PrimaryFigures:
        results = io.read_primary_results(options["results"])
        pupils = io.read_primary_pupils(options["pupils"])
        figures = pipeline.primary_figures(key_stage, results, pupils, year=options["framework_year"])
        framework = figures.framework
        self.stdout.write(
            f"{framework.title} from {options['results'].name} and {options['pupils'].name}: "
            f"{_count(figures.pupils.height, 'pupil')}; the {framework.collection} framework from "
            f"{academic_year_name(framework.from_year)}."
        )
        return figures

    def _primary_from_database(self, key_stage: str, options: dict[str, Any]) -> pipeline.PrimaryFigures:
        school = school_from_option(options["school"]) if options["school"] else None
        run, figures = services.compute_and_store_primary(key_stage, options["year"], school=school)
        scope = f" for {run.school.name}" if run.school is not None else ""
        self.stdout.write(
            f"Stored {run.get_key_stage_display()} {academic_year_name(run.year)} run {run.pk}{scope}: "
            f"{_count(run.pupils, 'pupil')} in {_count(run.schools, 'school')}; {run.estimates}."
        )
        # Trust and LA ids mean nothing outside the database: the files name them as people know them.
        labels = services.organisation_labels(figures.aggregates.get_column("organisation").to_list())
        if figures.aggregates.height:
            figures.aggregates = figures.aggregates.with_columns(pl.col("organisation").replace(labels))
        figures.pupils = figures.pupils.drop("trust", "la", "school_id", strict=False)
        if school is not None:
            figures.schools = figures.schools.filter(pl.col("school") == school.dfe_number)
            figures.pupils = figures.pupils.filter(pl.col("school") == school.dfe_number)
        return figures

    def _write_primary(
        self, key_stage: str, figures: pipeline.PrimaryFigures, compared: str, options: dict[str, Any]
    ) -> None:
        for note in figures.notes:
            self.stdout.write(f"Note: {note}")
        below = options["suppress_below"]
        figures.schools = suppressed(figures.schools, figures.measures, below)
        if figures.aggregates.height:
            figures.aggregates = suppressed(figures.aggregates, figures.measures, below)
        name, words = KEY_STAGES[key_stage].headline, KEY_STAGES[key_stage].headline_words
        everyone = figures.schools.filter((pl.col("group") == "all") & (pl.col("value") == "all"))
        for row in everyone.head(SHOWN_SCHOOLS).iter_rows(named=True):
            shown = "SUPP" if row[f"{name}_suppressed"] else _percent(row[name])
            self.stdout.write(
                f"School {row['school']}: {_count(row['cohort'], 'pupil')}, {words} {shown} of "
                f"{row[f'{name}_pupils']} ({compared} {_percent(row[f'national_{name}'])})."
            )
        flags = [f"{m}_suppressed" for m in figures.measures]
        if below and figures.schools.select(pl.any_horizontal(flags).any()).item():
            self.stdout.write(f"SUPP: fewer than {below} pupils; such figures are empty in the files.")
        if everyone.height > SHOWN_SCHOOLS:
            self.stdout.write(f"... and {everyone.height - SHOWN_SCHOOLS} more schools.")
        self._write_tables(options, figures.pupils, figures.schools, figures.aggregates)

    def _from_files(self, options: dict[str, Any]) -> pipeline.Ks4Figures:
        if options["results"] is None or options["pupils"] is None:
            missing = "--pupils" if options["results"] is not None else "--results"
            raise CommandError(f"From files, give both --results and --pupils ({missing} is missing).")
        results = io.read_results(options["results"])
        pupils = io.read_pupils(options["pupils"])
        if "nc_year" in pupils.columns:  # a whole roster: KS4 is Year 11
            others = pupils.filter(pl.col("nc_year") != "11").height
            pupils = pupils.filter(pl.col("nc_year") == "11")
            if others:
                self.stdout.write(
                    f"Note: {others} pupils not in Year 11 left out (the file has an nc_year column)."
                )
        if pupils.height == 0:
            raise CommandError(f"{options['pupils'].name} has no pupils.")
        if "school" not in pupils.columns:
            pupils = pupils.with_columns(pl.lit(pipeline.FILE_SCHOOL).alias("school"))
        unknown = results.filter(~pl.col("upn").is_in(pupils.get_column("upn").implode()))
        catalogue, source = reference_choice.catalogue_from(options["catalogue"])
        years = pipeline.catalogue_years(catalogue)
        year = options["points_year"] or io.results_year(results) or (years[-1] if years else None)
        if year is None:
            raise CommandError(f"The KS4 catalogue from {source} has no years; give --points-year.")
        estimates = options["estimates"] or reference_choice.default_estimates(year, otherwise="newest")
        figures = services.compute_ks4(
            results,
            pupils,
            catalogue=catalogue,
            points_year=year,
            estimates=estimates,
            floors=not options["no_floors"],
        )
        if unknown.height:
            upns = unknown.get_column("upn").unique().sort()
            example = ", ".join(upns.head(3).to_list())
            figures.notes.append(
                f"{_count(unknown.height, 'result')} of {_count(upns.len(), 'pupil')} not in "
                f"{options['pupils'].name} left out (e.g. {example})."
            )
        self.stdout.write(
            f"KS4 from {options['results'].name} and {options['pupils'].name}: "
            f"{figures.measures.pupils.height} pupils, {results.height} results; points from the catalogue "
            f"in {source} ({figures.points_year} rules); {figures.estimates.label}."
        )
        return figures

    def _from_database(self, options: dict[str, Any]) -> pipeline.Ks4Figures:
        year = options["year"]
        school = school_from_option(options["school"]) if options["school"] else None
        catalogue = None
        if options["catalogue"] is not None:
            catalogue, _source = reference_choice.catalogue_from(options["catalogue"])
        run, figures = services.compute_and_store_ks4(
            year,
            school=school,
            estimates=options["estimates"],
            points_year=options["points_year"],
            catalogue=catalogue,
            floors=not options["no_floors"],
        )
        self.stdout.write(self._stored(run))
        # The trust and LA columns hold organisation ids, which mean nothing outside the database: the
        # files name trusts and LAs as people know them.
        pupils = figures.measures.pupils.drop("trust", "la", strict=False)
        figures.measures = dataclasses.replace(figures.measures, pupils=pupils)
        aggregated = pl.col("level").is_in(list(pipeline.AGGREGATED_BY))
        ids = {
            *figures.aggregates.get_column("organisation").to_list(),
            *figures.subjects.filter(aggregated).get_column("organisation").to_list(),
        }
        labels = services.organisation_labels(ids)
        named = pl.col("organisation").replace(labels)
        figures.aggregates = figures.aggregates.with_columns(named)
        figures.subjects = figures.subjects.with_columns(
            pl.when(aggregated).then(named).otherwise(pl.col("organisation")).alias("organisation")
        )
        if school is not None:
            figures.schools = figures.schools.filter(pl.col("school") == school.dfe_number)
            figures.subjects = figures.subjects.filter(
                ((pl.col("level") == "school") & (pl.col("organisation") == school.dfe_number))
                | (pl.col("level") == "national")
            )
            figures.measures = figures.measures.only(
                figures.measures.pupils.filter(pl.col("school") == school.dfe_number).get_column("upn")
            )
        return figures

    def _stored(self, run: MeasureRun) -> str:
        scope = f" for {run.school.name}" if run.school is not None else ""
        return (
            f"Stored KS4 {academic_year_name(run.year)} run {run.pk}{scope}: {run.pupils} pupils in "
            f"{run.schools} schools, points from the {run.points_year} rules; {run.estimates}."
        )

    def _write(self, figures: pipeline.Ks4Figures, options: dict[str, Any]) -> None:
        for note in figures.notes:
            self.stdout.write(f"Note: {note}")
        self._not_counted(figures.measures, options)
        everyone = figures.schools.filter((pl.col("group") == "all") & (pl.col("value") == "all"))
        for row in everyone.head(SHOWN_SCHOOLS).iter_rows(named=True):
            p8 = "no P8"
            if row["p8"] is not None:
                p8 = (
                    f"P8 {_number(row['p8'])} (95% CI {_number(row['p8_ci_low'])} to "
                    f"{_number(row['p8_ci_high'])}, {row['banding']})"
                )
            elif row.get("ks1_va") is not None:  # a year without Progress 8 (ks4.no_progress8)
                low, high = _number(row["ks1_va_ci_low"]), _number(row["ks1_va_ci_high"])
                p8 += (
                    f", KS1-based value added {_number(row['ks1_va'])} (95% CI {low} "
                    f"to {high}, {row['ks1_va_pupils']} pupils)"
                )
            self.stdout.write(
                f"School {row['school']}: {row['cohort']} pupils, A8 {_number(row['a8'])}, {p8}, "
                f"EBacc entry {_percent(row['ebacc_entry'])}, EBacc APS {_number(row['ebacc_aps'])}, "
                f"English and maths 4+ {_percent(row['em_4plus'])}, 5+ {_percent(row['em_5plus'])}."
            )
        if everyone.height > SHOWN_SCHOOLS:
            self.stdout.write(f"... and {everyone.height - SHOWN_SCHOOLS} more schools.")
        nation = figures.subjects.filter(
            (pl.col("level") == "national") & (pl.col("group") == "all") & (pl.col("value") == "all")
        )
        self.stdout.write(
            f"Subjects: {_count(nation.height, 'subject')}, {int(nation['entries'].sum()):,} entries"
            f" in all. {figures.subjects_basis}."
        )
        pupils = figures.pupil_table.drop("school_id", strict=False)
        self._write_tables(options, pupils, figures.schools, figures.aggregates)
        if options["subject_out"] is not None:
            io.write_table(figures.subjects, options["subject_out"])
            self.stdout.write(f"Wrote {figures.subjects.height} subject rows to {options['subject_out']}.")

    def _not_counted(self, measures: PupilMeasures, options: dict[str, Any]) -> None:
        """Every result that is not counted in performance measures, by reason (never left out
        without a word); the full list with --not-counted-out."""
        table = not_counted(measures)
        year = f" in {measures.year}" if measures.year is not None else ""
        if table.height == 0:
            self.stdout.write(f"Results not counted in performance measures{year}: none.")
        else:
            pupils = table.get_column("upn").n_unique()
            self.stdout.write(
                f"Results not counted in performance measures{year}: {_count(table.height, 'result')} "
                f"of {_count(pupils, 'pupil')}:"
            )
            for row in not_counted_summary(measures, by=None).iter_rows(named=True):
                self.stdout.write(
                    f"  {_count(row['results'], 'result')} of {_count(row['pupils'], 'pupil')}: "
                    f"{row['reason']}."
                )
            if options["not_counted_out"] is None:
                self.stdout.write("  (--not-counted-out FILE lists each of them.)")
        if options["not_counted_out"] is not None:
            io.write_table(table, options["not_counted_out"])
            written = _count(table.height, "result")
            self.stdout.write(f"Wrote {written} not counted to {options['not_counted_out']}.")

    def _write_tables(
        self, options: dict[str, Any], pupils: pl.DataFrame, schools: pl.DataFrame, aggregates: pl.DataFrame
    ) -> None:
        """--pupil-out, --school-out and --aggregate-out, as asked."""
        if options["pupil_out"] is not None:
            io.write_table(pupils, options["pupil_out"])
            self.stdout.write(f"Wrote {pupils.height} pupils to {options['pupil_out']}.")
        if options["school_out"] is not None:
            io.write_table(schools, options["school_out"])
            self.stdout.write(f"Wrote {schools.height} school and group rows to {options['school_out']}.")
        if options["aggregate_out"] is not None:
            io.write_table(aggregates, options["aggregate_out"])
            self.stdout.write(
                f"Wrote {aggregates.height} trust and LA rows to {options['aggregate_out']}."
                + ("" if aggregates.height else " (No pupil has a trust or LA.)")
            )
