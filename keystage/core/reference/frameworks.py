"""Assessment frameworks: what each collection assesses and which outcomes are valid, per year.

Frameworks are data, not code: one TOML file per collection and the first academic year it applies
to (named by the year it ends: 2025 is 2024/25), e.g. ``data/frameworks/phonics/2012.toml``. A file
applies from its year until a later file for the same collection supersedes it, so a new year with
new codes is a new file, loaded without a code change. The file format is documented in
``data/frameworks/README.md``.

Each outcome carries flags that say what it means to the measures (``expected``, ``higher``,
``absent``, ...) so that rules like "expected standard or above" read the data, not a code list.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from keystage.core.reference.toml_files import read_toml
from keystage.core.refusals import Refused

DATA_DIR = Path(__file__).parent / "data" / "frameworks"

COLLECTIONS = ("eyfsp", "phonics", "ks1", "ks2", "ks4-gcse", "ks4-non-gcse")

# What an outcome can mean to a measure; a file using any other flag is refused.
FLAGS = frozenset(
    {
        "expected",  # at or above the expected standard
        "higher",  # greater depth / high score / exceeding
        "below",  # assessed, below the expected standard
        "pre_key_stage",  # pre-key-stage standards, engagement model
        "absent",
        "disapplied",
        "exempt",
        "left",  # left the school before the assessment
        "future",  # reported in a future year
        "previous",  # reported in a previous year
        "maladministration",
        "missing",
        "unable_to_access",
        "not_graded",  # U: entered, ungraded
        "just_arrived",  # arrived too recently to be assessed
        "not_taken",  # did not take, or did not finish, the check
        "incorrectly_registered",  # registered for an assessment not theirs (e.g. not in Year 4)
        "not_administered",  # the school could not administer it
        "annulled",  # the result was annulled (maladministration or cheating)
    }
)


class FrameworkError(Refused, ValueError):
    """A framework file that cannot be used; str() names the file and what is wrong."""


@dataclass(frozen=True)
class Outcome:
    code: str
    label: str
    flags: frozenset[str] = frozenset()
    points: float | None = None

    def has(self, flag: str) -> bool:
        return flag in self.flags


@dataclass(frozen=True)
class ScoreRange:
    """A numeric result: whole numbers (or not) from minimum to maximum inclusive."""

    minimum: int
    maximum: int
    whole_numbers: bool = True
    expected_from: int | None = None  # the score at and above which the expected standard is met
    higher_from: int | None = None

    def accepts(self, value: float) -> bool:
        if not math.isfinite(value) or (self.whole_numbers and value != int(value)):
            return False
        return self.minimum <= value <= self.maximum

    def describe(self) -> str:
        kind = "whole numbers " if self.whole_numbers else ""
        return f"{kind}from {self.minimum} to {self.maximum}"


@dataclass(frozen=True)
class Assessment:
    code: str
    label: str
    outcomes: tuple[Outcome, ...] = ()
    score: ScoreRange | None = None
    area: str | None = None
    tags: frozenset[str] = frozenset()
    optional: bool = False
    column: str | None = None  # the column heading in templates, where it differs from the label

    @property
    def heading(self) -> str:
        return self.column or self.label

    def outcome(self, code: str) -> Outcome | None:
        return next((o for o in self.outcomes if o.code == code), None)

    @property
    def codes(self) -> list[str]:
        return [o.code for o in self.outcomes]

    def valid_results(self) -> str:
        """The valid results as a person reads them in a template header or an error message."""
        parts = []
        if self.score is not None:
            parts.append(self.score.describe())
        if self.outcomes:
            parts.append(", ".join(self.codes))
        return "; or ".join(parts)


@dataclass(frozen=True)
class Framework:
    collection: str
    from_year: int
    title: str
    source: str
    assessments: tuple[Assessment, ...]
    thresholds: Mapping[str, float] = field(default_factory=dict)
    path: str = ""

    def assessment(self, code: str) -> Assessment:
        for assessment in self.assessments:
            if assessment.code == code:
                return assessment
        raise KeyError(f"{self.collection} {self.from_year} has no assessment “{code}”")

    def tagged(self, tag: str) -> list[Assessment]:
        return [a for a in self.assessments if tag in a.tags]


_CODE = re.compile(r"[a-z][a-z0-9_]*")


def _require(data: Mapping[str, Any], key: str, kind: type, where: str) -> Any:
    if key not in data:
        raise FrameworkError(f"{where}: “{key}” is missing")
    value = data[key]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise FrameworkError(f"{where}: “{key}” must be {kind.__name__}, not {type(value).__name__}")
    return value


def _strings(raw: Mapping[str, Any], key: str, where: str) -> list[str]:
    value = raw.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise FrameworkError(f'{where}: “{key}” must be a list of words, e.g. ["expected"]')
    return value


def _tables(value: Any, what: str, where: str) -> list[Mapping[str, Any]]:
    if not isinstance(value, list) or not all(isinstance(v, Mapping) for v in value):
        raise FrameworkError(f"{where}: {what} must be a list of tables ([[...]] in TOML)")
    return value


def _outcome(raw: Any, where: str) -> Outcome:
    if not isinstance(raw, Mapping):
        raise FrameworkError(f"{where}: each outcome must be a table with code and label")
    code = str(_require(raw, "code", str, where)).strip()
    flags = frozenset(_strings(raw, "flags", where))
    unknown = sorted(flags - FLAGS)
    if unknown:
        raise FrameworkError(f"{where}: outcome {code} has unknown flags {unknown}; known: {sorted(FLAGS)}")
    points = raw.get("points")
    if points is not None and not isinstance(points, int | float):
        raise FrameworkError(f"{where}: outcome {code} points must be a number")
    return Outcome(
        code, str(_require(raw, "label", str, where)), flags, None if points is None else float(points)
    )


def _score(raw: Any, where: str) -> ScoreRange:
    if not isinstance(raw, Mapping):
        raise FrameworkError(f"{where}: score must be a table with min and max")
    score = ScoreRange(
        minimum=_require(raw, "min", int, where),
        maximum=_require(raw, "max", int, where),
        whole_numbers=bool(raw.get("whole_numbers", True)),
        expected_from=raw.get("expected_from"),
        higher_from=raw.get("higher_from"),
    )
    if score.minimum > score.maximum:
        raise FrameworkError(f"{where}: score min {score.minimum} is above max {score.maximum}")
    return score


def parse_framework(data: Mapping[str, Any], path: str = "<data>") -> Framework:
    """A framework from the parsed contents of a TOML file, or FrameworkError saying what is wrong."""
    collection = _require(data, "collection", str, path)
    if collection not in COLLECTIONS:
        raise FrameworkError(f"{path}: collection “{collection}” is not one of {', '.join(COLLECTIONS)}")
    from_year = _require(data, "from_year", int, path)
    sets_raw = data.get("outcome_sets", {})
    if not isinstance(sets_raw, Mapping):
        raise FrameworkError(f"{path}: outcome_sets must be a table of named lists")
    outcome_sets = {
        name: tuple(
            _outcome(o, f"{path} outcome set {name}") for o in _tables(outcomes, f"outcome set {name}", path)
        )
        for name, outcomes in sets_raw.items()
    }
    assessments: list[Assessment] = []
    seen: set[str] = set()
    for index, raw in enumerate(_require(data, "assessments", list, path), start=1):
        where = f"{path} assessment {index}"
        if not isinstance(raw, Mapping):
            raise FrameworkError(f"{where}: must be a table")
        code = _require(raw, "code", str, where)
        where = f"{path} assessment {code}"
        if not _CODE.fullmatch(code):
            raise FrameworkError(f"{where}: codes are lower case letters, digits and _, e.g. phonics_mark")
        if code in seen:
            raise FrameworkError(f"{where}: the code appears twice")
        seen.add(code)
        outcomes: list[Outcome] = []
        for set_name in _strings(raw, "outcome_sets", where):
            if set_name not in outcome_sets:
                raise FrameworkError(f"{where}: no outcome set named “{set_name}”")
            outcomes.extend(outcome_sets[set_name])
        outcomes.extend(_outcome(o, where) for o in _tables(raw.get("outcomes", []), "outcomes", where))
        codes = [o.code for o in outcomes]
        if len(set(codes)) != len(codes):
            raise FrameworkError(f"{where}: an outcome code appears twice in {codes}")
        score = _score(raw["score"], where) if "score" in raw else None
        if not outcomes and score is None:
            raise FrameworkError(f"{where}: give outcomes, a score range, or both")
        assessments.append(
            Assessment(
                code=code,
                label=_require(raw, "label", str, where),
                outcomes=tuple(outcomes),
                score=score,
                area=raw.get("area"),
                tags=frozenset(_strings(raw, "tags", where)),
                optional=bool(raw.get("optional", False)),
                column=str(raw["column"]) if "column" in raw else None,
            )
        )
    thresholds = data.get("thresholds", {})
    if not isinstance(thresholds, Mapping) or not all(
        isinstance(v, int | float) for v in thresholds.values()
    ):
        raise FrameworkError(f"{path}: thresholds must be a table of numbers")
    return Framework(
        collection=collection,
        from_year=from_year,
        title=_require(data, "title", str, path),
        source=str(data.get("source", "")),
        assessments=tuple(assessments),
        thresholds=dict(thresholds),
        path=path,
    )


def load_framework_file(path: Path) -> Framework:
    data = read_toml(path, FrameworkError)
    framework = parse_framework(data, str(path))
    if path.parent.name != framework.collection or path.stem != str(framework.from_year):
        raise FrameworkError(
            f"{path}: a framework for {framework.collection} from {framework.from_year} must be saved as "
            f"{framework.collection}/{framework.from_year}.toml"
        )
    return framework


class FrameworkLibrary:
    """Every framework in a folder (by default the ones shipped with keystage), by collection and year."""

    def __init__(self, frameworks: Iterable[Framework]) -> None:
        self._by_collection: dict[str, list[Framework]] = {}
        for framework in frameworks:
            versions = self._by_collection.setdefault(framework.collection, [])
            if any(v.from_year == framework.from_year for v in versions):
                raise FrameworkError(f"two frameworks for {framework.collection} from {framework.from_year}")
            versions.append(framework)
        for versions in self._by_collection.values():
            versions.sort(key=lambda f: f.from_year)

    @classmethod
    def from_directory(cls, directory: Path = DATA_DIR) -> FrameworkLibrary:
        return cls(load_framework_file(path) for path in sorted(directory.glob("*/*.toml")))

    def for_year(self, collection: str, year: int) -> Framework:
        """The framework in force for the academic year ending in ``year``."""
        versions = [f for f in self._by_collection.get(collection, []) if f.from_year <= year]
        if not versions:
            raise KeyError(f"no {collection} framework covers {year - 1}/{str(year)[-2:]}")
        return versions[-1]

    def assessments_for(self, year: int) -> dict[str, Assessment]:
        """Every assessment of the frameworks in force for the academic year ending in ``year``."""
        found: dict[str, Assessment] = {}
        for collection in self.collections():
            try:
                found.update({a.code: a for a in self.for_year(collection, year).assessments})
            except KeyError:
                continue
        return found

    def all(self) -> list[Framework]:
        return [f for versions in self._by_collection.values() for f in versions]

    def collections(self) -> list[str]:
        return sorted(self._by_collection)

    def versions(self, collection: str) -> list[Framework]:
        return list(self._by_collection.get(collection, []))
