"""Structured logs: with ``log_format=json`` each line is one JSON object carrying the ids that tie it to
a workflow, an activity, a call and a trace."""

import json
import logging
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry import trace
from temporalio import activity, workflow
from temporalio.testing import ActivityEnvironment
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner

from infra.logs import log_context, setup_logging
from infra.observability import setup_tracing
from schemas.settings import Settings
from worker.main import SANDBOX


@pytest.fixture
def json_lines(capsys: pytest.CaptureFixture[str]) -> Iterator[Any]:
    """Logging set up as a process with ``log_format=json`` has it; returns the lines written so far."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    setup_logging("json")

    def read() -> list[dict[str, Any]]:
        return [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")]

    yield read
    for handler in [handler for handler in root.handlers if handler not in handlers]:
        root.removeHandler(handler)
    root.setLevel(level)
    activity.logger.activity_info_on_message = True
    workflow.logger.workflow_info_on_message = True


@activity.defn
async def dial() -> None:
    with log_context(call_id="attempt-7"):
        activity.logger.info("dialling %s", "+442079460001")


@workflow.defn
class Greeter:
    @workflow.run
    async def run(self) -> None:
        workflow.logger.warning("greeting")


async def test_an_activity_line_names_its_workflow_its_activity_and_the_call(json_lines) -> None:
    await ActivityEnvironment().run(dial)
    (line,) = [line for line in json_lines() if line["logger"] == "temporalio.activity"]
    assert line["message"] == "dialling +442079460001", "the ids are fields, not appended to the message"
    assert line["level"] == "INFO"
    assert line["call_id"] == "attempt-7"
    assert line["activity_type"] == "unknown"  # ActivityEnvironment's default info
    assert {"workflow_id", "run_id", "activity_id", "attempt", "task_queue"} <= line.keys()


async def test_a_workflow_line_names_its_workflow_and_run(json_lines, time_env) -> None:
    task_queue = f"tq-{uuid.uuid4().hex[:8]}"
    # The worker's own sandbox; this module passes through it, as the workflows' schemas do.
    runner = SandboxedWorkflowRunner(restrictions=SANDBOX.restrictions.with_passthrough_modules("test_logs"))
    async with Worker(time_env.client, task_queue=task_queue, workflows=[Greeter], workflow_runner=runner):
        handle = await time_env.client.start_workflow(
            Greeter.run, id=f"greeter-{uuid.uuid4().hex[:6]}", task_queue=task_queue
        )
        await handle.result()
    (line,) = [line for line in json_lines() if line["message"] == "greeting"]
    assert line["workflow_id"] == handle.id
    assert line["run_id"] == handle.result_run_id
    assert line["workflow_type"] == "Greeter"
    assert line["level"] == "WARNING"


def test_a_line_carries_the_current_trace_extra_fields_and_the_exception(json_lines) -> None:
    setup_tracing(Settings(_env_file=None), "ringflow-tests")  # type: ignore[call-arg]
    with trace.get_tracer("test").start_as_current_span("work") as span:
        try:
            raise ValueError("no line")
        except ValueError:
            logging.getLogger("ringflow.test").exception("failed", extra={"room": "call-1", "odd": object()})
    (line,) = json_lines()
    assert line["trace_id"] == format(span.get_span_context().trace_id, "032x")
    assert line["span_id"] == format(span.get_span_context().span_id, "016x")
    assert line["room"] == "call-1"
    assert line["odd"].startswith("<object object")
    assert line["exception"].splitlines()[-1] == "ValueError: no line"
