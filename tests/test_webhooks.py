"""Webhooks end to end: a real HTTP receiver on 127.0.0.1, the real Temporal dev server, the real store.

Delivery runs in real time with short retry intervals and horizons (settings), so a receiver that fails,
throttles and goes down is seen through to the end.
"""

import asyncio
import re
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import pytest_asyncio
from api_helpers import FAST, finished_campaign, person
from api_helpers import eventually as api_eventually
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from standardwebhooks import Webhook
from temporalio.exceptions import ApplicationError
from test_api_agents import AGENT
from test_api_calls import by_external_id
from webhook_receiver import Answer, Receiver
from workflow_helpers import eventually

from activities.webhooks import WebhookActivities, retry_after
from api.services import webhooks as service
from api.services.people import erase_person
from schemas.settings import Settings
from schemas.webhooks import (
    DeliveryStatus,
    SendWebhook,
    WebhookDeliveryInput,
    WebhookDeliveryOut,
    WebhookEndpointIn,
    WebhookEventType,
    delivery_workflow_id,
)
from schemas.workflow_io import CampaignStatus
from simulator.carrier import SimCarrier
from store import webhooks as store
from store.models import CampaignRow, ContactRow, WebhookDeliveryRow, WebhookEventRow
from store.orgs import create_org
from worker.main import build_worker
from workflows.webhooks import WebhookDeliveryWorkflow

ORG = "org-hooks"


@pytest_asyncio.fixture
async def hooks(dev_env, session_factory, db_url) -> AsyncIterator[Settings]:
    """A worker delivering webhooks with fast retries; its settings (allowing the local receiver)."""
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=db_url,
        task_queue=f"tq-hooks-{uuid.uuid4().hex[:8]}",
        webhook_allow_private_urls=True,
        webhook_retry_initial=timedelta(milliseconds=200),
        webhook_retry_max=timedelta(seconds=1),
        webhook_give_up_after=timedelta(seconds=60),
    )
    async with session_factory() as session:
        await create_org(session, "Hooks", org_id=ORG)
        await session.commit()
    async with build_worker(dev_env.client, settings, sessions=session_factory, carrier=SimCarrier(time_scale=0.0)):
        yield settings


async def _endpoint(sessions: async_sessionmaker[AsyncSession], settings: Settings, receiver: Receiver) -> str:
    async with sessions() as session:
        created = await service.create(
            session, settings, org_id=ORG, endpoint=WebhookEndpointIn(url=receiver.url, events="*")
        )
    receiver.secret = created.secret
    return created.id


async def _emit(sessions, client, settings, event_type: WebhookEventType, key: str, ordering_key: str) -> str:
    async with sessions() as session:
        return await service.emit(
            session,
            client,
            settings,
            org_id=ORG,
            event_type=event_type,
            key=key,
            ordering_key=ordering_key,
            data={"key": key},
        )


async def _deliveries(sessions, endpoint_id: str) -> list[WebhookDeliveryOut]:
    async with sessions() as session:
        return await service.deliveries(session, org_id=ORG, endpoint_id=endpoint_id)


async def _until_settled(sessions, endpoint_id: str, count: int) -> list[WebhookDeliveryOut]:
    async def settled() -> list[WebhookDeliveryOut] | None:
        found = await _deliveries(sessions, endpoint_id)
        done = len(found) == count and all(d.status != DeliveryStatus.PENDING for d in found)
        return found if done else None

    return await eventually(settled, within=60.0)


