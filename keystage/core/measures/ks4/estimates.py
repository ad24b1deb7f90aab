"""KS4 Progress 8 estimates: what pupils of each KS2 prior attainment group (PAG) achieve nationally.

Two sources, both giving an :class:`Estimates` that carries its own label into every output:

- DfE's published estimates (``load_dfe_estimates``), read from the reference files
  ``a8_estimates_{release}.csv`` and ``p8_sd_{release}.csv`` (release e.g. ``"2024prov"``,
  ``"2023rev"``): per PAG the national mean Attainment 8 and element scores with the group's KS2
  average scaled score range, and the national pupil standard deviations of P8 and its elements;
- the platform's own national figures (``platform_estimates``), computed from every pupil of a year
  on the platform, with the negative-score floors of ``national_floors``.

Floors (the adjusted Progress 8) always come from national figures, never from the pupils of a run:
with the platform's estimates, from the same national pupils; with DfE's, from a national cohort's
P8 against DfE's estimates where the platform holds one (``national_floors``), else from DfE's
published figures alone (``published_floors``).

Reference data is never typed into code: it is read from the folder given (DfE's releases as
keystage ships them, reference/data/dfe/ks4/progress8, with any loaded since).
Rules: shared/domain/ks4-measures.md.
"""

from __future__ import annotations

import csv
import math
import re
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from statistics import NormalDist

import polars as pl

from keystage.core.refusals import Refused

ELEMENTS = ("english", "maths", "ebacc", "open")
MEASURES = ("a8", *ELEMENTS)  # the columns of Estimates.by_pag after "pag"
SD_KEYS = ("p8", *ELEMENTS)
# What each P8 figure is divided by: (points - estimate) / divisor (A8: ten slots; English and maths:
# two slots each; EBacc and open: three slots each).
DIVISORS = {"a8": 10.0, "english": 2.0, "maths": 2.0, "ebacc": 3.0, "open": 3.0}
# The lead's pupil table names the points of each element a8_<element>.
PUPIL_POINTS = {
    "a8": "a8",
    "english": "a8_english",
    "maths": "a8_maths",
    "ebacc": "a8_ebacc",
    "open": "a8_open",
}

# Headers of DfE's files, normalised (lower case, runs of white space as one space).
_A8_HEADERS = {
    "ks2 prior attainment group": "pag",
    "ks2 average scaled score range": "range",
    "attainment 8 average": "a8",
    "english average": "english",
    "maths average": "maths",
    "ebacc average": "ebacc",
    "open average": "open",
}
_PILLAR_HEADERS = {
    "ks2 prior attainment group": "pag",
    "ks2 average scaled score range": "range",
    "science average": "science",
    "humanities average": "humanities",
    "languages average": "languages",
}
_SD_HEADERS = {
    "p8stdev": "p8",
    "p8engstdev": "english",
    "p8matstdev": "maths",
    "p8ebacstdev": "ebacc",
    "p8openstdev": "open",
}
_RELEASE = re.compile(r"(?P<year>[0-9]{4})(?P<kind>[a-z]*)")
_RELEASE_KINDS = {"prov": "provisional", "rev": "revised", "final": "final"}
_RELEASE_ORDER = {"prov": 0, "rev": 1, "final": 2}
_RANGE = re.compile(r"\s*(?P<low>[0-9]+(?:\.[0-9]+)?)\s+to\s+(?P<high>[0-9]+(?:\.[0-9]+)?)\s*", re.IGNORECASE)


class EstimatesFileError(Refused, ValueError):
    """A reference file that is missing or cannot be read; the message names the file."""


