"""Campaigns through the REST API: create from JSON and CSV with a per-row report, drafts, steering,
adding contacts to a running campaign, live progress and its event stream."""

import asyncio
import json
import time

from api_helpers import ALL_HOURS, FAST, eventually, finished_campaign, person, phone

from api.routers import campaigns as campaigns_router
from api.routers.common import LIVE_PROGRESS_TIMEOUT_SECONDS
from api.services import campaigns
from schemas.campaign import CampaignSettings

AGENT = {"name": "sam", "instructions": "You are Sam from Ringflow. Be brief and polite."}
"""The offline scripted agent, which records each call's disposition from what its persona says."""
CSV = (
    "external_id,name,phone,persona,company\n"
    f"a1,Ann,{phone(1)},answers,Acme\n"
    f"a2,Bob,{phone(2)},qualifies,Acme\n"
    "a3,Cat,12345,answers,Acme\n"  # not a phone number
    f"a1,Dan,{phone(4)},answers,Acme\n"  # repeats external id a1
    f"a5,Eve,{phone(2)},answers,Acme\n"  # repeats Bob's number
    f"a6,Fay,{phone(6)},answers,Acme\n"  # on the do-not-call list
)


async def test_a_csv_upload_imports_the_good_rows_and_reports_every_bad_one_by_line(api_stack):
    """The imported rows keep their columns: Bob's persona reaches his call, where the agent qualifies him."""
    http = api_stack.org_a.http
    assert (await http.post("/v1/agents", json=AGENT)).status_code == 201
    assert (await http.post("/v1/dnc", json={"phone": phone(6), "reason": "asked"})).status_code == 201
    response = await http.post(
        "/v1/campaigns/upload",
        files={"file": ("spring.csv", CSV.encode(), "text/csv")},
        data={"settings": json.dumps(FAST), "agent_name": AGENT["name"]},
    )
    assert response.status_code == 201, response.text
    body = response.json()
    report = body["import_report"]
    assert report["imported"] == 2
    errors = {error["line"]: error["message"] for error in report["errors"]}
    assert set(errors) == {4, 5, 6, 7}
    assert "not a phone number" in errors[4]
    assert "'a1' already appears on line 2" in errors[5]
    assert f"phone {phone(2)} already appears on line 3" in errors[6]
    assert "do-not-call" in errors[7]

    campaign = body["campaign"]
    assert campaign["name"] == "spring" and campaign["contacts"]["total"] == 2
    assert campaign["agent_name"] == AGENT["name"]
    assert campaign["web_ui_url"].endswith(f"/namespaces/default/workflows/campaign-{campaign['id']}")
    done = await finished_campaign(http, campaign["id"])
    assert done["status"] == "completed" and done["percent_complete"] == 100.0
    assert done["outcomes"] == {"completed": 1, "qualified": 1}
    assert done["progress"]["finished"] == 2
    stats = (await http.get(f"/v1/campaigns/{campaign['id']}/stats")).json()
    assert stats["calls"] == 2 and stats["outcomes"] == {"completed": 1, "qualified": 1}
    assert phone(6) not in [dial.phone for dial in api_stack.carrier.dials]


async def test_a_json_campaign_reports_bad_rows_and_a_list_without_good_rows_is_refused(api_stack):
    http = api_stack.org_a.http
    rows = [person(1), {"phone": "not a number"}, person(1, name="again"), {"phone": phone(3), "timezone": "Mars/Base"}]
    response = await http.post("/v1/campaigns", json={"name": "json", "settings": FAST, "contacts": rows})
    assert response.status_code == 201, response.text
    report = response.json()["import_report"]
    assert report["imported"] == 1
    assert [error["line"] for error in report["errors"]] == [2, 3, 4]
    assert "not an IANA time zone" in report["errors"][2]["message"]

    refused = await http.post("/v1/campaigns", json={"name": "bad", "contacts": [{"phone": "123"}]})
    assert refused.status_code == 422
    assert refused.json()["import_report"]["errors"][0]["line"] == 1
    empty_csv = await http.post("/v1/campaigns/upload", files={"file": ("e.csv", b"name,phone\n", "text/csv")})
    assert empty_csv.status_code == 422 and "no contacts" in empty_csv.json()["detail"]


