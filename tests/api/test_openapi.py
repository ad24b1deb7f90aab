"""The OpenAPI document: served without a token, and describing every route and method the API has."""

from __future__ import annotations

import re

from django.test import Client

from keystage.api import urls

_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


def _document() -> dict:
    response = Client().get("/api/v1/openapi.json")
    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    return response.json()


def _resolve(document: dict, ref: str) -> object:
    assert ref.startswith("#/"), ref
    node: object = document
    for part in ref[2:].split("/"):
        assert isinstance(node, dict) and part in node, f"{ref} does not resolve"
        node = node[part]
    return node


def _refs(node: object):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def _routes() -> dict[str, set[str]]:
    """Every route in keystage/api/urls.py as an OpenAPI path, with the methods its view takes."""
    routes = {}
    for pattern in urls.urlpatterns:
        if pattern.name == "not_found":
            continue
        route = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", str(pattern.pattern))
        routes[f"/{route}"] = {m.lower() for m in pattern.callback.api_methods}
    return routes


def test_the_document_is_openapi_3_1_and_needs_no_token(db):
    document = _document()
    assert document["openapi"] == "3.1.0"
    assert document["info"]["title"] and document["info"]["version"]
    assert document["servers"] == [{"url": "/api/v1"}]
    assert document["components"]["securitySchemes"]["token"] == {
        "type": "http",
        "scheme": "bearer",
        "description": document["components"]["securitySchemes"]["token"]["description"],
    }


def test_every_route_and_method_is_described_with_its_responses(db):
    document = _document()
    routes = _routes()
    assert len(routes) == 11  # a new route fails here until it is described
    assert set(document["paths"]) == set(routes)
    operation_ids = []
    for path, methods in routes.items():
        described = document["paths"][path]
        assert {key for key in described if key in _METHODS} == methods, path
        for name in re.findall(r"{(\w+)}", path):
            parameters = [p for p in described.get("parameters", []) if p["in"] == "path"]
            assert [p["name"] for p in parameters] == [name] and parameters[0]["required"] is True
        for method in methods:
            operation = described[method]
            operation_ids.append(operation["operationId"])
            assert operation["summary"] and operation["responses"], (path, method)
            for status, response in operation["responses"].items():
                assert re.fullmatch(r"[1-5]\d\d", status), (path, method, status)
                if "$ref" not in response:
                    assert response["description"], (path, method, status)
            secured = operation.get("security", document["security"])
            assert ("401" in operation["responses"]) == bool(secured), (path, method)
    assert len(operation_ids) == len(set(operation_ids))


def test_every_reference_resolves_and_every_error_uses_the_error_schema(db):
    document = _document()
    for ref in _refs(document):
        _resolve(document, ref)
    for path, described in document["paths"].items():
        for method, operation in described.items():
            if method not in _METHODS:
                continue
            for status, response in operation["responses"].items():
                if status.startswith(("4", "5")):
                    target = _resolve(document, response["$ref"]) if "$ref" in response else response
                    schema = target["content"]["application/json"]["schema"]["$ref"]
                    assert schema in {"#/components/schemas/Error", "#/components/schemas/UnreadableFile"}, (
                        path,
                        method,
                        status,
                    )
