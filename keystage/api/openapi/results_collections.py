"""The description of the results collections: GET /collections, their windows and terms."""

from __future__ import annotations

from typing import Any

from keystage.api.openapi.shared import SECURED, UNAUTHORISED, YEAR, error, ok, ref
from keystage.core.results.kinds import KINDS

COLLECTION: dict[str, Any] = {
    "type": "object",
    "required": [
        "collection",
        "year",
        "academic_year",
        "title",
        "opens_at",
        "final_deadline",
        "open",
    ],
    "properties": {
        "collection": {"type": "string", "enum": list(KINDS)},
        "year": {
            "type": "integer",
            "description": "The year the academic year ends: 2026 for 2025/26.",
        },
        "academic_year": {"type": "string", "examples": ["2025/26"]},
        "title": {"type": "string"},
        "opens_at": {"type": "string", "format": "date-time"},
        "provisional_deadline": {"type": "string", "format": "date-time"},
        "final_deadline": {"type": "string", "format": "date-time"},
        "open": {"type": "boolean", "description": "Whether uploads are accepted now."},
        "provisional_reports_due": {"type": ["string", "null"], "format": "date"},
        "final_reports_due": {"type": ["string", "null"], "format": "date"},
        "terms": {"type": "string", "description": "What a school agrees to when it confirms."},
    },
}

COLLECTION_LIST: dict[str, Any] = {
    "type": "object",
    "required": ["collections"],
    "properties": {"collections": {"type": "array", "items": ref("Collection")}},
}


def collections() -> dict[str, Any]:
    """GET /collections, filtered by collection and year."""
    return {
        "get": {
            "operationId": "listCollections",
            "summary": "The results collections, their windows and terms",
            "security": SECURED,
            "parameters": [
                {"name": "collection", "in": "query", "schema": {"type": "string", "enum": list(KINDS)}},
                {"name": "year", "in": "query", "schema": YEAR},
            ],
            "responses": {
                "200": ok("The collections, newest year first.", "CollectionList"),
                "400": error("A filter is not valid.", "unknown_collection", "invalid_year"),
                "401": UNAUTHORISED,
            },
        }
    }
