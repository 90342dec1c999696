"""Organizations are walled off: a key sees only its organization's data, anyone else's is a 404,
and every /v1 operation refuses a request without a valid key."""

import json
import re

import pytest
from api_helpers import FAST, eventually, person, phone

from api.main import _build
from store import numbers

SECRET_PHONE = phone(4242)


async def org_b_with_everything(api_stack) -> dict[str, str]:
    """Org B gets an agent, a finished campaign with an agent conversation, a number, an incoming
    call and a do-not-call entry; returns their ids."""
    http = api_stack.org_b.http
    assert (await http.post("/v1/agents", json={"name": "bee", "instructions": "Be Bee."})).status_code == 201
    created = await http.post(
        "/v1/campaigns",
        json={"name": "b-only", "agent_name": "bee", "settings": FAST, "contacts": [person(1, "qualifies")]},
    )
    campaign_id = created.json()["campaign"]["id"]
    await eventually(lambda: http.get(f"/v1/campaigns/{campaign_id}"), lambda body: body["status"] == "completed")
    assert (await http.post("/v1/dnc", json={"phone": SECRET_PHONE})).status_code == 201
    async with api_stack.sessions() as session:
        await numbers.upsert_number(session, phone(200), "PNB", "B's line", org_id=api_stack.org_b.id)
        await numbers.upsert_number(session, phone(100), "PNA", "A's line", org_id=api_stack.org_a.id)
        await numbers.record_inbound_call(session, "CAbbbb", phone(200), SECRET_PHONE, "bee")
        await numbers.record_inbound_call(session, "CAaaaa", phone(100), phone(5), "ada")
        await session.commit()
    calls = (await http.get("/v1/calls", params={"campaign_id": campaign_id})).json()["items"]
    return {"campaign": campaign_id, "call": calls[0]["id"], "agent": "bee", "number": phone(200)}


async def test_org_a_gets_404_for_every_resource_of_org_b_and_its_lists_show_nothing_of_b(api_stack):
    b = await org_b_with_everything(api_stack)
    a = api_stack.org_a.http
    campaign, call = f"/v1/campaigns/{b['campaign']}", f"/v1/calls/{b['call']}"
    contacts = {"contacts": [person(7)]}
    csv = {"file": ("c.csv", f"phone\n{phone(7)}\n".encode())}
    attempts = [
        a.get(campaign),
        a.get(f"{campaign}/events"),
        a.get(f"{campaign}/stats"),
        a.post(f"{campaign}/start"),
        a.post(f"{campaign}/pause"),
        a.post(f"{campaign}/resume"),
        a.post(f"{campaign}/cancel", json={"reason": "A says so"}),
        a.post(f"{campaign}/contacts", json=contacts),
        a.post(f"{campaign}/contacts/upload", files=csv),
        a.get(call),
        a.get("/v1/calls/in_CAbbbb"),
        a.patch(f"{call}/context", json={"data": {"x": 1}}),
        a.get("/v1/agents/bee"),
        a.put("/v1/agents/bee", json={"greeting": "hijacked"}),
        a.get("/v1/agents/bee/stats"),
        a.post("/v1/agents/bee/calls", json={"phone": phone(7)}),
        a.delete("/v1/agents/bee"),
        a.put(f"/v1/numbers/{b['number']}/agent", json={"agent_name": None}),
        a.delete(f"/v1/dnc/{SECRET_PHONE}"),
    ]
    for attempt in attempts:
        response = await attempt
        assert response.status_code == 404, (response.request.method, response.request.url, response.text)

    assert (await a.get("/v1/me")).json() == {"id": api_stack.org_a.id, "name": "Org A"}
    everything = [
        await a.get("/v1/campaigns"),
        await a.get("/v1/contacts"),
        await a.get("/v1/agents"),
        await a.get("/v1/dnc"),
        await a.get("/v1/information"),
    ]
    for response in everything:
        body = response.json()
        assert body.get("items", []) == [] and body.get("total", 0) == 0, (response.request.url, body)
    a_calls = (await a.get("/v1/calls")).json()
    assert [(item["direction"], item["external_id"]) for item in a_calls["items"]] == [("inbound", "CAaaaa")]
    inbound = (await a.get(f"/v1/calls/{a_calls['items'][0]['id']}")).json()
    assert inbound["phone"] == phone(5) and inbound["agent_name"] == "ada"
    assert inbound["web_ui_url"].endswith("/workflows/inbound-CAaaaa")
    assert [item["number"] for item in (await a.get("/v1/numbers")).json()["items"]] == [phone(100)]
    async with a.stream("GET", "/v1/campaigns/events") as stream:
        async for line in stream.aiter_lines():
            if line.startswith("data: "):
                assert json.loads(line.removeprefix("data: ")) == {"campaigns": []}
                break
    for filtered in ("/v1/contacts", "/v1/calls"):
        leaked = await a.get(filtered, params={"campaign_id": b["campaign"]})
        assert leaked.json()["items"] == []
    assert (await a.get("/v1/information", params={"caller": SECRET_PHONE})).json()["items"] == []

    # A may reuse B's names and numbers for its own: nothing collides.
    assert (await a.post("/v1/agents", json={"name": "bee", "instructions": "A's own bee."})).status_code == 201
    assert (await a.post("/v1/dnc", json={"phone": SECRET_PHONE})).status_code == 201
    b_agent = (await api_stack.org_b.http.get("/v1/agents/bee")).json()
    assert b_agent["instructions"] == "Be Bee."
    assert (await api_stack.org_b.http.get(call)).status_code == 200


def v1_operations() -> list[tuple[str, str]]:
    schema = _build().openapi()
    return [
        (method.upper(), re.sub(r"\{[^}]+\}", "x", path))
        for path, operations in schema["paths"].items()
        if path.startswith("/v1/")
        for method in operations
    ]


@pytest.mark.parametrize("key", [None, "rf_not-a-real-key", "garbage"], ids=["no_key", "unknown_key", "garbage"])
async def test_every_v1_operation_refuses_a_missing_or_bad_key_with_401(api_stack, key):
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    operations = v1_operations()
    assert len(operations) > 25
    for method, path in operations:
        response = await api_stack.anonymous.request(method, path, headers=headers)
        assert response.status_code == 401, (method, path, response.text)
        assert response.json()["detail"]
    by_header = await api_stack.anonymous.get("/v1/me", headers={"X-API-Key": api_stack.org_b.key})
    assert by_header.json()["id"] == api_stack.org_b.id