async def test_a_failing_throttling_and_absent_receiver_gets_every_event_once_signed_and_in_order(
    hooks, dev_env, session_factory
) -> None:
    receiver = Receiver(plan=[Answer(500), Answer(503), Answer(429, retry_after="1")])
    endpoint_id = await _endpoint(session_factory, hooks, receiver)
    await receiver.start()
    emitted: dict[str, list[str]] = {"contact:c-1/a": [], "contact:c-1/b": []}
    steps = [WebhookEventType.CALL_STARTED, WebhookEventType.CALL_ENDED, WebhookEventType.CONTACT_FINISHED]
    for step in steps:
        for ordering_key in emitted:
            emitted[ordering_key].append(
                await _emit(session_factory, dev_env.client, hooks, step, f"{ordering_key}/{step}", ordering_key)
            )
    # the same fact recorded again (a retried activity) is the same event, and queues nothing new
    again = await _emit(session_factory, dev_env.client, hooks, steps[0], f"contact:c-1/a/{steps[0]}", "contact:c-1/a")
    assert again == emitted["contact:c-1/a"][0]

    await eventually(lambda: not receiver.plan, within=30.0)  # 500, 503, then a 429 asking for a second's pause
    await receiver.stop()  # down for a while: connections refused
    await asyncio.sleep(2.0)
    retried_while_down = [d for d in await _deliveries(session_factory, endpoint_id) if d.last_error]
    await receiver.start()
    await receiver.wait_for(6)
    settled = await _until_settled(session_factory, endpoint_id, 6)

    assert retried_while_down, "no delivery was tried while the receiver was down"
    assert sorted(receiver.processed_ids()) == sorted(id_ for ids in emitted.values() for id_ in ids)
    assert receiver.duplicates == []
    assert receiver.bad_signatures == 0
    for ordering_key, ids in emitted.items():
        assert [i for i in receiver.processed_ids() if i in ids] == ids, ordering_key
    assert {d.status for d in settled} == {DeliveryStatus.DELIVERED}
    assert sum(d.attempts for d in settled) > 6
    first = next(e for e in receiver.processed if e["id"] == emitted["contact:c-1/a"][0])
    assert first["type"] == "call.started" and first["data"] == {"key": "contact:c-1/a/call.started"}
    assert "timestamp" in first


async def test_a_receiver_down_past_the_horizon_is_dead_lettered_and_redelivered_when_back(
    hooks, dev_env, session_factory
) -> None:
    short = hooks.model_copy(update={"webhook_give_up_after": timedelta(seconds=2)})
    receiver = Receiver()
    endpoint_id = await _endpoint(session_factory, short, receiver)
    event = await _emit(
        session_factory, dev_env.client, short, WebhookEventType.CAMPAIGN_STARTED, "c-9", "campaign:c-9"
    )
    [dead] = await _until_settled(session_factory, endpoint_id, 1)
    assert dead.status == DeliveryStatus.DEAD
    assert dead.attempts >= 2
    assert "ConnectError" in dead.last_error

    await receiver.start()
    async with session_factory() as session:
        await service.redeliver(session, dev_env.client, short, org_id=ORG, delivery_id=dead.id)
    await receiver.wait_for(1)
    [delivered] = await _until_settled(session_factory, endpoint_id, 1)
    assert receiver.processed_ids() == [event]
    assert delivered.status == DeliveryStatus.DELIVERED
    assert delivered.last_status_code == 200
    assert delivered.attempts > dead.attempts


async def test_a_refusing_receiver_fails_the_delivery_at_once_and_logs_its_answer(
    hooks, dev_env, session_factory
) -> None:
    receiver = Receiver(plan=[Answer(410)])
    endpoint_id = await _endpoint(session_factory, hooks, receiver)
    await receiver.start()
    try:
        await _emit(session_factory, dev_env.client, hooks, WebhookEventType.CALL_ENDED, "x", "contact:c/x")
        [failed] = await _until_settled(session_factory, endpoint_id, 1)
    finally:
        await receiver.stop()
    assert (failed.status, failed.attempts, failed.last_status_code) == (DeliveryStatus.FAILED, 1, 410)
    assert await service.settle_deliveries(session_factory, org_id=ORG, endpoint_id=endpoint_id) == {"failed": 1}
    assert failed.last_body_excerpt == "planned 410"
    assert receiver.processed == []


async def test_a_private_url_is_refused_without_the_deployments_allowance(session_factory) -> None:
    strict = Settings(_env_file=None)  # type: ignore[call-arg]
    async with session_factory() as session:
        for url in ("http://127.0.0.1:9/hooks", "https://10.1.2.3/x", "http://169.254.169.254/", "http://[::1]/"):
            with pytest.raises(service.InvalidWebhookError, match="private or reserved"):
                await service.create(session, strict, org_id=ORG, endpoint=WebhookEndpointIn(url=url))
        with pytest.raises(service.InvalidWebhookError, match="http:// or https://"):
            await service.create(session, strict, org_id=ORG, endpoint=WebhookEndpointIn(url="file:///etc/passwd"))
        assert await service.list_endpoints(session, org_id=ORG) == []