@dataclass(frozen=True)
class Estimates:
    label: str  # shown in every output, e.g. "DfE 2024 provisional estimates"
    by_pag: pl.DataFrame  # pag (Int64), a8, english, maths, ebacc, open (Float64): mean points per group
    ranges: pl.DataFrame  # pag (Int64), low, high (Float64): the group's KS2 average scaled score range
    sd: dict[str, float]  # "p8", "english", "maths", "ebacc", "open": national pupil SDs
    floors: pl.DataFrame | None = None  # pag (Int64), p8_floor (Float64); None when not known

    def assign_pag(self, frame: pl.DataFrame, ks2_column: str = "ks2_pa") -> pl.DataFrame:
        """``frame`` with a new Int64 column "pag": the group whose range holds the value (null when
        the value is null).

        Values between ranges (e.g. 82.25) go where DfE puts them, by the upper bounds: the first
        group whose ``high`` >= value. So 82 -> 1, 82.25 and 82.5 -> 2, 119.5 and 120 -> 34. A value
        below the lowest range goes to the first group; a value above the highest range (impossible for
        KS2 scaled scores, at most 120) and NaN get null, as does null. An existing "pag" column is
        replaced. Vectorised: a binary search of the sorted upper bounds.
        """
        if ks2_column not in frame.columns:
            raise ValueError(f"the table has no column {ks2_column!r} (KS2 prior attainment)")
        if not frame.schema[ks2_column].is_numeric():
            raise ValueError(f"column {ks2_column!r} must be numeric, not {frame.schema[ks2_column]}")
        ranges = self.ranges.sort("pag")
        highs = ranges["high"].cast(pl.Float64)
        pags = ranges["pag"].cast(pl.Int64)
        if highs.len() == 0:
            raise ValueError(f"{self.label}: no prior attainment groups")
        if highs.has_nulls() or not (highs.diff().drop_nulls() > 0).all():
            raise ValueError(f"{self.label}: the groups' upper bounds do not rise with the group number")
        value = pl.col(ks2_column).cast(pl.Float64).fill_nan(None)
        index = pl.lit(highs).search_sorted(value, side="left")
        pag = (
            pl.when(value.is_not_null() & (index < highs.len()))
            .then(pl.lit(pags).gather(pl.min_horizontal(index, highs.len() - 1)))
            .otherwise(None)
            .cast(pl.Int64)
        )
        return frame.with_columns(pag.alias("pag"))


def release_label(release: str) -> str:
    """The label of a DfE release: "2024prov" -> "DfE 2024 provisional estimates"."""
    match = _RELEASE.fullmatch(release)
    if match is None:
        raise ValueError(f"not a release name: {release!r} (expected e.g. 2024prov or 2023rev)")
    kind = match["kind"]
    words = ["DfE", match["year"]]
    if kind:
        words.append(_RELEASE_KINDS.get(kind, kind))
    return " ".join([*words, "estimates"])