async def test_malformed_requests_get_a_4xx_that_names_the_field(api_stack):
    http = api_stack.org_a.http
    missing = await http.post("/v1/campaigns", json={"contacts": []})
    assert missing.status_code == 422 and "body.name" in missing.json()["detail"]
    typo = await http.post("/v1/campaigns", json={"name": "x", "setings": {}})
    assert typo.status_code == 422 and "body.setings" in typo.json()["detail"]
    bad_settings = await http.post("/v1/campaigns", json={"name": "x", "settings": {"max_concurrent_calls": 0}})
    assert bad_settings.status_code == 422 and "max_concurrent_calls" in bad_settings.json()["detail"]
    not_json = await http.post("/v1/campaigns", content=b"{nope", headers={"content-type": "application/json"})
    assert not_json.status_code == 422
    bad_limit = await http.get("/v1/campaigns", params={"limit": "many"})
    assert bad_limit.status_code == 422 and "query.limit" in bad_limit.json()["detail"]
    form_settings = await http.post(
        "/v1/campaigns/upload", files={"file": ("c.csv", b"phone\n+442079460001\n")}, data={"settings": "{"}
    )
    assert form_settings.status_code == 422 and form_settings.json()["detail"].startswith("settings")
    binary = await http.post("/v1/campaigns/upload", files={"file": ("c.csv", b"\xff\xfe\x00")})
    assert binary.status_code == 422 and "UTF-8" in binary.json()["detail"]
    nul = b'{"name": "x\\u0000"}'
    nan = b'{"name": "x", "contacts": [{"phone": "+442079460001", "attributes": {"score": NaN}}]}'
    for unstorable in (nul, nan):
        refused = await http.post("/v1/campaigns", content=unstorable, headers={"content-type": "application/json"})
        assert refused.status_code == 422, refused.text
    assert (await http.get("/v1/contacts", params={"outcome": "a\x00"})).status_code == 422
    for depth in (100, 900):
        deep = b'{"name": "x", "contacts": [{"phone": "+442079460001", "attributes": {"a": ' + b"[" * depth
        deep += b"]" * depth + b"}}]}"
        nested = await http.post("/v1/campaigns", content=deep, headers={"content-type": "application/json"})
        assert nested.status_code == 422 and "nested too deeply" in nested.text, nested.text
    unknown_agent = await http.post("/v1/campaigns", json={"name": "x", "agent_name": "nobody"})
    assert unknown_agent.status_code == 422 and "agent_name" in unknown_agent.json()["detail"]


async def test_a_draft_starts_on_request_and_closed_campaigns_refuse_signals(api_stack):
    http = api_stack.org_a.http
    created = await http.post(
        "/v1/campaigns", json={"name": "draft", "settings": FAST, "contacts": [person(1)], "start": False}
    )
    assert created.status_code == 201
    campaign = created.json()["campaign"]
    assert campaign["status"] == "draft" and campaign["web_ui_url"] is None
    assert (await http.post(f"/v1/campaigns/{campaign['id']}/pause")).status_code == 409
    added = await http.post(f"/v1/campaigns/{campaign['id']}/contacts", json={"contacts": [person(2)]})
    assert added.status_code == 200 and added.json()["import_report"]["imported"] == 2 - 1

    started = await http.post(f"/v1/campaigns/{campaign['id']}/start")
    assert started.status_code == 200, started.text
    assert (await http.post(f"/v1/campaigns/{campaign['id']}/start")).status_code == 409
    done = await finished_campaign(http, campaign["id"])
    assert done["outcomes"] == {"completed": 2}
    for action in ("pause", "resume", "cancel"):
        refused = await http.post(f"/v1/campaigns/{campaign['id']}/{action}")
        assert refused.status_code == 409, (action, refused.text)
    late = await http.post(f"/v1/campaigns/{campaign['id']}/contacts", json={"contacts": [person(3)]})
    assert late.status_code == 409

    never = await http.post("/v1/campaigns", json={"name": "never", "contacts": [person(4)], "start": False})
    cancelled = await http.post(f"/v1/campaigns/{never.json()['campaign']['id']}/cancel")
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "cancelled" and cancelled.json()["outcomes"] == {"cancelled": 1}
    assert (await http.post(f"/v1/campaigns/{never.json()['campaign']['id']}/start")).status_code == 409


