"""Every figure of a key stage from plain tables: the measures pipeline, usable from a notebook with
no Django (the platform's keystage.measures.services gathers the tables from the database, chooses
the reference data, and stores what this returns).

KS4 (``ks4_figures``): the estimates chosen, P8 floors, pupil figures, school figures for every
pupil group with national comparators and each school's place, trust, LA and national figures, and
subject figures. Primary (``primary_figures``): the key stage's pupil figures, school, trust, LA and
national figures for every pupil group, and each school's place in each measure.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field

import polars as pl

from keystage.core.measures.group_figures import (
    Measure,
    group_figures,
    national_figures,
    places,
    with_national,
)
from keystage.core.measures.ks4 import estimates as ks4_estimates
from keystage.core.measures.ks4 import no_progress8
from keystage.core.measures.ks4.estimates import Estimates
from keystage.core.measures.ks4.ks1_value_added import Ks1Groups
from keystage.core.measures.ks4.points import points_table
from keystage.core.measures.ks4.prior_attainment import without_progress8
from keystage.core.measures.ks4.progress import with_national_floors
from keystage.core.measures.ks4.pupils import PupilMeasures, pupil_measures
from keystage.core.measures.ks4.schools import (
    aggregate,
    national_measures,
    rank_schools,
    school_measures,
    with_comparators,
)
from keystage.core.measures.ks4.subjects import SUBJECT_COLUMNS, SubjectMeasures
from keystage.core.measures.primary import KEY_STAGES, phonics
from keystage.core.reference.frameworks import Framework, FrameworkLibrary
from keystage.core.reference.ks4_catalogue import Catalogue
from keystage.core.refusals import Refused
from keystage.core.results.kinds import academic_year_name

FILE_SCHOOL = "file"  # the school of a pupils file without a school column
# The columns of the pupils table that name each pupil's trust and LA, whose aggregates are computed.
AGGREGATED_BY = ("trust", "la")


class MeasuresError(Refused):
    """A computation that cannot be done as asked; str() is the message to show."""


@dataclass(frozen=True)
class PlatformEstimates:
    """Estimates worked out from the pupils given (the nation's, from the database), in the prior
    attainment groups of ``groups``: DfE's newest release; None when ``where`` holds none."""

    groups: Estimates | None
    where: str  # where DfE's releases were looked for, for the message when there are none


EstimatesChoice = Estimates | PlatformEstimates | Callable[[], Estimates | PlatformEstimates]


@dataclass(frozen=True)
class NationalFloors:
    """Floors of DfE's estimates set from a year's national cohort (``ks4_estimates.national_floors``)."""

    floors: pl.DataFrame  # pag, p8_floor
    pupils: int  # the cohort's pupils with a P8
    cohort: str  # how the cohort is known, e.g. the background's label


# The floors of the chosen estimates from the year's national cohort (scored with the points), if any.
CohortFloors = Callable[[Estimates, pl.DataFrame], NationalFloors | None]


def catalogue_years(catalogue: Catalogue) -> list[int]:
    return sorted({y for q in catalogue.qualifications.values() for y in (*q.discount_codes, *q.syllabuses)})


# KS4 -------------------------------------------------------------------------------------------


@dataclass
class Ks4Figures:
    measures: PupilMeasures  # pupil figures, P8 adjusted with the floors used
    schools: pl.DataFrame  # one row per school, group and value, with national comparators and rank
    national: pl.DataFrame  # the same figures over all pupils (school "national")
    estimates: Estimates
    points_year: int  # the catalogue year the results were scored with
    floors: pl.DataFrame | None  # the negative-score floors applied (pag, p8_floor)
    # Trust and LA figures: level ("trust" or "la"), organisation, then the school table's columns.
    aggregates: pl.DataFrame
    # Subject figures: level ("school", "trust", "la" or "national"), organisation (the school's DfE
    # number; the trust or LA as the pupils table names it: from files its name, from the database its
    # id; or "national"), then SUBJECT_COLUMNS.
    subjects: pl.DataFrame
    subjects_basis: str  # what subject value added was measured against
    notes: list[str] = field(default_factory=list)
    # In a year without Progress 8: keystage's KS1-based value added instead (ks4.no_progress8).
    value_added: no_progress8.ValueAdded | None = None

    @property
    def pupil_table(self) -> pl.DataFrame:
        """What --pupil-out writes: PUPIL_COLUMNS, the pupil's other columns, the estimates used."""
        return self.measures.pupils.with_columns(pl.lit(self.estimates.label).alias("estimates"))


def _estimates(
    choice: EstimatesChoice, results: pl.DataFrame, pupils: pl.DataFrame, points: pl.DataFrame, year: int
) -> Estimates:
    chosen = choice() if callable(choice) else choice
    if isinstance(chosen, Estimates):
        return chosen
    if chosen.groups is None:
        raise MeasuresError(
            f"Platform estimates use the prior attainment groups of DfE's a8_estimates files, and "
            f"{chosen.where} has none."
        )
    # DfE's groups (their KS2 ranges); the means from the pupils given.
    plain = pupil_measures(results, pupils, points).pupils
    with_pag = chosen.groups.assign_pag(plain, "ks2_pa")
    counted = with_pag.filter(pl.col("pag").is_not_null()).height
    label = f"Platform {year} national estimates ({counted:,} pupils)"
    try:
        return ks4_estimates.platform_estimates(with_pag, chosen.groups.ranges, label)
    except ValueError as error:
        raise MeasuresError(f"Platform estimates cannot be computed: {error}.") from None


def _floors(
    chosen: Estimates, points: pl.DataFrame, cohort_floors: CohortFloors | None
) -> tuple[pl.DataFrame, str]:
    """The negative-score floors of the estimates, from national figures only, and the note that says
    where they came from, in this order:

    1. estimates that carry floors (the platform's): those, from the same national pupils;
    2. DfE's estimates, where the year's national cohort is at hand (``cohort_floors``, the platform's
       national background): that cohort's P8 against DfE's estimates, as DfE sets floors; the same
       whichever schools have results and whichever school a run is for;
    3. otherwise (files, or a platform without a national background): DfE's published figures
       alone (``ks4_estimates.published_floors``)."""
    words = "Progress 8 floors (extreme negative scores raised for the adjusted P8)"
    if chosen.floors is not None:
        return chosen.floors, f"{words} from the same national pupils as the {chosen.label}."
    found = cohort_floors(chosen, points) if cohort_floors is not None else None
    if found is not None:
        return found.floors, (
            f"{words} from the {found.pupils:,} pupils of the year's national cohort ({found.cohort}) "
            f"against the {chosen.label}, as DfE sets them: about 1% of them fall below their "
            "group's floor. The same floors for every school and run of the year."
        )
    published = ks4_estimates.published_floors(chosen)
    floor = float(published.get_column("p8_floor")[0])  # the same in every group
    return published, (
        f"{words} from DfE's published figures, as no national cohort is at hand: each group's mean P8 "
        f"against the {chosen.label} is 0 and its floor {floor:+.2f}, {-floor / chosen.sd['p8']:.2f} "
        f"national standard deviations of P8 ({chosen.sd['p8']:.3f}) below, where about 1% of a normal "
        "distribution falls (DfE publishes no floors, nor a standard deviation per group). The same "
        "floors for every run with these estimates."
    )


def ks4_figures(
    results: pl.DataFrame,
    pupils: pl.DataFrame,
    *,
    catalogue: Catalogue,
    points_year: int,
    estimates: EstimatesChoice,
    floors: bool = True,
    year: int | None = None,
    cohort_floors: CohortFloors | None = None,
    stored_ks1_groups: Callable[[int], Ks1Groups | None] | None = None,
) -> Ks4Figures:
    """Every KS4 figure of the pupils (a ``school`` column, upn, ks2_reading, ks2_maths and their
    characteristics) from their results (upn, qan, grade, exam_date): pupil figures, school figures for
    every pupil group with national comparators and each school's place, and the national figures.

    ``estimates``: DfE's (loaded), ``PlatformEstimates`` (worked out from these pupils), or a function
    giving either, called only in a year with Progress 8. ``floors``: extreme negative P8 scores are
    raised to their group's floor, which comes from national figures, never from these pupils (see
    ``_floors``): the same pupils get the same adjusted P8 alone or beside others. ``cohort_floors``:
    the floors of DfE's estimates set from the year's national cohort, where one is at hand.
    ``year``: the pupils are the year's nation (from the database), which names the platform's
    estimates (default: the points year). ``stored_ks1_groups``: a year's national KS1 groups, which
    pupils from files are measured against in a year without Progress 8."""
    years = catalogue_years(catalogue)
    rules_year = catalogue.rules_year(points_year)
    if rules_year is None:
        span = f"{years[0]} to {years[-1]}" if years else "no years"
        raise MeasuresError(
            f"The KS4 catalogue has no points for {points_year} or before (it covers {span})."
        )
    points = points_table(catalogue, points_year)
    notes = []
    if rules_year != points_year:
        notes.append(
            f"Scored with the catalogue's {rules_year} rules, its newest on or before {points_year}."
        )
    # A year DfE publishes no Progress 8 for has none here either: KS1-based value added instead.
    gap = without_progress8(no_progress8.results_year(year, results, points_year))
    if gap is None:
        chosen = _estimates(estimates, results, pupils, points, year or points_year)
    else:
        chosen = no_progress8.no_progress8_estimates(gap)
    measures = pupil_measures(results, pupils, points, None if gap else chosen)
    applied = chosen.floors
    has_p8 = measures.pupils.get_column("p8").is_not_null().any()
    if floors and has_p8:
        applied, note = _floors(chosen, points, cohort_floors)
        measures, applied = with_national_floors(measures, applied)
        notes.append(note)
    elif not floors and applied is not None:  # --no-floors: no score raised, whatever the estimates
        measures, applied = with_national_floors(measures, applied.clear())[0], None
    if not has_p8 and gap is None:
        notes.append("No pupil has KS2 prior attainment, so there is no Progress 8.")
    measures = dataclasses.replace(measures, pupils=_with_school_owners(measures.pupils))
    added = None
    if gap is not None:
        # From the database the pupils are the nation's, whose KS1 groups they are measured against.
        with_va, added = no_progress8.value_added(
            measures.pupils, gap, national=year is not None, stored_groups=stored_ks1_groups
        )
        measures = dataclasses.replace(measures, pupils=with_va)
        notes.extend(added.notes)
    table = measures.pupils
    try:
        schools = school_measures(table, chosen)
        national = national_measures(table, chosen)
        aggregates = _aggregates(table, chosen, national)
        if added is not None:
            schools, national, aggregates = no_progress8.with_figures(
                table, schools, national, aggregates, added, aggregated_by(table)
            )
    except ValueError as error:
        raise MeasuresError(f"The school figures cannot be computed: {error}.") from None
    ranks = rank_schools(schools).select(
        "school", pl.lit("all").alias("group"), pl.lit("all").alias("value"), "rank", "percentile", "quintile"
    )
    combined = with_comparators(schools, national).join(
        ranks, on=["school", "group", "value"], how="left", maintain_order="left"
    )
    # From the database the pupils are every school's that year; from files, only those given.
    basis = "the national" if year is not None else "all the given pupils'"
    subjects = SubjectMeasures(measures, catalogue.discount_descriptions, basis=basis)
    # Each pupil's KS4 average point score, stored with their figures: KS5 estimates' prior attainment.
    measures = dataclasses.replace(
        measures,
        pupils=measures.pupils.join(subjects.average_points(), on="upn", how="left", maintain_order="left"),
    )
    try:
        subject_table = _subject_table(subjects, table)
    except ValueError as error:
        raise MeasuresError(f"The subject figures cannot be computed: {error}.") from None
    return Ks4Figures(
        measures,
        combined,
        national,
        chosen,
        rules_year,
        applied,
        aggregates,
        subject_table,
        subjects.label,
        notes,
        added,
    )


def _with_school_owners(table: pl.DataFrame) -> pl.DataFrame:
    """Trusts and LAs belong to schools: a pupil whose trust (LA) is blank takes the one the school's
    other pupils name; a school whose pupils name two is refused."""
    for by in AGGREGATED_BY:
        if by not in table.columns:
            continue
        named = pl.col(by).cast(pl.String)
        owners = table.group_by("school").agg(named.drop_nulls().unique().sort().alias("_owners"))
        mixed = owners.filter(pl.col("_owners").list.len() > 1).sort("school")
        if mixed.height:
            school, names = mixed.row(0)
            word = "LA" if by == "la" else by
            raise MeasuresError(
                f"The pupils of school {school} name more than one {word} ({', '.join(names)}); all the "
                f"pupils of a school must have the same {word}."
            )
        table = table.with_columns(named.drop_nulls().first().over("school").alias(by))
    return table


def aggregated_by(table: pl.DataFrame) -> list[str]:
    """The trust and LA columns of the pupils table that name at least one organisation."""
    return [by for by in AGGREGATED_BY if by in table.columns and table.get_column(by).is_not_null().any()]


def _aggregates(table: pl.DataFrame, chosen: Estimates, national: pl.DataFrame) -> pl.DataFrame:
    """Trust and LA figures (over the pupils of all their schools) with national comparators, one
    table: level, organisation, then the school table's columns."""
    parts = [
        with_comparators(aggregate(table, chosen, by=by), national).select(
            pl.lit(by).alias("level"), pl.col(by).alias("organisation"), pl.exclude(by)
        )
        for by in aggregated_by(table)
    ]
    if parts:
        return pl.concat(parts, how="vertical")
    return pl.DataFrame(schema={"level": pl.String, "organisation": pl.String})


def _subject_table(subjects: SubjectMeasures, table: pl.DataFrame) -> pl.DataFrame:
    """Subject figures of every school, trust, LA and the nation, one table: level, organisation,
    then SUBJECT_COLUMNS."""
    levels = [("school", subjects.table("school"))]
    levels += [(by, subjects.table(by)) for by in aggregated_by(table)]
    levels.append(("national", subjects.national()))
    return pl.concat(
        [
            part.select(
                pl.lit(level).alias("level"), pl.col(part.columns[0]).alias("organisation"), *SUBJECT_COLUMNS
            )
            for level, part in levels
        ],
        how="vertical",
    )


# Primary key stages ------------------------------------------------------------------------------


@dataclass
class PrimaryFigures:
    pupils: pl.DataFrame  # one row per pupil of the key stage's year groups
    schools: pl.DataFrame  # per school, group and value, with national comparators
    national: pl.DataFrame
    framework: Framework
    # Trust and LA figures: level ("trust" or "la"), organisation, then the school table's columns.
    aggregates: pl.DataFrame
    # Each school's place among schools in each measure: school, measure, rank, out_of, percentile,
    # quintile (group_figures.places).
    places: pl.DataFrame
    measures: dict[str, Measure]
    figure_columns: list[str]  # the pupil table's columns the key stage worked out
    notes: list[str] = field(default_factory=list)


def primary_framework(key_stage: str, year: int | None, library: FrameworkLibrary | None = None) -> Framework:
    """The key stage's assessment framework for the academic year ending in ``year`` (None: the
    newest), from ``library`` (default: the frameworks keystage ships)."""
    library = library or FrameworkLibrary.from_directory()
    versions = library.versions(key_stage)
    if not versions:
        raise MeasuresError(f"No {key_stage} assessment framework is loaded.")
    if year is None:
        return versions[-1]
    try:
        return library.for_year(key_stage, year)
    except KeyError:
        raise MeasuresError(
            f"No {key_stage} framework covers {academic_year_name(year)} (the first is from "
            f"{academic_year_name(versions[0].from_year)})."
        ) from None


def primary_figures(
    key_stage: str,
    results: pl.DataFrame,
    pupils: pl.DataFrame,
    *,
    year: int | None = None,
    library: FrameworkLibrary | None = None,
) -> PrimaryFigures:
    """The key stage's pupil figures and school figures for every pupil group with national
    comparators, from results (upn, assessment, result) and pupils (upn, nc_year, school and
    characteristics), with the framework of ``year`` (None: the newest) from ``library`` (default:
    the frameworks keystage ships). Pupils outside the key stage's year groups are left out, with a
    note."""
    library = library or FrameworkLibrary.from_directory()
    stage = KEY_STAGES.get(key_stage)
    if stage is None:
        raise MeasuresError(f"No primary key stage called “{key_stage}”.")
    if "nc_year" not in pupils.columns:
        raise MeasuresError("The pupils have no nc_year: it says who is in the year groups assessed.")
    framework = primary_framework(key_stage, year, library)
    years = stage.year_groups
    nc_year = pl.col("nc_year").cast(pl.String).str.strip_chars().str.to_uppercase().replace("R", "0")
    kept = pupils.filter(nc_year.cast(pl.Float64, strict=False).is_in([float(y) for y in years]))
    kept = kept.with_columns(nc_year.cast(pl.Float64, strict=False).cast(pl.Int64).alias("nc_year"))
    notes = _primary_notes(key_stage, framework, library, results, pupils, kept)
    if kept.height < pupils.height:
        names = " or ".join("Reception" if y == 0 else f"Year {y}" for y in years)
        notes.insert(0, f"{_pupils(pupils.height - kept.height)} not in {names} left out.")
    if kept.height == 0:
        raise MeasuresError(f"No pupil is in the year groups {key_stage} assesses.")
    if "school" not in kept.columns:
        kept = kept.with_columns(pl.lit(FILE_SCHOOL).alias("school"))
    kept = _with_school_owners(kept)
    try:
        table = stage.pupil_figures(results, kept, framework)
        measures = stage.measures(framework)
        national = national_figures(table, measures)
        schools = with_national(group_figures(table, measures), national, measures)
        parts = [
            with_national(group_figures(table, measures, by=by), national, measures).select(
                pl.lit(by).alias("level"), pl.col(by).alias("organisation"), pl.exclude(by)
            )
            for by in aggregated_by(table)
        ]
        aggregates = pl.concat(parts) if parts else pl.DataFrame(schema={"level": pl.String})
        if stage.with_extras is not None:
            national = stage.with_extras(national, table)
            schools = stage.with_extras(schools, table)
            aggregates = stage.with_extras(aggregates, table) if parts else aggregates
        ranked = places(schools, measures)
    except (ValueError, KeyError) as error:
        raise MeasuresError(f"The {key_stage} figures cannot be computed: {error}.") from None
    worked_out = [c for c in table.columns if c not in kept.columns]
    return PrimaryFigures(
        table, schools, national, framework, aggregates, ranked, dict(measures), worked_out, notes
    )


def _pupils(count: int) -> str:
    return f"{count:,} pupil" + ("" if count == 1 else "s")


def _primary_notes(
    key_stage: str,
    framework: Framework,
    library: FrameworkLibrary,
    results: pl.DataFrame,
    pupils: pl.DataFrame,
    kept: pl.DataFrame,
) -> list[str]:
    """What the figures leave out of the results, said rather than dropped silently: assessments no
    framework knows, results of pupils not in the pupils table, a second result for one assessment,
    and pupils' columns named like an assessment."""
    known = {a.code for f in library.all() for a in f.assessments} | {phonics.YEAR1_MARK}
    own = {a.code for a in framework.assessments} | (
        {phonics.YEAR1_MARK} if key_stage == "phonics" else set()
    )
    named = results.with_columns(pl.col("assessment").cast(pl.String).str.strip_chars().str.to_lowercase())
    notes = []
    unknown = named.filter(~pl.col("assessment").is_in(sorted(known)))
    if unknown.height:
        names = ", ".join(unknown.get_column("assessment").unique().sort().head(5).to_list())
        notes.append(f"{unknown.height:,} results of assessments no framework knows left out ({names}).")
    mine = named.filter(pl.col("assessment").is_in(sorted(own)))
    upns = pupils.get_column("upn").cast(pl.String).str.strip_chars()
    strangers = mine.filter(~pl.col("upn").cast(pl.String).str.strip_chars().is_in(upns.implode()))
    if strangers.height:
        notes.append(f"{strangers.height:,} {key_stage} results of pupils not in the pupils table left out.")
    repeated = mine.filter(pl.struct("upn", "assessment").is_duplicated())
    if repeated.height:
        count = repeated.select("upn").n_unique()
        notes.append(f"{_pupils(count)} with two results for one assessment: the first given counts.")
    clashing = sorted(own & set(kept.columns))
    if clashing:
        notes.append(
            f"The pupils' columns {', '.join(clashing)} were ignored: results come from the results."
        )
    return notes
