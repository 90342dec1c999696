"""Schemathesis against the API's own OpenAPI schema: no /v1 or /codec operation answers a 5xx, whatever it is sent,
and every answer is one the schema documents (status, content type, body, headers), so a client generated from
the schema can rely on it.

Each operation gets a bounded number of generated requests, valid ones (positive) and invalid ones
(negative), sent with an organization's key to the real server of ``api_stack``. Schemathesis is
synchronous, so it runs in a thread while the event loop keeps serving (uvicorn and the worker run in
it). The event streams are left out: they never end by themselves.
"""

import asyncio

import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.core.failures import FailureGroup

from api.main import _build

EXAMPLES_PER_OPERATION_AND_MODE = 8
REQUEST_TIMEOUT_SECONDS = 30
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]
"""No 5xx, and every answer is one the schema documents: its status, content type, body and headers."""


def fuzz(base_url: str, key: str) -> tuple[int, list[str]]:
    """Run every operation's examples; returns how many operations ran and a line per failure."""
    schema = (
        schemathesis.openapi.from_dict(_build().openapi())
        .include(path_regex=r"^/(v1|codec)/")
        .exclude(path_regex=r"/events$")
    )
    headers = {"Authorization": f"Bearer {key}"}
    failures: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @settings(
                max_examples=EXAMPLES_PER_OPERATION_AND_MODE,
                deadline=None,
                database=None,
                derandomize=True,
                phases=[Phase.explicit, Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
            @given(case=operation.as_strategy(generation_mode=mode))
            def send(case: schemathesis.Case) -> None:
                case.call_and_validate(
                    base_url=base_url, headers=headers, checks=CHECKS, timeout=REQUEST_TIMEOUT_SECONDS
                )

            try:
                send()
            except Unsatisfiable:
                continue  # nothing about it can be invalid (a path's free-text id, no body): no negative case
            except (Exception, FailureGroup) as failure:  # several distinct failures come as a group
                failures.append(f"{operation.label} [{mode.value}]: {failure}")
    return len(operations), failures


async def test_no_operation_answers_a_server_error_or_anything_its_schema_does_not_document(api_stack):
    http = api_stack.org_a.http
    # Something to find: an agent and a finished campaign, so lists and lookups are not all empty.
    await http.post("/v1/agents", json={"name": "sam", "instructions": "Be Sam."})
    await http.post("/v1/campaigns", json={"name": "seed", "contacts": [{"phone": "+442079460001"}]})
    operations, failures = await asyncio.to_thread(fuzz, api_stack.base_url, api_stack.org_a.key)
    assert operations >= 25
    assert not failures, "\n\n".join(failures)
