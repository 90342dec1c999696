"""Calls, contacts, shared information and statistics through the REST API, after real (simulated)
calls taken by the offline scripted agent; one outbound call with a context override; live context."""

from datetime import UTC, datetime, timedelta

import pytest
from api_helpers import FAST, eventually, person, phone

AGENT = {
    "name": "sam",
    "instructions": "You are Sam from Ringflow. Be brief and polite.",
    "greeting": "Hi, this is Sam from Ringflow. Do you have a minute?",
    "context": {"offer": "a free month of Pro"},
}
PERSONAS = ["qualifies", "answers", "not_interested", "busy", "callback_tomorrow"]


async def run_agent_campaign(http) -> tuple[str, dict]:
    """The agent calls one person of each persona; returns the campaign id once only the callback is left."""
    assert (await http.post("/v1/agents", json=AGENT)).status_code == 201
    people = [person(index, persona) for index, persona in enumerate(PERSONAS, start=1)]
    created = await http.post(
        "/v1/campaigns", json={"name": "agent", "agent_name": "sam", "settings": FAST, "contacts": people}
    )
    assert created.status_code == 201, created.text
    campaign_id = created.json()["campaign"]["id"]
    campaign = await eventually(
        lambda: http.get(f"/v1/campaigns/{campaign_id}"),
        lambda body: body["progress"]["finished"] == 4 and body["progress"]["waiting_callback"] == 1,
    )
    return campaign_id, campaign


def by_external_id(items: list[dict]) -> dict[str, dict]:
    return {item["external_id"]: item for item in items}


async def test_a_calls_transcript_notes_information_and_callbacks_after_the_agent_talked(api_stack):
    http = api_stack.org_a.http
    campaign_id, campaign = await run_agent_campaign(http)
    assert campaign["agent_name"] == "sam"
    assert campaign["outcomes"] == {"qualified": 1, "completed": 1, "not_interested": 1, "unreachable": 1}

    calls = await http.get("/v1/calls", params={"campaign_id": campaign_id})
    assert calls.json()["total"] == 5
    call_ids = {item["external_id"]: item["id"] for item in calls.json()["items"]}

    contacts = by_external_id((await http.get("/v1/contacts", params={"campaign_id": campaign_id})).json()["items"])
    assert contacts["p1"]["last_call_id"] == call_ids["p1"] and contacts["p4"]["last_call_id"] == call_ids["p4"]

    qualified = (await http.get(f"/v1/calls/{call_ids['p1']}")).json()
    assert qualified["outcome"] == "qualified" and qualified["answered"] and qualified["agent_name"] == "sam"
    assert (qualified["disposition"], qualified["network_status"]) == ("qualified", "completed")
    assert qualified["transcript"][0]["speaker"] == "agent" and "Sam" in qualified["transcript"][0]["text"]
    assert any(line["speaker"] == "callee" and "40 employees" in line["text"] for line in qualified["transcript"])
    assert "40 employees" in qualified["information"]["qualification"][0]["information"]
    assert qualified["notes"], "the agent noted the qualification"
    assert qualified["web_ui_url"].endswith(f"/workflows/contact-{campaign_id}-p1")

    undecided = (await http.get(f"/v1/calls/{call_ids['p2']}")).json()
    assert any("a free month of Pro" in line["text"] for line in undecided["transcript"]), "the offer from context"
    assert [note["note"] for note in undecided["notes"]] == ["Callee will think about it: Thanks, I'll think about it."]

    busy = (await http.get(f"/v1/calls/{call_ids['p4']}")).json()
    assert busy["outcome"] == "busy" and not busy["answered"] and busy["transcript"] == []

    later = (await http.get(f"/v1/calls/{call_ids['p5']}")).json()
    assert later["outcome"] == "callback_requested"
    assert [callback["status"] for callback in later["callbacks"]] == ["scheduled"]
    assert later["callbacks"][0]["scheduled_for"] > later["started_at"]

    assert (await http.get("/v1/calls/out_bm90LWEtY2FsbA")).status_code == 404
    assert (await http.get("/v1/calls/nonsense")).status_code == 404


