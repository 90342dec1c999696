"""Recorded histories must replay on today's workflow code, or running campaigns would break on deploy."""

import json
from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from worker.main import SANDBOX, WORKFLOWS

HISTORIES = sorted((Path(__file__).parent / "histories").glob("*.json"))


def _load(path: Path) -> WorkflowHistory:
    return WorkflowHistory.from_json(path.stem, json.loads(path.read_text()))


@pytest.mark.parametrize("history", [_load(p) for p in HISTORIES], ids=[p.stem for p in HISTORIES])
async def test_recorded_history_replays_without_nondeterminism(history: WorkflowHistory):
    replayer = Replayer(workflows=WORKFLOWS, data_converter=pydantic_data_converter, workflow_runner=SANDBOX)
    result = await replayer.replay_workflow(history, raise_on_replay_failure=True)
    assert result.replay_failure is None


def test_both_workflow_types_have_a_recorded_history():
    assert {p.stem for p in HISTORIES} == {"contact_workflow", "campaign_workflow"}