def available_releases(folder: Path) -> list[str]:
    """The releases in ``folder`` that ``load_dfe_estimates`` can be asked for: those with both an
    ``a8_estimates_{release}.csv`` and a ``p8_sd_{release}.csv``, oldest first (provisional before
    revised within a year), e.g. ["2022rev", "2023prov", "2023rev", "2024prov"]."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    found = []
    for path in folder.glob("a8_estimates_*.csv"):
        release = path.name.removeprefix("a8_estimates_").removesuffix(".csv")
        match = _RELEASE.fullmatch(release)
        if match is None or not (folder / f"p8_sd_{release}.csv").is_file():
            continue
        found.append((int(match["year"]), _RELEASE_ORDER.get(match["kind"], 3), release))
    return [release for *_, release in sorted(found)]


def load_dfe_estimates(folder: Path, release: str) -> Estimates:
    """DfE's published estimates of one release (e.g. "2024prov", "2023rev", "2022rev") from
    ``folder``: ``a8_estimates_{release}.csv`` gives by_pag and ranges, ``p8_sd_{release}.csv`` the
    SDs. Floors are not published, so ``floors`` is None.

    The files start with a UTF-8 byte order mark and some headers contain line breaks inside quotes;
    both are handled, and columns are found by header, not by position (extra columns such as the
    average slots filled are ignored). Anything missing or malformed raises ``EstimatesFileError`` (a
    ValueError) naming the file and, where it applies, the line.
    """
    label = release_label(release)
    folder = Path(folder)
    a8_path = folder / f"a8_estimates_{release}.csv"
    by_pag, ranges = _read_group_table(a8_path, _A8_HEADERS)
    sd = _read_sd(folder / f"p8_sd_{release}.csv")
    return Estimates(label=label, by_pag=by_pag, ranges=ranges, sd=sd)


def load_dfe_pillar_estimates(folder: Path, release: str) -> pl.DataFrame:
    """DfE's per-PAG estimates of the EBacc pillars (``ebacc_pillar_estimates_{release}.csv``) for
    reporting: columns pag (Int64), science, humanities, languages (Float64)."""
    release_label(release)  # validates the name
    by_pag, _ranges = _read_group_table(
        Path(folder) / f"ebacc_pillar_estimates_{release}.csv", _PILLAR_HEADERS
    )
    return by_pag


def platform_estimates(pupils: pl.DataFrame, ranges: pl.DataFrame, label: str) -> Estimates:
    """National estimates computed from all pupils of a year on the platform.

    ``pupils`` has columns pag, a8, a8_english, a8_maths, a8_ebacc, a8_open. ``by_pag`` is the mean
    of each per PAG over the pupils with a PAG (null points are left out of a mean); groups without
    pupils are absent. Then every such pupil's P8 and element scores are computed against these
    estimates ((points - estimate) / 10, 2 or 3) and ``sd`` holds their national sample standard
    deviations (ddof 1), ``floors`` the negative-score floors of ``national_floors``. ``ranges``
    (pag, low, high) is usually a DfE release's, since the groups are DfE's.

    Deterministic: each mean is taken over the values sorted, so the order of rows never changes a
    figure.
    """
    _require(pupils, ["pag", *PUPIL_POINTS.values()], "the pupils table")
    _require(ranges, ["pag", "low", "high"], "the ranges table")
    with_pag = pupils.filter(pl.col("pag").is_not_null())
    if with_pag.height == 0:
        raise ValueError("no pupils have a prior attainment group: platform estimates cannot be computed")
    points = with_pag.select(
        pl.col("pag").cast(pl.Int64),
        *[
            pl.col(column).cast(pl.Float64).fill_nan(None).alias(name)
            for name, column in PUPIL_POINTS.items()
        ],
    )
    by_pag = (
        points.group_by("pag").agg([pl.col(name).sort().mean().alias(name) for name in MEASURES]).sort("pag")
    )
    scores = points.join(by_pag, on="pag", how="left", suffix="_estimate").select(
        "pag",
        *[
            ((pl.col(name) - pl.col(f"{name}_estimate")) / DIVISORS[name]).alias(_score_name(name))
            for name in MEASURES
        ],
    )
    deviations = scores.select([pl.col(_score_name(name)).sort().std(ddof=1) for name in MEASURES]).row(0)
    sd = {}
    for key, value in zip(SD_KEYS, deviations, strict=True):
        if value is None or not math.isfinite(value):
            raise ValueError(f"too few pupils to compute the national standard deviation of {key}")
        sd[key] = float(value)
    floors = national_floors(scores.select("pag", pl.col("p8")))
    clean_ranges = ranges.select(
        pl.col("pag").cast(pl.Int64), pl.col("low").cast(pl.Float64), pl.col("high").cast(pl.Float64)
    ).sort("pag")
    return Estimates(label=label, by_pag=by_pag, ranges=clean_ranges, sd=sd, floors=floors)


def national_floors(pupils_with_p8: pl.DataFrame, share: float = 0.01) -> pl.DataFrame:
    """The negative-score floor per PAG, as DfE describes it for Progress 8 from 2018.

    Method:

    1. within each PAG g, take the mean m_g and sample standard deviation s_g (ddof 1) of the pupils'
       (unadjusted) P8 scores;
    2. each pupil's distance below the group mean in group SDs is z = (p8 - m_g) / s_g;
    3. one k for all groups is chosen from the national distribution of z so that the number of pupils
       with z < -k is as close as possible to ``share`` of all pupils with a P8 (ties between two
       counts go to the smaller). The cut is placed half way between two neighbouring distinct values
       of z, so no pupil sits on it; if not even one pupil should fall below, it is one SD below the
       lowest z;
    4. the floor of group g is m_g - k * s_g. A pupil whose P8 is below their group's floor is
       "adjusted": their P8 is raised to the floor for school averages. There is no upper cap.

    A group with fewer than two pupils, or whose pupils all score the same, has no spread to measure
    k SDs with: its floor is the lowest P8 in the group, so nobody in it is raised.

    Input columns: pag, p8 (rows with either null are left out). Output: pag (Int64), p8_floor
    (Float64), sorted by pag. Deterministic: the result does not depend on the order of rows.
    """
    if not 0 < share < 0.5:
        raise ValueError(f"share must be between 0 and 0.5, not {share}")
    _require(pupils_with_p8, ["pag", "p8"], "the pupils table")
    scores = pupils_with_p8.select(
        pl.col("pag").cast(pl.Int64), pl.col("p8").cast(pl.Float64).fill_nan(None)
    ).drop_nulls()
    if scores.height == 0:
        raise ValueError("no pupils have a P8 score: floors cannot be computed")
    groups = (
        scores.group_by("pag")
        .agg(
            pl.col("p8").sort().mean().alias("mean"),
            pl.col("p8").sort().std(ddof=1).alias("sd"),
            pl.col("p8").min().alias("lowest"),
        )
        .sort("pag")
    )
    spread = pl.col("sd").is_not_null() & (pl.col("sd") > 0)
    z = (
        scores.join(groups, on="pag", how="left")
        .filter(spread)
        .select(((pl.col("p8") - pl.col("mean")) / pl.col("sd")).alias("z"))
        .get_column("z")
    )
    k = _cut_for_share(z, target=share * scores.height)
    return groups.select(
        "pag",
        pl.when(spread)
        .then(pl.col("mean") - k * pl.col("sd"))
        .otherwise(pl.col("lowest"))
        .cast(pl.Float64)
        .alias("p8_floor"),
    )


def published_floors(estimates: Estimates, share: float = 0.01) -> pl.DataFrame:
    """The negative-score floor of each group from DfE's published figures alone (the estimates and
    the national standard deviation of pupils' P8), for when no national cohort is at hand.

    DfE sets each group's floor a fixed number k of that group's P8 standard deviations below its
    mean, k chosen so that about 1% of pupils nationally fall below (secondary accountability guide,
    "pupils with extremely negative progress scores"; its ready reckoner's outlier code gives k as the
    z score of the pupil at 1%, -2.89 in 2022). DfE publishes neither the floors nor the groups' SDs,
    only one national SD (p8_sd_*.csv). So here:

    - a group's mean P8 against its own estimate is 0: the estimate is that group's national mean A8;
    - its spread is the national SD of P8, the same for every group;
    - k is the standard normal quantile below which ``share`` falls (2.326 for 1%).

    Every group's floor is then -k x SD (about -3.29 with 2024's SD of 1.416): the same number in each
    group, the same for every run with these estimates. Output: pag (Int64), p8_floor (Float64).
    """
    if not 0 < share < 0.5:
        raise ValueError(f"share must be between 0 and 0.5, not {share}")
    floor = -NormalDist().inv_cdf(1 - share) * estimates.sd["p8"]
    return (
        estimates.by_pag.select(pl.col("pag").cast(pl.Int64))
        .with_columns(pl.lit(floor, dtype=pl.Float64).alias("p8_floor"))
        .sort("pag")
    )


def _cut_for_share(z: pl.Series, target: float) -> float:
    """k such that the count of z < -k is as close as possible to target (see national_floors)."""
    if z.len() == 0:
        return 0.0
    counts = (
        z.rename("z")
        .value_counts(sort=False, name="n")
        .sort("z")
        .with_columns(
            (pl.col("n").cum_sum() - pl.col("n")).alias("below"),  # how many z are smaller than this one
            pl.col("z").shift(1).alias("previous"),
        )
        .with_columns((pl.col("below") - target).abs().alias("distance"))
        .sort("distance", "below")
    )
    best = counts.row(0, named=True)
    if best["previous"] is None:
        return -(float(best["z"]) - 1.0)
    return -((float(best["previous"]) + float(best["z"])) / 2)


def _score_name(measure: str) -> str:
    return "p8" if measure == "a8" else f"p8_{measure}"


def _require(frame: pl.DataFrame, columns: list[str], what: str) -> None:
    missing = [column for column in columns if column not in frame.columns]
    if missing:
        raise ValueError(f"{what} lacks the column(s) {', '.join(missing)}")


def _normalise(header: str) -> str:
    return " ".join(header.split()).lower()


def _read_rows(path: Path) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """The normalised header and the data rows, each with the line of the file it ends on."""
    if not path.is_file():
        raise EstimatesFileError(f"{path.name}: file not found in {path.parent}")
    rows: list[tuple[int, list[str]]] = []
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.reader(handle, strict=True)
            for row in reader:
                if any(cell.strip() for cell in row):
                    rows.append((reader.line_num, row))
    except (UnicodeDecodeError, csv.Error) as error:
        raise EstimatesFileError(f"{path.name}: not a readable UTF-8 CSV file ({error})") from error
    if not rows:
        raise EstimatesFileError(f"{path.name}: the file is empty")
    return [_normalise(cell) for cell in rows[0][1]], rows[1:]


def _columns(path: Path, header: list[str], wanted: dict[str, str]) -> dict[str, int]:
    positions: dict[str, int] = {}
    for index, name in enumerate(header):
        key = wanted.get(name)
        if key is not None:
            if key in positions:
                raise EstimatesFileError(f"{path.name}: the column {name!r} appears twice")
            positions[key] = index
    missing = [name for name, key in wanted.items() if key not in positions]
    if missing:
        raise EstimatesFileError(f"{path.name}: no column {', '.join(repr(name) for name in missing)}")
    return positions


def _number(path: Path, line: int, column: str, text: str) -> float:
    try:
        value = float(text.strip().replace(",", ""))
    except ValueError:
        raise EstimatesFileError(f"{path.name}, line {line}: {column} {text!r} is not a number") from None
    if not math.isfinite(value):
        raise EstimatesFileError(f"{path.name}, line {line}: {column} {text!r} is not a number")
    return value


def _read_group_table(path: Path, wanted: dict[str, str]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(by_pag with pag and the measure columns, ranges with pag, low, high) of a per-PAG file."""
    header, rows = _read_rows(path)
    positions = _columns(path, header, wanted)
    measures = [key for key in wanted.values() if key not in ("pag", "range")]
    data: dict[str, list[float | int]] = {"pag": [], "low": [], "high": [], **{key: [] for key in measures}}
    for line, row in rows:
        if len(row) < len(header):
            raise EstimatesFileError(f"{path.name}, line {line}: {len(row)} cells, expected {len(header)}")
        pag_text = row[positions["pag"]].strip()
        if not pag_text.isdigit() or int(pag_text) < 1:
            raise EstimatesFileError(
                f"{path.name}, line {line}: prior attainment group {pag_text!r} is not a whole number"
            )
        match = _RANGE.fullmatch(row[positions["range"]])
        if match is None:
            raise EstimatesFileError(
                f"{path.name}, line {line}: range {row[positions['range']]!r} is not like '82.5 to 86'"
            )
        low, high = float(match["low"]), float(match["high"])
        if low > high:
            raise EstimatesFileError(f"{path.name}, line {line}: range {low} to {high} runs backwards")
        data["pag"].append(int(pag_text))
        data["low"].append(low)
        data["high"].append(high)
        for key in measures:
            data[key].append(_number(path, line, key, row[positions[key]]))
    if not data["pag"]:
        raise EstimatesFileError(f"{path.name}: no prior attainment groups")
    pags = data["pag"]
    if len(set(pags)) != len(pags):
        raise EstimatesFileError(f"{path.name}: a prior attainment group appears twice")
    order = sorted(range(len(pags)), key=pags.__getitem__)
    for before, after in pairwise(order):
        if data["low"][after] <= data["high"][before]:
            raise EstimatesFileError(
                f"{path.name}: the ranges of groups {pags[before]} and {pags[after]} overlap"
                " or are out of order"
            )
    frame = pl.DataFrame(
        data,
        schema={
            "pag": pl.Int64,
            "low": pl.Float64,
            "high": pl.Float64,
            **{key: pl.Float64 for key in measures},
        },
    ).sort("pag")
    return frame.select("pag", *measures), frame.select("pag", "low", "high")


def _read_sd(path: Path) -> dict[str, float]:
    header, rows = _read_rows(path)
    positions = _columns(path, header, _SD_HEADERS)
    if len(rows) != 1:
        raise EstimatesFileError(f"{path.name}: expected one row of standard deviations, found {len(rows)}")
    line, row = rows[0]
    if len(row) < len(header):
        raise EstimatesFileError(f"{path.name}, line {line}: {len(row)} cells, expected {len(header)}")
    sd = {}
    for key in SD_KEYS:
        value = _number(path, line, key, row[positions[key]])
        if value <= 0:
            raise EstimatesFileError(
                f"{path.name}, line {line}: the standard deviation of {key} must be above 0"
            )
        sd[key] = value
    return sd
