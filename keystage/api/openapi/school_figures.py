"""The description of a school's figures: GET /schools/{dfe}/estimates (year groups, and each pupil for
named roles) and GET /schools/{dfe}/measures (the headline measures beside national), with their schemas.
"""

from __future__ import annotations

from typing import Any

from keystage.api.openapi.shared import DFE, SECURED, UNAUTHORISED, YEAR, error, ok, ref

YEAR_GROUP_ESTIMATE: dict[str, Any] = {
    "type": "object",
    "description": "A year group's expected outcome: the sum of its pupils' estimates.",
    "required": ["nc_year", "pupils", "with_prior_attainment", "expected", "distribution"],
    "properties": {
        "nc_year": {
            "type": ["integer", "null"],
            "description": "Null for every year group together.",
        },
        "pupils": {"type": "integer", "description": "On roll."},
        "with_prior_attainment": {"type": "integer", "description": "Those estimated."},
        "suppressed": {
            "type": "boolean",
            "description": "For readers who may not see pupils, a group of fewer than 6 pupils has "
            "no figures (null and empty).",
        },
        "expected": {"type": ["number", "null"], "description": "The mean expected outcome."},
        "reaching": {
            "type": "array",
            "description": "How many are expected to reach each of the outcome's marks (e.g. grade 4 "
            "or above, or KS2's expected standard): the sum of the pupils' chances.",
            "items": {
                "type": "object",
                "required": ["mark", "expected_pupils"],
                "properties": {
                    "mark": {"type": "string"},
                    "expected_pupils": {"type": ["number", "null"]},
                },
            },
        },
        "distribution": {
            "type": "array",
            "items": {"type": "number"},
            "description": "The expected share of the pupils in each category.",
        },
    },
}

OUTCOME_ESTIMATES: dict[str, Any] = {
    "type": "object",
    "required": ["key", "name", "categories", "values", "year_groups"],
    "properties": {
        "key": {"type": "string", "examples": ["a8", "subject:FK2B"]},
        "name": {"type": "string", "examples": ["Attainment 8"]},
        "categories": {"type": "array", "items": {"type": "string"}, "description": "Lowest first."},
        "values": {
            "type": "array",
            "items": {"type": "number"},
            "description": "What each category is worth (grade points, or a band's mean).",
        },
        "year_groups": {"type": "array", "items": ref("YearGroupEstimate")},
    },
}

PUPIL_ESTIMATES: dict[str, Any] = {
    "type": "object",
    "required": ["upn", "nc_year", "prior_attainment", "estimates"],
    "properties": {
        "upn": {"type": "string"},
        "nc_year": {"type": "integer"},
        "prior_attainment": {"type": ["number", "null"], "description": "KS2 average scaled score."},
        "estimates": {
            "type": "object",
            "description": "By outcome key: the expected value and the chance of each category. "
            "Empty without KS2 prior attainment.",
            "additionalProperties": {
                "type": "object",
                "required": ["expected", "probabilities"],
                "properties": {
                    "expected": {"type": "number"},
                    "probabilities": {"type": "array", "items": {"type": "number"}},
                },
            },
        },
    },
}

SCHOOL_ESTIMATES: dict[str, Any] = {
    "type": "object",
    "required": ["fit", "level", "level_label", "academic_year", "outcomes"],
    "properties": {
        "fit": {
            "type": "object",
            "required": ["id", "transition", "years", "contextual", "pupils"],
            "properties": {
                "id": {"type": "integer"},
                "transition": {"type": "string", "enum": ["ks2-ks4", "ks1-ks2", "ks4-ks5"]},
                "years": {"type": "array", "items": {"type": "integer"}},
                "contextual": {"type": "boolean"},
                "fitted_at": {"type": ["string", "null"], "format": "date-time"},
                "pupils": {"type": "integer", "description": "Pupils nationally it was fitted on."},
            },
        },
        "level": {"type": "integer", "enum": [50, 80, 95]},
        "level_label": {"type": "string", "examples": ["Top 20% of schools"]},
        "academic_year": {"type": "integer", "description": "The roll's year: 2026 for 2025/26."},
        "outcomes": {"type": "array", "items": ref("OutcomeEstimates")},
        "pupils": {
            "type": "array",
            "items": ref("PupilEstimates"),
            "description": "Only for roles that see pupils (named roles); each answer is audited.",
        },
    },
}

MEASURE: dict[str, Any] = {
    "type": "object",
    "required": ["key", "name", "figure", "national", "pupils", "suppressed"],
    "properties": {
        "key": {"type": "string", "examples": ["p8", "a8", "rwm_expected"]},
        "name": {"type": "string", "examples": ["Progress 8"]},
        "kind": {"type": "string", "description": "share (0 to 1), mean, or progress."},
        "figure": {
            "type": ["number", "null"],
            "description": "Null when suppressed or not measured.",
        },
        "text": {"type": "string", "description": "As the dashboard shows it, e.g. 67% or +0.21."},
        "national": {"type": ["number", "null"]},
        "national_text": {"type": "string"},
        "pupils": {"type": "integer", "description": "Pupils the figure counts."},
        "suppressed": {
            "type": "boolean",
            "description": "Fewer than 6 pupils: no figure, so no pupil can be picked out.",
        },
        "ci_low": {"type": ["number", "null"], "description": "95% confidence interval (progress)."},
        "ci_high": {"type": ["number", "null"]},
        "significance": {"type": ["string", "null"], "description": "Against national."},
        "banding": {"type": ["string", "null"], "description": "Progress 8's band."},
        "percentile": {
            "type": ["integer", "null"],
            "description": "Among all schools; null for governors.",
        },
        "quintile": {"type": ["integer", "null"]},
        "note": {
            "type": ["string", "null"],
            "description": "Why there is no figure (e.g. a KS4 year DfE publishes no Progress 8 for: "
            "p8 is then null with the reason), or whom the figure leaves out.",
            "examples": ["DfE publishes no Progress 8 for 2026 (these pupils sat no KS2 tests in 2021)."],
        },
    },
}

