"""The OpenAPI document is a contract a schema-driven client can rely on: the error answers each route really
gives, one error body, and time fields as RFC 3339 ``date-time``. (test_api_schemathesis.py checks the
answers of the running API against it.)"""

from typing import Any

import pytest

from api.main import _build

SCHEMA = _build().openapi()
COMPONENTS = SCHEMA["components"]["schemas"]
V1_OPERATIONS = [
    (method.upper(), path, operation)
    for path, operations in SCHEMA["paths"].items()
    if path.startswith("/v1/")
    for method, operation in operations.items()
]
TIME_SUFFIXES = ("_at", "_before", "_after")


def ids(operations: list[tuple[str, str, Any]]) -> list[str]:
    return [f"{method} {path}" for method, path, _ in operations]


def error_schema(response: dict[str, Any]) -> dict[str, Any]:
    ref = response["content"]["application/json"]["schema"]["$ref"]
    return COMPONENTS[ref.rsplit("/", 1)[-1]]


@pytest.mark.parametrize(("method", "path", "operation"), V1_OPERATIONS, ids=ids(V1_OPERATIONS))
def test_every_v1_route_documents_401_and_429_with_retry_after(method, path, operation) -> None:
    responses = operation["responses"]
    assert {"401", "422", "429"} <= responses.keys()
    assert "Retry-After" in responses["429"]["headers"]
    for code in ("401", "429"):
        assert error_schema(responses[code])["properties"]["detail"] == {"type": "string", "title": "Detail"}


def test_every_route_that_takes_a_body_documents_413() -> None:
    with_body = [(method, path, op) for method, path, op in V1_OPERATIONS if "requestBody" in op]
    uploads = [
        (method, path) for method, path, op in with_body if "multipart/form-data" in op["requestBody"]["content"]
    ]
    assert len(uploads) >= 3  # the CSV uploads of campaigns, their contacts and the do-not-call list
    assert [f"{method} {path}" for method, path, op in with_body if "413" not in op["responses"]] == []


def test_routes_whose_body_fastapi_reads_document_its_400_for_an_unreadable_one() -> None:
    documented = {f"{method} {path}" for method, path, op in V1_OPERATIONS if "400" in op["responses"]}
    # A JSON body and a multipart upload FastAPI parses; POST /v1/campaigns reads its body by hand (422).
    assert {"PUT /v1/policy", "POST /v1/agents", "POST /v1/dnc/import"} <= documented
    assert "POST /v1/campaigns" not in documented
    # These read a multipart form by hand, and Starlette's form parser refuses a broken one with a 400.
    assert {"POST /v1/campaigns/upload", "POST /v1/campaigns/preview"} <= documented


def test_every_documented_error_is_the_one_error_body() -> None:
    for method, path, operation in V1_OPERATIONS:
        for code, response in operation["responses"].items():
            if code.startswith(("4", "5")):
                assert "detail" in error_schema(response)["properties"], f"{method} {path} {code}"


def test_time_fields_are_date_time() -> None:
    times = {
        f"{name}.{field}": spec
        for name, component in COMPONENTS.items()
        for field, spec in component.get("properties", {}).items()
        if field.endswith(TIME_SUFFIXES)
    }
    assert len(times) > 20
    formats = {
        field: {option.get("format") for option in spec.get("anyOf", [spec])} - {None} for field, spec in times.items()
    }
    assert {field: found for field, found in formats.items() if found != {"date-time"}} == {}
    filters = [
        param
        for _, _, operation in V1_OPERATIONS
        for param in operation.get("parameters", [])
        if param["name"] in ("since", "until")
    ]
    assert filters and all(
        {option.get("format") for option in param["schema"]["anyOf"]} - {None} == {"date-time"} for param in filters
    )
