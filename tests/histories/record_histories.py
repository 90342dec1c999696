"""Re-record the workflow histories the replay test checks: ``python tests/histories/record_histories.py``.

One history per workflow type, plus ``contact_workflow_in_campaign.json``: a campaign's contact that parks
until its calling window opens (``contact_workflow.json`` is a contact started on its own, as an inbound
caller's callback is), and ``inbound_call_workflow_chat.json``: a dashboard's text chat with an agent (an
inbound call of kind ``test``, no room). All sealed with the suite's test-only codec key (``tests/codec_test_keys.py``).
Only re-record on purpose: a change that breaks replay of the committed histories would break running
campaigns too (see docs/versioning.md).
"""

import asyncio
import sys
import tempfile
from datetime import datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

HERE = Path(__file__).parent


async def record(only: set[str]) -> None:
    """Record every history, or only those named in ``only`` (e.g. ``webhook_delivery_workflow``)."""
    from temporalio.testing import WorkflowEnvironment

    sys.path.insert(0, str(HERE.parent))
    from codec_test_keys import suite_data_converter
    from conftest import server_clock
    from inbound_helpers import answer_inbound_call, inbound_worker_settings
    from livekit_standin import LiveKitStandIn
    from workflow_helpers import (
        contact,
        new_campaign_id,
        seed,
        settings,
        start_campaign,
        start_contact,
        zone_where_it_is,
    )

    from infra.search_attributes import register_search_attributes
    from schemas.agent import AgentConfig
    from schemas.calls import CallbackRequest
    from schemas.campaign import ALL_WEEKDAYS, CallingWindow
    from schemas.inbound import inbound_workflow_id
    from schemas.settings import Settings
    from schemas.workflow_io import contact_workflow_id
    from simulator.carrier import SimCarrier
    from store.db import get_session_factory
    from store.migrate import upgrade_database
    from worker.main import build_worker
    from workflows.contact import ContactWorkflow

    db_url = f"sqlite+aiosqlite:///{tempfile.mkdtemp()}/record.db"
    await upgrade_database(db_url)
    sessions = get_session_factory(db_url)
    env = await WorkflowEnvironment.start_time_skipping(
        data_converter=suite_data_converter(),
        test_server_existing_path=str(Path(sys.executable).parent / "temporal-test-server"),
    )
    async with env:
        await register_search_attributes(env.client)
        if not only or "webhook_delivery_workflow" in only:
            await _record_webhook_delivery(env, sessions, db_url)
        if not only or "connection_refresh_workflow" in only:
            await _record_connection_refresh(env, sessions, db_url)
        if not only or "inbound_call_workflow_chat" in only:
            await _record_dashboard_chat(env, sessions, db_url)
        if only:
            return
        worker_settings = Settings(database_url=db_url, task_queue="record")
        carrier = SimCarrier(time_scale=0.0, clock=server_clock)
        async with build_worker(env.client, worker_settings, sessions=sessions, carrier=carrier):
            campaign_id = new_campaign_id()
            person = contact(1, "never_answers")
            campaign = settings(max_attempts=3, initial_backoff=timedelta(hours=2))
            await seed(sessions, campaign_id, [person], campaign)
            handle = await start_contact(env.client, "record", campaign_id, person, campaign)
            await asyncio.sleep(1)
            london = ZoneInfo("Europe/London")
            tomorrow = (await env.get_current_time()).astimezone(london).date() + timedelta(days=1)
            await handle.execute_update(
                ContactWorkflow.schedule_callback,
                CallbackRequest(at=datetime.combine(tomorrow, time(10), tzinfo=london), reason="recorded"),
            )
            await handle.result()
            (HERE / "contact_workflow.json").write_text((await handle.fetch_history()).to_json())

            # Most contacts are in their calling hours; two start at night and park until their window opens.
            campaign_id = new_campaign_id()
            now = await env.get_current_time()
            awake, asleep = zone_where_it_is(12, now), zone_where_it_is(3, now)
            personas = ["answers", "busy", "qualifies", "not_interested"] * 3
            people = [contact(i, p, timezone=awake) for i, p in enumerate(personas)]
            sleepers = [contact(len(people) + i, p, timezone=asleep) for i, p in enumerate(["answers", "busy"])]
            window = CallingWindow(start=time(9), end=time(17), weekdays=frozenset(ALL_WEEKDAYS))
            campaign = settings(max_attempts=2, max_concurrent_calls=3, window=window)
            await seed(sessions, campaign_id, people + sleepers, campaign)
            handle = await start_campaign(env.client, "record", campaign_id, campaign)
            await handle.result()
            (HERE / "campaign_workflow.json").write_text((await handle.fetch_history()).to_json())
            sleeper = env.client.get_workflow_handle(contact_workflow_id(campaign_id, sleepers[0].external_id))
            (HERE / "contact_workflow_in_campaign.json").write_text((await sleeper.fetch_history()).to_json())

        async with LiveKitStandIn() as standin:
            inbound_settings = inbound_worker_settings(standin, db_url, "record-inbound")
            async with build_worker(env.client, inbound_settings, sessions=sessions, carrier=carrier):
                await answer_inbound_call(
                    env.client,
                    "record-inbound",
                    call_sid="CArecorded",
                    caller="+14155550123",
                    agent=AgentConfig(name="front-desk", instructions="Help callers."),
                    said=["I'd like to know your opening hours"],
                    note="asked for opening hours",
                )
            history = await env.client.get_workflow_handle(inbound_workflow_id("CArecorded")).fetch_history()
            (HERE / "inbound_call_workflow.json").write_text(history.to_json())


