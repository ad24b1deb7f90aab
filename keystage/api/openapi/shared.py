"""What every part of the API's description uses: media types, the references and responses built the
same way everywhere, the year and DfE number formats, the form fields a file is sent with, the Error
schema, the token security scheme and the Unauthorised response.
"""

from __future__ import annotations

from typing import Any

from keystage.core.results.kinds import KINDS

JSON = "application/json"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def error(description: str, *codes: str) -> dict[str, Any]:
    return {
        "description": f"{description} Error codes: {', '.join(codes)}.",
        "content": {JSON: {"schema": ref("Error")}},
    }


def ok(description: str, schema: str) -> dict[str, Any]:
    return {"description": description, "content": {JSON: {"schema": ref(schema)}}}


UNAUTHORISED = {"$ref": "#/components/responses/Unauthorised"}
# The academic years keystage accepts, named by the calendar year they end in (2026 for 2025/26).
FIRST_YEAR, LAST_YEAR = 2000, 2100
YEAR = {"type": "integer", "minimum": FIRST_YEAR, "maximum": LAST_YEAR, "examples": [2026]}
# A DfE number: the LA code, then the establishment number, with or without a slash between.
DFE = {"type": "string", "pattern": "^[0-9]{3}/?[0-9]{4}$", "examples": ["8004001"]}
# Every operation but the document itself needs a token; any may be refused as too large.
SECURED: list[dict[str, list[str]]] = [{"token": []}]
TOO_LARGE = error("The request or file is larger than the largest file accepted.", "too_large")

FILE_FORM_FIELDS = {
    "file": {"type": "string", "contentMediaType": "application/octet-stream", "minLength": 1},
    "collection": {"type": "string", "enum": list(KINDS)},
    "year": YEAR,
    # Optional when checking a file: left out or empty, the file is checked without a school's roster.
    "school": {
        "type": "string",
        "pattern": "^([0-9]{3}/?[0-9]{4})?$",
        "examples": ["8004001"],
        "description": "DfE number, 7 digits, e.g. 8004001.",
    },
}

# The codes of a form with a field missing or wrong, as POST /validate and POST /uploads give them.
BAD_INPUT = (
    "missing_field",
    "missing_file",
    "too_many_files",
    "expected_multipart",
    "unknown_collection",
    "invalid_year",
    "invalid_school",
    "malformed_request",
)

ERROR: dict[str, Any] = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string", "description": "Stable; test this in scripts."},
                "message": {"type": "string", "description": "For people; may change."},
            },
        }
    },
}

SECURITY_SCHEMES: dict[str, Any] = {
    "token": {
        "type": "http",
        "scheme": "bearer",
        "description": "A personal API token (“ks_…”), made on the API tokens page of your account. "
        "It acts as you, with the roles you hold when each request is made.",
    }
}

RESPONSES: dict[str, Any] = {
    "Unauthorised": {
        "description": "No token, or a token that is not recognised, revoked or expired. Error codes: "
        "missing_token, invalid_token, token_revoked, token_expired, account_disabled.",
        "headers": {"WWW-Authenticate": {"schema": {"type": "string"}}},
        "content": {JSON: {"schema": ref("Error")}},
    },
}
