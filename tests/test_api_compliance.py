"""The calling policy, the audit trail and opt-out sources through the REST API, on the real stack."""

from api_helpers import FAST, finished_campaign, person

AGENT = {"name": "sam", "instructions": "You are Sam from Ringflow. Be brief and polite.", "greeting": "Hi, it's Sam."}


async def test_the_policy_shows_the_floor_and_an_override_needs_its_legal_basis(api_stack):
    http = api_stack.org_b.http
    shown = (await http.get("/v1/policy")).json()
    assert {rule["region"] for rule in shown["floor"]} >= {"*", "US", "US-FL"}
    florida = next(rule for rule in shown["floor"] if rule["region"] == "US-FL")
    assert (florida["start"], florida["end"], florida["max_attempts_per_24h"]) == ("08:00:00", "20:00:00", 3)

    wider = {"rules": [{"region": "US-FL", "start": "08:00", "end": "21:00"}]}
    refused = await http.put("/v1/policy", json=wider)
    assert refused.status_code == 422 and "legal_basis" in refused.text
    basis = "prior express written consent on file for every contact"
    wider["rules"][0]["legal_basis"] = basis
    stored = await http.put("/v1/policy", json={**wider, "max_attempts_per_7d": 6})
    assert stored.status_code == 200, stored.text
    assert [rule["legal_basis"] for rule in stored.json()["overrides"]] == [basis]
    shown = (await http.get("/v1/policy")).json()
    assert shown["policy"]["max_attempts_per_7d"] == 6
    newest, first = shown["changes"]  # newest first: this change, then the one the test stack made
    assert newest["policy"]["rules"][0]["legal_basis"] == basis
    assert newest["changed_by"].startswith(f"API key {api_stack.org_b.key[:10]}…") and first["changed_by"] == "tests"
    assert (await api_stack.org_a.http.get("/v1/policy")).json()["overrides"][0]["region"] == "*"
    assert (await http.put("/v1/policy", json={"rules": [], "surprise": 1})).status_code == 422


async def test_a_call_shows_why_it_was_dialled_and_an_opt_out_shows_who_listed_it(api_stack):
    http = api_stack.org_a.http
    assert (await http.post("/v1/agents", json=AGENT)).status_code == 201
    people = [person(1, "answers"), person(2, "do_not_call")]
    created = await http.post(
        "/v1/campaigns", json={"name": "audit", "agent_name": "sam", "settings": FAST, "contacts": people}
    )
    assert created.status_code == 201, created.text
    campaign_id = created.json()["campaign"]["id"]
    await finished_campaign(http, campaign_id)

    calls = {
        item["external_id"]: item for item in (await http.get(f"/v1/calls?campaign_id={campaign_id}")).json()["items"]
    }
    detail = (await http.get(f"/v1/calls/{calls['p1']['id']}")).json()
    decision = detail["decision"]
    assert decision["verdict"] == "dial" and decision["zones"] == ["Europe/London"]
    assert decision["rule"].startswith("* 00:00-00:00") and decision["legal_basis"].startswith("tests:")
    assert decision["do_not_call_checked_at"] is not None and decision["attempts_24h"] == 0
    assert [d["verdict"] for d in detail["contact_decisions"]] == ["dial"]
    trail = (await http.get(f"/v1/contacts/{campaign_id}/p1/decisions")).json()
    assert trail["items"] == detail["contact_decisions"]
    assert (await api_stack.org_b.http.get(f"/v1/contacts/{campaign_id}/p1/decisions")).json()["items"] == []

    listed = (await http.get("/v1/dnc")).json()["items"]
    entry = next(item for item in listed if item["phone"] == people[1]["phone"])
    assert entry["source"] == "agent" and entry["source_ref"] == f"contact-{campaign_id}-p2#1"
    again = await http.post(
        "/v1/campaigns",
        json={"name": "again", "settings": FAST, "contacts": [person(3, "answers", phone=entry["phone"])]},
    )
    assert again.status_code == 422 and "do-not-call" in again.text