async def test_pause_resume_add_contacts_and_cancel_steer_a_running_campaign(api_stack):
    """The 'callback' person asks the agent to call back later: the campaign keeps running meanwhile."""
    http = api_stack.org_a.http
    assert (await http.post("/v1/agents", json=AGENT)).status_code == 201
    settings = {"window": ALL_HOURS, "calls_per_second": 50}
    created = await http.post(
        "/v1/campaigns",
        json={
            "name": "steered",
            "agent_name": AGENT["name"],
            "settings": settings,
            "contacts": [person(1, "callback")],
        },
    )
    campaign_id = created.json()["campaign"]["id"]
    detail_url = f"/v1/campaigns/{campaign_id}"
    await eventually(lambda: http.get(detail_url), lambda body: body["progress"]["waiting_callback"] == 1)

    assert (await http.post(f"{detail_url}/pause")).status_code == 200
    await eventually(lambda: http.get(detail_url), lambda body: body["status"] == "paused")
    added = await http.post(f"{detail_url}/contacts", json={"contacts": [person(2), person(1), {"phone": "x"}]})
    assert added.status_code == 200, added.text
    report = added.json()["import_report"]
    assert report["imported"] == 1
    assert [error["line"] for error in report["errors"]] == [2, 3]
    assert "already in the campaign" in report["errors"][0]["message"]

    upload = await http.post(
        f"{detail_url}/contacts/upload",
        files={"file": ("more.csv", f"external_id,phone,persona\np3,{phone(3)},answers\n".encode())},
    )
    assert upload.status_code == 200 and upload.json()["import_report"]["imported"] == 1
    paused = (await http.get(detail_url)).json()
    assert paused["contacts"]["total"] == 3
    assert [dial.external_id for dial in api_stack.carrier.dials if dial.campaign_id == campaign_id] == ["p1"], (
        "no dial while paused"
    )

    assert (await http.post(f"{detail_url}/resume")).status_code == 200
    resumed = await eventually(lambda: http.get(detail_url), lambda body: body["progress"]["finished"] == 2)
    assert resumed["status"] == "running" and resumed["outcomes"] == {"completed": 2}

    cancelled = await http.post(f"{detail_url}/cancel", json={"reason": "enough"})
    assert cancelled.status_code == 200
    done = await finished_campaign(http, campaign_id)
    assert done["status"] == "cancelled" and done["outcomes"] == {"completed": 2, "cancelled": 1}


async def test_campaign_list_and_event_streams_show_progress(api_stack):
    http = api_stack.org_a.http
    created = await http.post("/v1/campaigns", json={"name": "streamed", "settings": FAST, "contacts": [person(1)]})
    campaign_id = created.json()["campaign"]["id"]
    listed = (await http.get("/v1/campaigns")).json()
    assert listed["total"] == 1 and listed["items"][0]["id"] == campaign_id

    events = []
    async with http.stream("GET", f"/v1/campaigns/{campaign_id}/events") as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        async for line in stream.aiter_lines():
            if line.startswith("data: "):
                events.append(json.loads(line.removeprefix("data: ")))
    assert events, "the stream ends by itself once the campaign is over"
    assert events[-1]["status"] == "completed" and events[-1]["progress"]["finished"] == 1

    async with http.stream("GET", "/v1/campaigns/events") as stream:
        async for line in stream.aiter_lines():
            if line.startswith("data: "):
                snapshot = json.loads(line.removeprefix("data: "))
                break
    assert [campaign["id"] for campaign in snapshot["campaigns"]] == [campaign_id]
    assert snapshot["campaigns"][0]["contacts"]["finished"] == 1