async def _record_dashboard_chat(env, sessions, db_url: str) -> None:
    """A text chat from the dashboard: the call prepared without a room, a transcript line, a note and a disposition
    from the agent, the tester's end."""
    from schemas.agent import AgentConfig, TranscriptSegment
    from schemas.inbound import CallKind, CallStatusUpdate, InboundCallInput, inbound_workflow_id
    from schemas.settings import Settings
    from simulator.carrier import SimCarrier
    from voice_worker.temporal_bridge import TemporalCallBridge
    from worker.main import build_worker
    from workflows.inbound import InboundCallWorkflow

    worker_settings = Settings(database_url=db_url, task_queue="record-chat")
    async with build_worker(env.client, worker_settings, sessions=sessions, carrier=SimCarrier(time_scale=0.0)):
        handle = await env.client.start_workflow(
            InboundCallWorkflow.run,
            InboundCallInput(
                call_sid="chat-recorded",
                from_number="+14155550123",
                to_number="",
                agent=AgentConfig(name="front-desk", instructions="Help callers."),
                kind=CallKind.TEST,
            ),
            id=inbound_workflow_id("chat-recorded"),
            task_queue="record-chat",
        )
        await handle.execute_update(InboundCallWorkflow.prepare)
        bridge = TemporalCallBridge(env.client, handle.id, 1)
        now = await env.get_current_time()
        await bridge.append_transcript([TranscriptSegment(speaker="callee", text="I'm interested", started_at=now)])
        await bridge.take_note("interested in a demo")
        await bridge.record_disposition("qualified", "wants a demo")
        await handle.signal(InboundCallWorkflow.call_status, CallStatusUpdate(status="completed"))
        await handle.result()
    (HERE / "inbound_call_workflow_chat.json").write_text((await handle.fetch_history()).to_json())