async def test_a_delivery_to_an_address_that_became_private_is_refused_at_sending(session_factory) -> None:
    """The endpoint was allowed when created; the worker that sends checks again, and refuses for good."""
    allowing = Settings(_env_file=None, webhook_allow_private_urls=True)  # type: ignore[call-arg]
    async with session_factory() as session:
        endpoint = await store.create_endpoint(session, ORG, "http://127.0.0.1:9/hooks", ["*"])
        [queued] = await store.record_event(
            session, org_id=ORG, event_type=WebhookEventType.CALL_ENDED, key="k", ordering_key="o", data={}
        )
        await session.commit()
    assert endpoint.id == queued.endpoint_id
    strict = WebhookActivities(Settings(_env_file=None), session_factory)  # type: ignore[call-arg]
    with pytest.raises(ApplicationError) as refused:
        await strict.send_webhook(SendWebhook(delivery_id=queued.delivery_id))
    assert refused.value.non_retryable
    assert allowing.webhook_allow_private_urls
    async with session_factory() as session:
        [(row, _)] = await store.list_deliveries(session, ORG, endpoint.id)
    assert row.status == DeliveryStatus.FAILED and "private or reserved" in row.last_error


def test_retry_after_is_read_as_seconds_or_a_date_and_capped_at_a_day() -> None:
    now = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
    assert retry_after("7", now) == timedelta(seconds=7)
    assert retry_after("Sun, 29 Nov 2026 12:00:30 GMT", now) == timedelta(seconds=30)
    assert retry_after("999999", now) == timedelta(days=1)
    assert retry_after(None, now) is None
    assert retry_after("soon", now) is None


async def test_the_api_registers_lists_logs_and_deletes_an_endpoint_showing_its_secret_once(api_stack) -> None:
    receiver = Receiver()
    http = api_stack.org_a.http
    created = await http.post("/v1/webhooks", json={"url": receiver.url, "events": ["campaign.started"]})
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["secret"].startswith("whsec_") and body["events"] == ["campaign.started"]
    receiver.secret = body["secret"]
    listed = (await http.get("/v1/webhooks")).json()
    assert [(e["id"], "secret" in e) for e in listed] == [(body["id"], False)]
    assert (await api_stack.org_b.http.get(f"/v1/webhooks/{body['id']}/deliveries")).status_code == 404

    await receiver.start()
    try:
        async with api_stack.sessions() as session:
            for event_type in (WebhookEventType.CAMPAIGN_STARTED, WebhookEventType.CAMPAIGN_PAUSED):
                await service.emit(
                    session,
                    api_stack.client,
                    api_stack.settings,
                    org_id=api_stack.org_a.id,
                    event_type=event_type,
                    key="c-1",
                    ordering_key="campaign:c-1",
                    data={"campaign_id": "c-1"},
                )
        await receiver.wait_for(1)
        log = await api_eventually(
            lambda: http.get(f"/v1/webhooks/{body['id']}/deliveries"), lambda found: found[0]["status"] == "delivered"
        )
        [delivery] = log  # campaign.paused is not among the endpoint's events
        assert (delivery["event_type"], delivery["attempts"], delivery["last_status_code"]) == (
            "campaign.started",
            1,
            200,
        )
        redelivered = await http.post(f"/v1/webhooks/deliveries/{delivery['id']}/redeliver")
        assert redelivered.status_code == 202
        await eventually(lambda: receiver.duplicates, within=30.0)  # the receiver sees the same event id again
    finally:
        await receiver.stop()
    assert receiver.duplicates == [receiver.processed_ids()[0]]
    refused = await http.post("/v1/webhooks", json={"url": "ftp://example.com/x"})
    assert refused.status_code == 422
    assert (await http.delete(f"/v1/webhooks/{body['id']}")).status_code == 204
    assert (await http.get("/v1/webhooks")).json() == []
    assert (await http.delete(f"/v1/webhooks/{body['id']}")).status_code == 404