async def test_contacts_calls_and_information_filter_by_campaign_outcome_date_agent_and_caller(api_stack):
    http = api_stack.org_a.http
    campaign_id, _ = await run_agent_campaign(http)
    other = await http.post("/v1/campaigns", json={"name": "no agent", "settings": FAST, "contacts": [person(9)]})
    other_id = other.json()["campaign"]["id"]
    await eventually(lambda: http.get(f"/v1/campaigns/{other_id}"), lambda body: body["status"] == "completed")

    async def contacts(**params) -> list[str]:
        response = await http.get("/v1/contacts", params=params)
        assert response.status_code == 200, response.text
        return sorted(item["external_id"] for item in response.json()["items"])

    async def calls(**params) -> list[str]:
        response = await http.get("/v1/calls", params=params)
        assert response.status_code == 200, response.text
        return sorted(item["external_id"] for item in response.json()["items"])

    assert await contacts() == ["p1", "p2", "p3", "p4", "p5", "p9"]
    assert await contacts(campaign_id=campaign_id, outcome="qualified") == ["p1"]
    assert await contacts(agent="sam") == ["p1", "p2", "p3", "p4", "p5"]
    assert await contacts(campaign_id=other_id) == ["p9"]
    later = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    earlier = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    assert await contacts(since=later) == [] and await contacts(until=earlier) == []
    assert len(await contacts(since=earlier, until=later)) == 6
    page = (await http.get("/v1/contacts", params={"limit": 2, "offset": 4})).json()
    assert page["total"] == 6 and len(page["items"]) == 2

    assert await calls(outcome="busy") == ["p4"]
    assert await calls(agent="sam", outcome="completed") == ["p2"]
    assert await calls(agent="nobody") == []
    assert await calls(since=later) == [] and len(await calls(since=earlier)) == 6

    qualification = (await http.get("/v1/information", params={"category": "qualification"})).json()["items"]
    assert [item["caller"] for item in qualification] == [phone(1)]
    assert qualification[0]["contact_name"] == "Person 1" and qualification[0]["call_id"].startswith("out_")
    by_caller = (await http.get("/v1/information", params={"caller": "+44 20 7946 0001"})).json()["items"]
    assert by_caller and {item["caller"] for item in by_caller} == {phone(1)}
    assert (await http.get("/v1/information", params={"caller": phone(2)})).json()["items"] == []
    assert (await http.get("/v1/information", params={"caller": "nope"})).status_code == 422
    assert (await http.get("/v1/information", params={"category": "gossip"})).status_code == 422


async def test_statistics_per_campaign_and_per_agent(api_stack):
    http = api_stack.org_a.http
    campaign_id, _ = await run_agent_campaign(http)
    stats = (await http.get(f"/v1/campaigns/{campaign_id}/stats")).json()
    assert stats["calls"] == 5 and stats["answered"] == 4 and stats["answer_rate"] == 0.8
    assert stats["outcomes"] == {
        "qualified": 1,
        "completed": 1,
        "not_interested": 1,
        "busy": 1,
        "callback_requested": 1,
    }
    assert stats["final_outcomes"] == {"qualified": 1, "completed": 1, "not_interested": 1, "unreachable": 1}
    assert stats["average_duration_seconds"] > 0
    per_minute, per_dial = api_stack.settings.cost_per_minute_usd, api_stack.settings.cost_per_dial_usd
    expected_cost = stats["connected_minutes"] * per_minute + 1 * per_dial  # one busy line, never answered
    assert stats["estimated_cost_usd"] == pytest.approx(expected_cost, abs=0.01 * per_minute)

    agent = (await http.get("/v1/agents/sam/stats")).json()
    assert agent["calls"] == 5 and agent["answered"] == 4
    assert (await http.get("/v1/agents/nobody/stats")).status_code == 404
    assert (await http.get("/v1/campaigns/c-none/stats")).status_code == 404


async def test_one_outbound_call_uses_the_agent_with_the_context_given_for_that_call_only(api_stack):
    http = api_stack.org_a.http
    assert (await http.post("/v1/agents", json=AGENT)).status_code == 201
    started = await http.post(
        "/v1/agents/sam/calls",
        json={"phone": phone(7), "name": "Gus", "persona": "answers", "context": {"offer": "two months free"}},
    )
    assert started.status_code == 201, started.text
    body = started.json()
    campaign_id = body["campaign"]["id"]
    assert body["campaign"]["agent_name"] == "sam" and body["campaign"]["contacts"]["total"] == 1
    assert body["contact_web_ui_url"].endswith(f"/workflows/contact-{campaign_id}-{body['external_id']}")
    await eventually(
        lambda: http.get(f"/v1/campaigns/{campaign_id}"), lambda campaign: campaign["status"] == "completed"
    )
    call = (await http.get("/v1/calls", params={"campaign_id": campaign_id})).json()["items"][0]
    detail = (await http.get(f"/v1/calls/{call['id']}")).json()
    assert detail["phone"] == phone(7) and detail["contact_name"] == "Gus"
    assert any("two months free" in line["text"] for line in detail["transcript"])
    assert (await http.get("/v1/agents/sam")).json()["context"] == {"offer": "a free month of Pro"}

    assert (await http.post("/v1/agents/sam/calls", json={"phone": "12"})).status_code == 422
    assert (await http.post("/v1/agents/nobody/calls", json={"phone": phone(7)})).status_code == 404
    assert (await http.post("/v1/dnc", json={"phone": phone(8)})).status_code == 201
    blocked = await http.post("/v1/agents/sam/calls", json={"phone": phone(8)})
    assert blocked.status_code == 409 and "do-not-call" in blocked.json()["detail"]