async def _record_webhook_delivery(env, sessions, db_url: str) -> None:
    """One endpoint's events for one contact: the first answered 503 then delivered, the second at once."""
    from webhook_receiver import Answer, Receiver
    from workflow_helpers import eventually

    from api.services import webhooks
    from schemas.settings import Settings
    from schemas.webhooks import WebhookEndpointIn, WebhookEventType, delivery_workflow_id
    from simulator.carrier import SimCarrier
    from store.orgs import create_org
    from worker.main import build_worker

    settings = Settings(
        database_url=db_url,
        task_queue="record-hooks",
        webhook_allow_private_urls=True,
        webhook_retry_initial=timedelta(seconds=1),
    )
    receiver = Receiver(plan=[Answer(503)])
    async with sessions() as session:
        await create_org(session, "Hooks", org_id="org-hooks")
        await session.commit()
        endpoint = await webhooks.create(
            session, settings, org_id="org-hooks", endpoint=WebhookEndpointIn(url=receiver.url)
        )
    receiver.secret = endpoint.secret
    await receiver.start()
    try:
        async with build_worker(env.client, settings, sessions=sessions, carrier=SimCarrier(time_scale=0.0)):
            for event_type in (WebhookEventType.CALL_ENDED, WebhookEventType.CONTACT_FINISHED):
                async with sessions() as session:
                    await webhooks.emit(
                        session,
                        env.client,
                        settings,
                        org_id="org-hooks",
                        event_type=event_type,
                        key="c-recorded/1",
                        ordering_key="c-recorded/1",
                        data={"contact": "1"},
                    )
            await eventually(lambda: len(receiver.processed) == 2, within=30.0)
            await env.sleep(timedelta(minutes=2))  # idle past IDLE_BEFORE_ENDING: the run ends
            handle = env.client.get_workflow_handle(delivery_workflow_id(endpoint.id, "c-recorded/1"))
            await eventually(lambda: _completed(handle), within=30.0)
    finally:
        await receiver.stop()
    assert len(receiver.processed) == 2, receiver.processed
    (HERE / "webhook_delivery_workflow.json").write_text((await handle.fetch_history()).to_json())


async def _record_connection_refresh(env, sessions, db_url: str) -> None:
    """A connection's first run: it reads the expiry, sleeps until five minutes before it, continues as new."""
    import httpx
    from cryptography.fernet import Fernet
    from oauth_provider import OAuthProvider
    from workflow_helpers import eventually

    from api.services import connections
    from schemas.connections import ConnectionCreate, refresh_workflow_id
    from schemas.settings import Settings
    from simulator.carrier import SimCarrier
    from worker.main import build_worker

    settings = Settings(
        database_url=db_url,
        task_queue="record-oauth",
        tool_allow_private_urls=True,
        oauth_token_key=Fernet.generate_key().decode(),
    )
    provider = OAuthProvider(token_lifetime_seconds=600)
    await provider.start()
    try:
        async with build_worker(env.client, settings, sessions=sessions, carrier=SimCarrier(time_scale=0.0)):
            async with sessions() as session:
                started = await connections.create(
                    session, settings, org_id="org-oauth", request=ConnectionCreate(**provider.connection("calendar"))
                )
            async with httpx.AsyncClient() as browser:
                back = await browser.get(started.authorization_url)
            code, state = (httpx.URL(back.headers["location"]).params[key] for key in ("code", "state"))
            async with sessions() as session:
                await connections.complete(session, settings, env.client, state=state, code=code)
            workflow_id = refresh_workflow_id("org-oauth", "calendar")
            first_run = (await env.client.get_workflow_handle(workflow_id).describe()).run_id
            handle = env.client.get_workflow_handle(workflow_id, run_id=first_run)
            await env.sleep(timedelta(minutes=6))
            await eventually(lambda: provider.refreshes >= 1, within=30.0)
    finally:
        await provider.stop()
    (HERE / "connection_refresh_workflow.json").write_text((await handle.fetch_history()).to_json())


async def _completed(handle) -> bool:
    from temporalio.client import WorkflowExecutionStatus

    return (await handle.describe()).status == WorkflowExecutionStatus.COMPLETED


if __name__ == "__main__":
    asyncio.run(record(set(sys.argv[1:])))
