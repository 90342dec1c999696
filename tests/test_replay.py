"""Recorded histories must replay on today's workflow code, or running campaigns would break on deploy.

``tests/histories`` holds one history per workflow type, sealed with the suite's test-only codec key
(re-record with ``python tests/histories/record_histories.py``; see docs/versioning.md). A change that
alters the commands a workflow issues for the same history fails here; such a change needs
``workflow.patched``. The last tests prove the check bites: each workflow changed without a patch
fails its replay, and the same change behind ``workflow.patched`` passes.
"""

import json
from datetime import timedelta
from pathlib import Path

import pytest
from codec_test_keys import suite_data_converter
from temporalio import workflow
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer, UnsandboxedWorkflowRunner

from schemas.connections import RefreshConnection
from schemas.inbound import InboundCallInput, InboundCallState
from schemas.webhooks import WebhookDeliveryInput
from schemas.workflow_io import CampaignResult, CampaignWorkflowInput, ContactState, ContactWorkflowInput
from worker.main import SANDBOX, WORKFLOWS
from workflows.campaign import CampaignWorkflow
from workflows.connections import ConnectionRefreshWorkflow
from workflows.contact import ContactWorkflow
from workflows.inbound import InboundCallWorkflow
from workflows.webhooks import WebhookDeliveryWorkflow

HISTORIES = {path.stem: path for path in sorted((Path(__file__).parent / "histories").glob("*.json"))}
"""Every recorded history: the recorder's ``campaign_workflow.json`` …, plus any kept from before a patch."""
KEPT_MARK = "-before-"
"""``contact_workflow-before-<patch id>.json``: the old path's history, kept until the patch is deprecated."""


def _load(name: str) -> WorkflowHistory:
    return WorkflowHistory.from_json(name, json.loads(HISTORIES[name].read_text()))


def _workflow_type(history: WorkflowHistory) -> str:
    return history.events[0].workflow_execution_started_event_attributes.workflow_type.name


# The recorder's current file for each type: the one the tests below change code against.
RECORDED = {_workflow_type(_load(name)): _load(name) for name in HISTORIES if KEPT_MARK not in name}


@pytest.mark.parametrize("name", sorted(HISTORIES))
async def test_recorded_history_replays_without_nondeterminism(name: str):
    replayer = Replayer(workflows=WORKFLOWS, data_converter=suite_data_converter(), workflow_runner=SANDBOX)
    result = await replayer.replay_workflow(_load(name), raise_on_replay_failure=True)
    assert result.replay_failure is None


def test_every_workflow_type_has_a_recorded_history():
    assert set(RECORDED) == {defn.__name__ for defn in WORKFLOWS}


# The same workflows, each sleeping before its first step: a change of commands made without a patch.
# (Module level: Temporal refuses workflow classes defined inside a function.)


@workflow.defn(name=CampaignWorkflow.__name__)
class CampaignWorkflowWithATimerFirst(CampaignWorkflow):
    @workflow.run
    async def run(self, input: CampaignWorkflowInput) -> CampaignResult:
        await workflow.sleep(timedelta(seconds=1))
        return await super().run(input)


@workflow.defn(name=ContactWorkflow.__name__)
class ContactWorkflowWithATimerFirst(ContactWorkflow):
    @workflow.run
    async def run(self, input: ContactWorkflowInput) -> ContactState:
        await workflow.sleep(timedelta(seconds=1))
        return await super().run(input)


@workflow.defn(name=InboundCallWorkflow.__name__)
class InboundCallWorkflowWithATimerFirst(InboundCallWorkflow):
    @workflow.run
    async def run(self, input: InboundCallInput) -> InboundCallState:
        await workflow.sleep(timedelta(seconds=1))
        return await super().run(input)


@workflow.defn(name=WebhookDeliveryWorkflow.__name__)
class WebhookDeliveryWorkflowWithATimerFirst(WebhookDeliveryWorkflow):
    @workflow.run
    async def run(self, params: WebhookDeliveryInput) -> None:
        await workflow.sleep(timedelta(seconds=1))
        await super().run(params)


@workflow.defn(name=ConnectionRefreshWorkflow.__name__)
class ConnectionRefreshWorkflowWithATimerFirst(ConnectionRefreshWorkflow):
    @workflow.run
    async def run(self, params: RefreshConnection) -> None:
        await workflow.sleep(timedelta(seconds=1))
        await super().run(params)


@workflow.defn(name=ContactWorkflow.__name__)
class ContactWorkflowWithAPatchedTimer(ContactWorkflow):
    """The same change made the documented way: histories recorded before it replay the old path."""

    @workflow.run
    async def run(self, input: ContactWorkflowInput) -> ContactState:
        if workflow.patched("timer-first"):
            await workflow.sleep(timedelta(seconds=1))
        return await super().run(input)


CHANGED = {
    CampaignWorkflow.__name__: CampaignWorkflowWithATimerFirst,
    ContactWorkflow.__name__: ContactWorkflowWithATimerFirst,
    InboundCallWorkflow.__name__: InboundCallWorkflowWithATimerFirst,
    WebhookDeliveryWorkflow.__name__: WebhookDeliveryWorkflowWithATimerFirst,
    ConnectionRefreshWorkflow.__name__: ConnectionRefreshWorkflowWithATimerFirst,
}


def test_every_workflow_type_has_a_changed_variant():
    assert set(CHANGED) == set(RECORDED)


@pytest.mark.parametrize("workflow_type", sorted(CHANGED))
async def test_a_workflow_changed_without_a_patch_fails_its_replay(workflow_type: str):
    replayer = Replayer(
        workflows=[CHANGED[workflow_type]],
        data_converter=suite_data_converter(),
        # The changed class lives in this test module, which the sandbox would re-import with pytest in it.
        workflow_runner=UnsandboxedWorkflowRunner(),
    )
    with pytest.raises(workflow.NondeterminismError):
        await replayer.replay_workflow(RECORDED[workflow_type], raise_on_replay_failure=True)


async def test_the_same_change_behind_workflow_patched_replays():
    replayer = Replayer(
        workflows=[ContactWorkflowWithAPatchedTimer],
        data_converter=suite_data_converter(),
        workflow_runner=UnsandboxedWorkflowRunner(),
    )
    result = await replayer.replay_workflow(RECORDED[ContactWorkflow.__name__], raise_on_replay_failure=True)
    assert result.replay_failure is None