async def test_the_live_context_of_a_call_in_progress_can_be_edited_and_a_finished_one_refuses(api_stack):
    http = api_stack.org_a.http
    campaign_id, _ = await run_agent_campaign(http)
    calls = (await http.get("/v1/calls", params={"campaign_id": campaign_id})).json()["items"]
    call_ids = {item["external_id"]: item["id"] for item in calls}

    merged = await http.patch(f"/v1/calls/{call_ids['p5']}/context", json={"data": {"tier": "gold"}})
    assert merged.status_code == 200, merged.text
    # The contact's attributes seed the context; the simulator's persona is one of them.
    persona = {"persona": "callback_tomorrow"}
    assert merged.json() == {"version": 1, "data": {**persona, "tier": "gold"}}
    merged_again = await http.patch(f"/v1/calls/{call_ids['p5']}/context", json={"data": {"vip": True}})
    assert merged_again.json() == {"version": 2, "data": {**persona, "tier": "gold", "vip": True}}
    replaced = await http.patch(
        f"/v1/calls/{call_ids['p5']}/context", json={"data": {"tier": "silver"}, "replace": True}
    )
    assert replaced.json() == {"version": 3, "data": {"tier": "silver"}}

    # A decided contact's workflow ends once its call's analysis is done: wait for that, then it refuses.
    await api_stack.client.get_workflow_handle(f"contact-{campaign_id}-p1").result()
    finished = await http.patch(f"/v1/calls/{call_ids['p1']}/context", json={"data": {"tier": "gold"}})
    assert finished.status_code == 409 and "over" in finished.json()["detail"]
    assert (await http.patch("/v1/calls/in_CAnone/context", json={"data": {}})).status_code == 404
    assert (await http.patch(f"/v1/calls/{call_ids['p5']}/context", json={"data": "x"})).status_code == 422


ANALYSED_AGENT = {
    **AGENT,
    "name": "ana",
    "analysis": {
        "fields": {
            "budget": {"type": "number", "description": "monthly budget"},
            "company_size": {"type": "integer", "description": "employees"},
            "interested": {"type": "boolean"},
        },
        "tags": [{"name": "pricing", "description": "budget price"}],
    },
}


async def test_connected_calls_are_analysed_shown_rerun_and_exported_and_unanswered_ones_are_not(api_stack):
    http = api_stack.org_a.http
    created = await http.post("/v1/agents", json=ANALYSED_AGENT)
    assert created.status_code == 201 and created.json()["analysis"]["fields"]["budget"]["type"] == "number"
    bad = {**ANALYSED_AGENT, "name": "bad", "analysis": {"fields": {"two words": {"type": "number"}}}}
    assert (await http.post("/v1/agents", json=bad)).status_code == 422
    people = [person(1, "qualifies"), person(2, "busy")]
    started = await http.post(
        "/v1/campaigns", json={"name": "analysed", "agent_name": "ana", "settings": FAST, "contacts": people}
    )
    campaign_id = started.json()["campaign"]["id"]
    await eventually(lambda: http.get(f"/v1/campaigns/{campaign_id}"), lambda body: body["progress"]["finished"] == 2)
    call_ids = {
        item["external_id"]: item["id"]
        for item in (await http.get("/v1/calls", params={"campaign_id": campaign_id})).json()["items"]
    }

    qualified = await eventually(lambda: http.get(f"/v1/calls/{call_ids['p1']}"), lambda body: body["analysis"])
    analysis = qualified["analysis"]
    assert analysis["extracted"] == {"budget": 5000.0, "company_size": 40, "interested": True}
    assert analysis["tags"] == ["pricing"] and analysis["success"] is True and analysis["analyser"] == "offline"
    assert "40 employees" in analysis["summary"] and qualified["outcome"] == "qualified"
    busy = (await http.get(f"/v1/calls/{call_ids['p2']}")).json()
    assert busy["analysis"] is None, "a call nobody answered is not analysed"

    changed = {"analysis": {"fields": {"company_size": {"type": "integer", "description": "employees"}}}}
    assert (await http.put("/v1/agents/ana", json=changed)).status_code == 200
    rerun = await http.post(f"/v1/calls/{call_ids['p1']}/analysis")
    assert rerun.status_code == 200 and rerun.json()["extracted"] == {"company_size": 40}
    assert (await http.get(f"/v1/calls/{call_ids['p1']}")).json()["analysis"] == rerun.json()
    assert (await api_stack.org_b.http.post(f"/v1/calls/{call_ids['p1']}/analysis")).status_code == 404

    export = await http.get(f"/v1/campaigns/{campaign_id}/results.csv")
    assert export.status_code == 200 and export.headers["content-type"].startswith("text/csv")
    header, first, second = export.text.splitlines()
    assert header.endswith("summary,company_size")
    assert first.startswith(f"{campaign_id},p1,'+44") and first.endswith(",40")
    assert ",busy," not in second and ",p2," in second
    assert (await api_stack.org_b.http.get(f"/v1/campaigns/{campaign_id}/results.csv")).status_code == 404