async def test_a_campaign_tells_its_receiver_each_call_each_outcome_and_its_course_signed_and_in_order(
    api_stack,
) -> None:
    http = api_stack.org_a.http
    receiver = Receiver()
    created = (await http.post("/v1/webhooks", json={"url": receiver.url})).json()
    receiver.secret = created["secret"]
    assert (await http.post("/v1/agents", json=AGENT)).status_code == 201
    people = [person(1, "qualifies"), person(2, "busy")]
    await receiver.start()
    try:
        started = await http.post(
            "/v1/campaigns", json={"name": "hooked", "agent_name": "ada", "settings": FAST, "contacts": people}
        )
        assert started.status_code == 201, started.text
        campaign_id = started.json()["campaign"]["id"]
        await finished_campaign(http, campaign_id)
        # per contact: call.started, call.ended, contact.finished, and call.analyzed for the connected call
        # (analysed once its contact has decided); the campaign: started, completed
        await receiver.wait_for(9)
    finally:
        await receiver.stop()
    assert receiver.bad_signatures == 0 and receiver.duplicates == []
    course = ["call.started", "call.ended", "contact.finished"]
    for external_id, expected in (("p1", [*course, "call.analyzed"]), ("p2", course)):
        mine = [e for e in receiver.processed if e["data"].get("external_id") == external_id]
        assert [e["type"] for e in mine] == expected, external_id
    analyzed = next(e["data"] for e in receiver.processed if e["type"] == "call.analyzed")
    assert analyzed["analysis"]["summary"] and analyzed["link"].startswith("/v1/calls/")
    campaign_events = [e["type"] for e in receiver.processed if e["type"].startswith("campaign.")]
    assert campaign_events == ["campaign.started", "campaign.completed"]

    ended = next(
        e["data"] for e in receiver.processed if e["type"] == "call.ended" and e["data"]["external_id"] == "p1"
    )
    assert ended["network"]["answered"] is True
    assert ended["disposition"] == "qualified"
    assert [s["speaker"] for s in ended["transcript"]][:1] == ["agent"]
    call = await http.get(ended["link"])
    assert call.status_code == 200 and call.json()["external_id"] == "p1"
    busy = next(
        e["data"] for e in receiver.processed if e["type"] == "contact.finished" and e["data"]["external_id"] == "p2"
    )
    finished = await http.get("/v1/contacts", params={"campaign_id": campaign_id})
    assert busy["final_outcome"] == by_external_id(finished.json()["items"])["p2"]["final_outcome"]


async def test_each_pause_and_resume_is_its_own_event_and_a_retried_status_write_is_not(session_factory) -> None:
    running, paused, completed = CampaignStatus.RUNNING, CampaignStatus.PAUSED, CampaignStatus.COMPLETED
    course = [  # (status before, status written): a retried write finds its status already there
        ("running", running),
        ("running", running),
        ("running", paused),
        ("paused", paused),
        ("paused", running),
        ("running", paused),
        ("paused", running),
        ("running", running),
        ("running", completed),
        ("completed", completed),
    ]
    async with session_factory() as session:
        session.add(CampaignRow(id="c-course", org_id=ORG, name="course", status="running", settings={}))
        await store.create_endpoint(session, ORG, "https://hooks.example.com/", ["*"])
        events: list[WebhookEventRow] = []
        for before, status in course:
            known = {e.id for e in events}
            await store.campaign_status_event(session, "c-course", before, status)
            events += [e for e in (await session.scalars(select(WebhookEventRow))).all() if e.id not in known]
        await session.commit()
    assert [e.type for e in events] == [
        "campaign.started",
        "campaign.paused",
        "campaign.resumed",
        "campaign.paused",
        "campaign.resumed",
        "campaign.completed",
    ]
    assert {e.ordering_key for e in events} == {"campaign:c-course"}


def test_the_plain_hmac_verifier_in_the_docs_accepts_a_signed_request_and_refuses_a_tampered_one() -> None:
    doc = (Path(__file__).resolve().parent.parent / "docs" / "webhooks.md").read_text()
    [snippet] = [block for block in re.findall(r"```python\n(.*?)```", doc, re.S) if "def verify(" in block]
    namespace: dict = {}
    exec(snippet, namespace)  # the documented code, as a reader would paste it
    secret, body, now = store.new_secret(), b'{"type":"call.ended","timestamp":"t","data":{}}', datetime.now(UTC)
    headers = {
        "webhook-id": "evt_1",
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": Webhook(secret).sign("evt_1", now, body.decode()),
    }
    assert namespace["verify"](secret, body, headers)
    assert not namespace["verify"](secret, body.replace(b"ended", b"started"), headers)
    assert not namespace["verify"](store.new_secret(), body, headers)