async def test_a_campaign_whose_workflow_has_no_worker_still_answers_from_the_store(api_stack):
    """Its progress query would wait for a worker: the detail gives up on it after a few seconds."""
    campaign_id, _ = await campaigns.create(
        api_stack.client,
        api_stack.sessions,
        org_id=api_stack.org_a.id,
        name="orphan",
        settings=CampaignSettings(),
        contacts=campaigns.ContactList.from_rows([]),
        agent=None,
        start=True,
        deployment=api_stack.settings.model_copy(update={"task_queue": "tq-nobody-polls"}),
        limits=campaigns.ImportLimits.of(api_stack.settings),
        allow_empty=True,
    )
    started = time.monotonic()
    detail = await api_stack.org_a.http.get(f"/v1/campaigns/{campaign_id}")
    assert detail.status_code == 200
    assert detail.json()["status"] == "running" and detail.json()["progress"] is None
    assert time.monotonic() - started < LIVE_PROGRESS_TIMEOUT_SECONDS + 15, "waited on the workflow"
    await campaigns.campaign_handle(api_stack.client, campaign_id).terminate("test over")


async def test_contacts_that_may_be_in_several_zones_are_reported_and_listed_with_their_zones(api_stack):
    http = api_stack.org_a.http
    rows = [
        {"external_id": "perth", "phone": "+61 8 9123 4567"},
        {"external_id": "perth-known", "phone": "+61 8 9123 4568", "timezone": "Australia/Perth"},
        {"external_id": "moved", "phone": "+1 305 555 0123", "region": "US-NY"},
    ]
    response = await http.post("/v1/campaigns", json={"name": "zones", "contacts": rows, "start": False})
    assert response.status_code == 201, response.text
    report = response.json()["import_report"]
    assert (report["imported"], report["uncertain_zones"], report["uncertain_zone_ids"]) == (3, 1, ["perth"])

    listed = await http.get("/v1/contacts", params={"campaign_id": response.json()["campaign"]["id"]})
    contacts = {item["external_id"]: item for item in listed.json()["items"]}
    assert contacts["perth"]["zones"] == ["Australia/Adelaide", "Australia/Perth"]
    assert (contacts["perth"]["zone_confident"], contacts["perth"]["region"]) == (False, "AU")
    assert (contacts["perth-known"]["zones"], contacts["perth-known"]["zone_confident"]) == (["Australia/Perth"], True)
    assert (contacts["moved"]["region"], contacts["moved"]["zones"]) == ("US-NY", ["America/New_York"])


async def test_a_campaign_that_cannot_dial_is_refused_at_start_and_stores_nothing(api_stack):
    """A carrier without its settings, or a live carrier without an agent: every dial would end ``failed`` and
    be retried until the list ends unreachable. Refused before a row is written."""
    twilio_without_token = api_stack.settings.model_copy(update={"carrier": "twilio", "twilio_auth_token": None})
    livekit_ready = api_stack.settings.model_copy(
        update={
            "carrier": "livekit_sip",
            "livekit_url": "wss://livekit.example",
            "livekit_api_key": "key",
            "livekit_api_secret": "secret",
            "livekit_sip_outbound_trunk_id": "ST_trunk",
        }
    )
    refusals = []
    for deployment in (twilio_without_token, livekit_ready):
        try:
            await campaigns.create(
                api_stack.client,
                api_stack.sessions,
                org_id=api_stack.org_a.id,
                name="doomed",
                settings=CampaignSettings(),
                contacts=campaigns.ContactList.from_rows([{"phone": "+442079460001"}]),
                agent=None,
                start=True,
                deployment=deployment,
                limits=campaigns.ImportLimits.of(api_stack.settings),
            )
        except campaigns.InvalidCampaignInputError as refusal:
            refusals.append(str(refusal))
    assert len(refusals) == 2
    assert "RINGFLOW_TWILIO_AUTH_TOKEN" in refusals[0]
    assert refusals[1].startswith("agent_name:") and "livekit_sip" in refusals[1]
    assert (await api_stack.org_a.http.get("/v1/campaigns")).json()["total"] == 0


