"""Agents, phone numbers and the do-not-call list through the REST API."""

from api_helpers import FAST, eventually, person, phone
from twilio_standin import TwilioStandIn

import api.routers.numbers
from store import numbers
from telephony.twilio_voice import TwilioVoice

AGENT = {"name": "ada", "instructions": "You are Ada. Be brief.", "greeting": "Hi, Ada here."}


async def test_agents_are_created_edited_with_tool_toggles_and_deleted(api_stack):
    http = api_stack.org_a.http
    created = await http.post("/v1/agents", json=AGENT)
    assert created.status_code == 201, created.text
    agent = created.json()
    assert agent["active"] and not agent["tools"].pop("search_knowledge"), "off until switched on"
    assert all(agent["tools"].values())
    assert "transfer_to_human" not in agent["enabled_tools"], "no number to transfer to"
    again = await http.post("/v1/agents", json=AGENT)
    assert again.status_code == 409 and "already exists" in again.json()["detail"]

    toggled = await http.put("/v1/agents/ada", json={"tools": {"take_note": False, "end_call": False}})
    assert toggled.status_code == 200, toggled.text
    tools = toggled.json()["tools"]
    assert not tools["take_note"] and not tools["end_call"] and tools["share_information"]
    edited = await http.put(
        "/v1/agents/ada",
        json={
            "greeting": "Marhaba!",
            "language": "ar",
            "voice": "verse",
            "context": {"offer": "free delivery"},
            "transfer_number": "+44 20 7946 0999",
        },
    )
    body = edited.json()
    assert body["greeting"] == "Marhaba!" and body["language"] == "ar" and body["voice"] == "verse"
    assert body["context"] == {"offer": "free delivery"} and body["transfer_number"] == phone(999)
    assert "transfer_to_human" in body["enabled_tools"] and "take_note" not in body["enabled_tools"]
    assert not body["tools"]["take_note"], "a later edit keeps the earlier toggles"
    assert (await http.get("/v1/agents/ada")).json() == body
    assert [item["name"] for item in (await http.get("/v1/agents")).json()["items"]] == ["ada"]

    for bad in ({"instructions": ""}, {"instructions": None}, {"transfer_number": "call me"}, {"tools": {"fly": True}}):
        refused = await http.put("/v1/agents/ada", json=bad)
        assert refused.status_code == 422, (bad, refused.text)
    assert (await http.post("/v1/agents", json={**AGENT, "name": "has space"})).status_code == 422
    reserved = await http.post("/v1/agents", json={**AGENT, "name": "New"})
    assert reserved.status_code == 422 and "reserved" in reserved.json()["detail"]
    typo = await http.post("/v1/agents", json={**AGENT, "name": "other", "greting": "Hi"})
    assert typo.status_code == 422 and "body.greting" in typo.json()["detail"]
    assert (await http.put("/v1/agents/nobody", json={"greeting": "x"})).status_code == 404

    assert (await http.delete("/v1/agents/ada")).status_code == 204
    assert (await http.get("/v1/agents/ada")).status_code == 404
    assert (await http.delete("/v1/agents/ada")).status_code == 404


async def test_a_number_is_assigned_to_an_active_agent_of_its_organization(api_stack):
    http = api_stack.org_a.http
    async with api_stack.sessions() as session:
        await numbers.upsert_number(session, phone(100), "PN1", "Front desk", org_id=api_stack.org_a.id)
        await numbers.upsert_number(session, phone(200), "PN2", "B's line", org_id=api_stack.org_b.id)
        await session.commit()
    await http.post("/v1/agents", json=AGENT)
    await http.post("/v1/agents", json={**AGENT, "name": "retired", "active": False})

    listed = (await http.get("/v1/numbers")).json()["items"]
    assert [(item["number"], item["agent_name"]) for item in listed] == [(phone(100), None)]
    assigned = await http.put(f"/v1/numbers/{phone(100)}/agent", json={"agent_name": "ada"})
    assert assigned.status_code == 200, assigned.text
    assert assigned.json()["agent_name"] == "ada"
    async with api_stack.sessions() as session:
        answering = await numbers.agent_for_number(session, phone(100))
    assert answering is not None and answering.name == "ada"

    inactive = await http.put(f"/v1/numbers/{phone(100)}/agent", json={"agent_name": "retired"})
    assert inactive.status_code == 422 and "inactive" in inactive.json()["detail"]
    unknown = await http.put(f"/v1/numbers/{phone(100)}/agent", json={"agent_name": "nobody"})
    assert unknown.status_code == 422
    assert (await http.put(f"/v1/numbers/{phone(200)}/agent", json={"agent_name": "ada"})).status_code == 404
    assert (await http.put("/v1/numbers/12/agent", json={"agent_name": "ada"})).status_code == 404

    unbound = await http.put(f"/v1/numbers/{phone(100)}/agent", json={"agent_name": None})
    assert unbound.json()["agent_name"] is None