async def test_erasing_a_person_deletes_their_events_and_delivery_log_and_keeps_everyone_elses(session_factory) -> None:
    async with session_factory() as session:
        session.add(CampaignRow(id="c-erase", org_id=ORG, name="erase", status="running", settings={}))
        for seq, (external_id, number) in enumerate([("gone", "+442079460001"), ("kept", "+442079460002")]):
            session.add(
                ContactRow(campaign_id="c-erase", external_id=external_id, phone=number, timezone="UTC", seq=seq)
            )
        await store.create_endpoint(session, ORG, "https://hooks.example.com/", ["*"])
        for external_id in ("gone", "kept"):
            await store.record_event(
                session,
                org_id=ORG,
                event_type=WebhookEventType.CONTACT_FINISHED,
                key=f"c-erase/{external_id}",
                ordering_key=store.contact_ordering_key("c-erase", external_id),
                data={"phone": "…"},
            )
        await session.commit()
    erased = await erase_person(None, session_factory, org_id=ORG, phone="+442079460001")
    assert erased.erased["webhook_events"] == 1
    async with session_factory() as session:
        left = (await session.scalars(select(WebhookEventRow.ordering_key))).all()
        deliveries = (await session.scalars(select(WebhookDeliveryRow.event_id))).all()
    assert left == ["contact:c-erase/kept"]
    assert deliveries == [store.event_id(WebhookEventType.CONTACT_FINISHED, "c-erase/kept")]


async def test_a_delivery_queued_before_its_endpoint_was_deleted_is_not_sent(session_factory) -> None:
    receiver = Receiver()
    async with session_factory() as session:
        endpoint = await store.create_endpoint(session, ORG, receiver.url, ["*"])
        [queued] = await store.record_event(
            session, org_id=ORG, event_type=WebhookEventType.CALL_ENDED, key="late", ordering_key="o", data={}
        )
        assert await store.delete_endpoint(session, ORG, endpoint.id)
        await session.commit()
    allowing = Settings(_env_file=None, webhook_allow_private_urls=True)  # type: ignore[call-arg]
    await receiver.start()
    try:
        await WebhookActivities(allowing, session_factory).send_webhook(SendWebhook(delivery_id=queued.delivery_id))
    finally:
        await receiver.stop()
    async with session_factory() as session:
        [(row, _)] = await store.list_deliveries(session, ORG, endpoint.id)
    assert (row.status, row.last_error, receiver.requests) == ("failed", "the endpoint was deleted", 0)


async def test_a_long_queue_continues_as_new_and_still_arrives_whole_and_in_order(
    hooks, dev_env, session_factory
) -> None:
    receiver = Receiver()
    endpoint_id = await _endpoint(session_factory, hooks, receiver)
    await receiver.start()
    ordering_key = "contact:c-long/p1"
    try:
        async with session_factory() as session:
            [first] = await store.record_event(
                session,
                org_id=ORG,
                event_type=WebhookEventType.CALL_STARTED,
                key="0",
                ordering_key=ordering_key,
                data={},
            )
            await session.commit()
        handle = await dev_env.client.start_workflow(
            WebhookDeliveryWorkflow.run,
            WebhookDeliveryInput(
                endpoint_id=endpoint_id, ordering_key=ordering_key, give_up_after_seconds=60, max_history_events=20
            ),
            id=delivery_workflow_id(endpoint_id, ordering_key),
            task_queue=hooks.task_queue,
            start_signal="enqueue",
            start_signal_args=[first.delivery_id],
        )
        emitted = [store.event_id(WebhookEventType.CALL_STARTED, "0")]
        for step in range(1, 12):
            emitted.append(
                await _emit(
                    session_factory, dev_env.client, hooks, WebhookEventType.CALL_ENDED, str(step), ordering_key
                )
            )
        await receiver.wait_for(12)
    finally:
        await receiver.stop()
    assert receiver.processed_ids() == emitted
    first_run = dev_env.client.get_workflow_handle(handle.id, run_id=handle.result_run_id)
    events = [event async for event in first_run.fetch_history_events()]
    assert events[-1].HasField("workflow_execution_continued_as_new_event_attributes")