SCHOOL_MEASURES: dict[str, Any] = {
    "type": "object",
    "required": ["school", "key_stage", "year", "provisional", "cohort", "measures"],
    "properties": {
        "school": {
            "type": "object",
            "properties": {"dfe_number": {"type": "string"}, "name": {"type": "string"}},
        },
        "key_stage": {"type": "string", "enum": ["eyfsp", "phonics", "ks1", "ks2", "ks4"]},
        "year": {"type": "integer"},
        "academic_year": {"type": "string", "examples": ["2025/26"]},
        "provisional": {
            "type": "boolean",
            "description": "True until the collection's final deadline: figures change as schools "
            "confirm results.",
        },
        "source": {"type": "string", "description": "Where the national figures come from."},
        "cohort": {"type": "integer"},
        "measures": {"type": "array", "items": ref("Measure")},
        "not_counted": {
            "type": "array",
            "description": "KS4: the school's results not counted in performance measures at all "
            "(off DfE's list of approved qualifications for the year, not a grade of the "
            "qualification, an unknown qualification number), by reason. Empty for other key stages.",
            "items": {
                "type": "object",
                "required": ["reason", "results", "pupils"],
                "properties": {
                    "reason": {"type": "string"},
                    "results": {"type": "integer"},
                    "pupils": {"type": "integer"},
                },
            },
        },
        "years": {
            "type": "array",
            "items": {"type": "integer"},
            "description": "Years with figures for this key stage, newest first.",
        },
    },
}


def estimates() -> dict[str, Any]:
    """GET /schools/{dfe}/estimates."""
    return {
        "parameters": [
            {
                "name": "dfe",
                "in": "path",
                "required": True,
                "description": "The school's DfE number (LA code and establishment number): 8004001.",
                "schema": DFE,
            },
            {
                "name": "level",
                "in": "query",
                "description": "The school progress the estimates assume: 50 (average), 80 (top 20% of "
                "schools) or 95 (top 5%).",
                "schema": {"type": "integer", "enum": [50, 80, 95], "default": 50},
            },
            {
                "name": "stage",
                "in": "query",
                "description": "ks4 (from KS2; secondary schools' default), ks5 (KS5 benchmark "
                "estimates from KS4, for last summer's Year 11) or ks2 (Year 3 estimates from KS1; "
                "primary schools' default).",
                "schema": {"type": "string", "enum": ["ks2", "ks4", "ks5"]},
            },
            {
                "name": "contextual",
                "in": "query",
                "description": "true: the estimates that also take disadvantage into account.",
                "schema": {"type": "boolean", "default": False},
            },
        ],
        "get": {
            "operationId": "getSchoolEstimates",
            "summary": "A school's estimates (KS4 from KS2, KS2 from KS1): year groups, and each "
            "pupil for named roles",
            "description": "An estimate is the spread of outcomes pupils with the same prior attainment, "
            "sex and month of birth reached nationally at a school making the chosen progress. It is "
            "not a target.",
            "security": SECURED,
            "responses": {
                "200": ok("The estimates.", "SchoolEstimates"),
                "400": error("A bad school or level.", "invalid_school", "invalid_level"),
                "401": UNAUTHORISED,
                "403": error("You may not read this school's reports.", "forbidden"),
                "404": error(
                    "No such school, no estimates of that stage for it (KS5 and KS4 are for secondary "
                    "schools, KS2 for primary), or none fitted yet.",
                    "unknown_school",
                    "no_such_stage",
                    "no_estimates",
                ),
            },
        },
    }


def measures() -> dict[str, Any]:
    """GET /schools/{dfe}/measures."""
    return {
        "parameters": [
            {
                "name": "dfe",
                "in": "path",
                "required": True,
                "description": "The school's DfE number (LA code and establishment number): 8004001.",
                "schema": DFE,
            },
            {
                "name": "key_stage",
                "in": "query",
                "description": "Default: the first of ks4, ks2, ks1, phonics and eyfsp that the school "
                "has figures for.",
                "schema": {"type": "string", "enum": ["eyfsp", "phonics", "ks1", "ks2", "ks4"]},
            },
            {
                "name": "year",
                "in": "query",
                "description": "Default: the newest year with figures.",
                "schema": YEAR,
            },
        ],
        "get": {
            "operationId": "getSchoolMeasures",
            "summary": "A school's headline measures beside national, as its dashboard shows them",
            "description": "School-level figures for every reader of the school's reports (governors "
            "too, without the school's place among schools); a figure of fewer than 6 pupils is "
            "suppressed.",
            "security": SECURED,
            "responses": {
                "200": ok("The measures.", "SchoolMeasures"),
                "400": error(
                    "A bad school, key stage or year.",
                    "invalid_school",
                    "unknown_key_stage",
                    "invalid_year",
                ),
                "401": UNAUTHORISED,
                "403": error("You may not read this school's reports.", "forbidden"),
                "404": error(
                    "No such school, or no figures for it in that key stage and year.",
                    "unknown_school",
                    "no_figures",
                ),
            },
        },
    }