async def test_assigning_a_number_points_its_twilio_webhook_at_the_api_first(api_stack, monkeypatch):
    with TwilioStandIn() as twilio:
        sid = twilio.add_number(phone(100), friendly_name="Front desk")
        monkeypatch.setattr(api_stack.settings, "twilio_account_sid", twilio.account_sid)
        monkeypatch.setattr(api_stack.settings, "twilio_auth_token", twilio.auth_token)
        monkeypatch.setattr(api_stack.settings, "public_base_url", "https://ringflow.example.com/")
        monkeypatch.setattr(
            api.routers.numbers,
            "twilio_voice",
            lambda settings: TwilioVoice.from_settings(settings, api_base_url=twilio.base_url),
        )
        async with api_stack.sessions() as session:
            await numbers.upsert_number(session, phone(100), sid, "Front desk", org_id=api_stack.org_a.id)
            await session.commit()
        http = api_stack.org_a.http
        await http.post("/v1/agents", json=AGENT)

        twilio.fail_next(500, 20500, "Twilio is down", method="POST", path_contains=sid)
        refused = await http.put(f"/v1/numbers/{phone(100)}/agent", json={"agent_name": "ada"})
        assert refused.status_code == 502 and "Twilio is down" in refused.json()["detail"]
        assert (await http.get("/v1/numbers")).json()["items"][0]["agent_name"] is None, "the store follows Twilio"

        assigned = await http.put(f"/v1/numbers/{phone(100)}/agent", json={"agent_name": "ada"})
        assert assigned.status_code == 200 and assigned.json()["agent_name"] == "ada"
        assert twilio.numbers[sid]["voice_url"] == "https://ringflow.example.com/twilio/voice/incoming"
        assert twilio.numbers[sid]["status_callback"] == "https://ringflow.example.com/twilio/voice/status"
        assert twilio.numbers[sid]["status_callback_method"] == "POST"


async def test_the_do_not_call_list_is_kept_imported_and_never_dialled(api_stack):
    http = api_stack.org_a.http
    added = await http.post("/v1/dnc", json={"phone": "+44 20 7946 0001", "reason": "asked on the phone"})
    assert added.status_code == 201 and added.json()["added"] and added.json()["entry"]["phone"] == phone(1)
    repeat = await http.post("/v1/dnc", json={"phone": phone(1), "reason": "again"})
    assert repeat.status_code == 200 and not repeat.json()["added"]
    assert repeat.json()["entry"]["reason"] == "asked on the phone"
    assert (await http.post("/v1/dnc", json={"phone": "555"})).status_code == 422

    csv = f"phone,reason\n{phone(2)},complaint\nnot a phone,\n{phone(1)},dup\n\n{phone(3)}\n"
    imported = await http.post("/v1/dnc/import", files={"file": ("dnc.csv", csv.encode())})
    assert imported.status_code == 200, imported.text
    report = imported.json()
    assert report["added"] == 2 and report["already_listed"] == 1
    assert [error["line"] for error in report["errors"]] == [3]
    no_header = await http.post("/v1/dnc/import", files={"file": ("dnc.csv", b"number\n+442079460001\n")})
    assert no_header.status_code == 422

    listed = (await http.get("/v1/dnc")).json()
    assert listed["total"] == 3 and {item["phone"] for item in listed["items"]} == {phone(1), phone(2), phone(3)}
    assert (await http.delete(f"/v1/dnc/{phone(3)}")).status_code == 204
    assert (await http.delete(f"/v1/dnc/{phone(3)}")).status_code == 404
    assert (await http.delete("/v1/dnc/garbage")).status_code == 404

    # Listed after the import, before the dial: the campaign still never rings it.
    draft = await http.post(
        "/v1/campaigns",
        json={"name": "dnc", "settings": FAST, "contacts": [person(4), person(5)], "start": False},
    )
    campaign_id = draft.json()["campaign"]["id"]
    rejected = await http.post(f"/v1/campaigns/{campaign_id}/contacts", json={"contacts": [person(2, "answers")]})
    assert rejected.status_code == 422 and "do-not-call" in rejected.json()["import_report"]["errors"][0]["message"]
    assert (await http.post("/v1/dnc", json={"phone": phone(4)})).status_code == 201
    assert (await http.post(f"/v1/campaigns/{campaign_id}/start")).status_code == 200
    done = await eventually(
        lambda: http.get(f"/v1/campaigns/{campaign_id}"), lambda body: body["status"] == "completed"
    )
    assert done["outcomes"] == {"do_not_call": 1, "completed": 1}
    dialled = [dial.phone for dial in api_stack.carrier.dials]
    assert phone(5) in dialled and phone(4) not in dialled


async def test_an_agents_disclosure_is_set_changed_and_removed(api_stack):
    http = api_stack.org_a.http
    disclosure = "You're speaking with an AI assistant, and this call is recorded."
    created = await http.post("/v1/agents", json={**AGENT, "disclosure": disclosure})
    assert created.status_code == 201, created.text
    assert created.json()["disclosure"] == disclosure
    assert (await http.get("/v1/agents/ada")).json()["disclosure"] == disclosure

    reworded = await http.put("/v1/agents/ada", json={"disclosure": "This call is recorded; I am an AI."})
    assert reworded.status_code == 200, reworded.text
    assert reworded.json()["disclosure"] == "This call is recorded; I am an AI."
    assert reworded.json()["greeting"] == AGENT["greeting"], "the greeting stays"
    for bad in ({"disclosure": None}, {"disclosure": "x" * 501}):
        refused = await http.put("/v1/agents/ada", json=bad)
        assert refused.status_code == 422, (bad, refused.text)
    removed = await http.put("/v1/agents/ada", json={"disclosure": ""})
    assert removed.json()["disclosure"] == ""
    assert (await http.post("/v1/agents", json={**AGENT, "name": "long", "disclosure": "x" * 501})).status_code == 422
    assert (await http.post("/v1/agents", json={**AGENT, "name": "plain"})).json()["disclosure"] == ""