async def test_a_tripped_campaign_shows_why_and_which_calls_and_resumes_by_hand(api_stack):
    http = api_stack.org_a.http
    api_stack.carrier.fault = "trunk_down"  # every dial meets SIP 503
    settings = {**FAST, "max_concurrent_calls": 2, "causes": {"network_retry": {"initial_delay": "PT1S"}}}
    created = await http.post(
        "/v1/campaigns", json={"name": "dead trunk", "settings": settings, "contacts": [person(i) for i in range(30)]}
    )
    assert created.status_code == 201, created.text
    detail_url = f"/v1/campaigns/{created.json()['campaign']['id']}"
    tripped = await eventually(lambda: http.get(detail_url), lambda body: body["status"] == "paused")
    assert (
        tripped["pause_reason"].startswith("circuit breaker: ") and "failed on the network" in tripped["pause_reason"]
    )
    tripped = await eventually(lambda: http.get(detail_url), lambda body: body["tripped_by"])
    call = (await http.get(tripped["tripped_by"][0])).json()
    assert (call["status_code"], call["network_status"], call["cause"]) == (503, "failed", "network_retry")

    api_stack.carrier.fault = ""
    assert (await http.post(f"{detail_url}/resume")).status_code == 200
    done = await finished_campaign(http, created.json()["campaign"]["id"])
    assert (done["status"], done["pause_reason"], done["tripped_by"]) == ("completed", "", [])
    assert done["outcomes"] == {"completed": 30}, "no network failure counted as a person's try (max_attempts 1)"


async def test_the_campaign_event_stream_sends_a_snapshot_again_only_once_the_campaign_changed(api_stack, monkeypatch):
    """A draft sits still: checked every 20 ms, its stream sends its first snapshot and then nothing, until
    contacts are added, when the next check sends the new counts (once)."""
    monkeypatch.setattr(campaigns_router, "EVENT_INTERVAL_SECONDS", 0.02)
    http = api_stack.org_a.http
    created = await http.post("/v1/campaigns", json={"name": "quiet", "start": False, "contacts": [person(1)]})
    campaign_id = created.json()["campaign"]["id"]
    events: list[dict] = []

    async def collect(stream) -> None:
        async for line in stream.aiter_lines():
            if line.startswith("data: "):
                events.append(json.loads(line.removeprefix("data: ")))

    async with http.stream("GET", f"/v1/campaigns/{campaign_id}/events") as stream:
        reader = asyncio.create_task(collect(stream))
        try:
            await wait_for_events(events, 1)
            await asyncio.sleep(0.5)  # some twenty checks of an unchanged campaign
            assert [event["contacts"]["total"] for event in events] == [1]
            added = await http.post(f"/v1/campaigns/{campaign_id}/contacts", json={"contacts": [person(2)]})
            assert added.status_code == 200, added.text
            await wait_for_events(events, 2)
            await asyncio.sleep(0.3)
        finally:
            reader.cancel()
    assert [(event["contacts"]["total"], event["contacts"]["pending"]) for event in events] == [(1, 1), (2, 2)]


async def wait_for_events(events: list[dict], count: int, within: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while len(events) < count:
        assert asyncio.get_running_loop().time() < deadline, f"{len(events)} event(s) after {within} s: {events}"
        await asyncio.sleep(0.01)
