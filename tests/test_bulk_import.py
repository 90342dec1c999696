"""Big contact lists go into the store, never through a workflow payload: through the API and the CLI,
a list creates a campaign and is added to a running one; the campaign's workflow gets a count only.
200,000 rows are proved by ``bench/bulk_import.py``; the suite uses 20,000 to stay quick."""

import asyncio
import json
import os
import sys
from pathlib import Path

import pytest
from api_helpers import ALL_HOURS, eventually
from codec_test_keys import TEST_ONLY_CODEC_KEYS
from sqlalchemy import func, select

from api.services import campaigns
from schemas.campaign import CampaignSettings
from store.models import ContactRow
from workflows.campaign import CampaignWorkflow

ROWS = 20_000
SLOW = {"window": ALL_HOURS, "max_concurrent_calls": 1, "calls_per_second": 0.2, "retry": {"max_attempts": 1}}
"""Dials one person every five seconds: the campaign is still running when the next list arrives."""
RINGFLOW = Path(sys.executable).parent / "ringflow"


async def ringflow(*args: str) -> tuple[int, str]:
    """The installed CLI in a process of its own (it runs its own event loop), with the test's environment."""
    process = await asyncio.create_subprocess_exec(
        RINGFLOW, *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, env=dict(os.environ)
    )
    output, _ = await process.communicate()
    return process.returncode or 0, output.decode()


def contacts_csv(count: int, first: int = 0) -> bytes:
    rows = [f"k{index:07d},Person {index},+3531{index:07d}" for index in range(first, first + count)]
    return ("external_id,name,phone\n" + "\n".join(rows) + "\n").encode()


async def stored_contacts(api_stack, campaign_id: str) -> int:
    async with api_stack.sessions() as session:
        return await session.scalar(select(func.count()).where(ContactRow.campaign_id == campaign_id)) or 0


async def contacts_added_inputs(api_stack, campaign_id: str) -> list[int]:
    """The byte size of every ``contacts_added`` update's input in the campaign's history."""
    handle = campaigns.campaign_handle(api_stack.client, campaign_id)
    sizes = []
    async for event in handle.fetch_history_events():
        if event.HasField("workflow_execution_update_accepted_event_attributes"):
            request = event.workflow_execution_update_accepted_event_attributes.accepted_request
            if request.input.name == "contacts_added":
                sizes.append(sum(len(payload.data) for payload in request.input.args.payloads))
    return sizes


async def test_a_big_csv_creates_a_campaign_and_another_is_added_to_it_running_with_a_count_only(api_stack):
    http = api_stack.org_a.http
    created = await http.post(
        "/v1/campaigns/upload",
        files={"file": ("big.csv", contacts_csv(ROWS), "text/csv")},
        data={"settings": json.dumps(SLOW)},
        timeout=300,
    )
    assert created.status_code == 201, created.text
    report = created.json()["import_report"]
    assert (report["imported"], report["rejected"], report["errors"]) == (ROWS, 0, [])
    campaign_id = created.json()["campaign"]["id"]

    more = contacts_csv(ROWS, first=ROWS) + b"k0000001,again,+35319999999\nbad,x,123\n"
    added = await http.post(
        f"/v1/campaigns/{campaign_id}/contacts/upload", files={"file": ("more.csv", more)}, timeout=300
    )
    assert added.status_code == 200, added.text
    report = added.json()["import_report"]
    assert (report["imported"], report["rejected"]) == (ROWS, 2)
    assert [error["line"] for error in report["errors"]] == [ROWS + 2, ROWS + 3]
    assert "already in the campaign" in report["errors"][0]["message"]
    assert await stored_contacts(api_stack, campaign_id) == 2 * ROWS

    sizes = await contacts_added_inputs(api_stack, campaign_id)
    assert len(sizes) == 1 and sizes[0] < 300, f"the update carries a count, not the list: {sizes}"
    # The workflow's total is the store's count, read with its next claim: each row counted once.
    handle = campaigns.campaign_handle(api_stack.client, campaign_id)
    for _ in range(100):
        if (await handle.query(CampaignWorkflow.progress)).total == 2 * ROWS:
            break
        await asyncio.sleep(0.1)
    assert (await handle.query(CampaignWorkflow.progress)).total == 2 * ROWS
    await http.post(f"/v1/campaigns/{campaign_id}/cancel")


async def test_a_big_json_list_is_added_to_a_running_campaign(api_stack):
    http = api_stack.org_a.http
    first = [{"external_id": f"f{index}", "phone": f"+3531{5_000_000 + index:07d}"} for index in range(50)]
    created = await http.post("/v1/campaigns", json={"name": "json", "settings": SLOW, "contacts": first})
    campaign_id = created.json()["campaign"]["id"]
    rows = [{"external_id": f"j{index}", "phone": f"+3531{index:07d}"} for index in range(ROWS)]
    added = await http.post(f"/v1/campaigns/{campaign_id}/contacts", json={"contacts": rows}, timeout=300)
    assert added.status_code == 200, added.text
    assert added.json()["import_report"]["imported"] == ROWS
    assert await stored_contacts(api_stack, campaign_id) == 50 + ROWS
    await http.post(f"/v1/campaigns/{campaign_id}/cancel")


async def test_a_list_over_the_row_limit_is_a_413_and_imports_nothing(api_stack):
    http = api_stack.org_a.http
    limit = api_stack.settings.max_import_rows
    api_stack.settings.max_import_rows = 10
    try:
        refused = await http.post("/v1/campaigns/upload", files={"file": ("big.csv", contacts_csv(11))})
        json_refused = await http.post(
            "/v1/campaigns", json={"name": "x", "contacts": [{"phone": f"+3531{i:07d}"} for i in range(11)]}
        )
    finally:
        api_stack.settings.max_import_rows = limit
    assert refused.status_code == 413 and "at most 10" in refused.json()["detail"]
    assert json_refused.status_code == 413
    assert (await http.get("/v1/campaigns")).json()["total"] == 0


async def test_contacts_for_a_campaign_whose_workflow_has_closed_are_a_409_and_leave_no_rows(api_stack):
    """The store still says running (the workflow never recorded its end): the update finds no workflow,
    so the rows just written are deleted again."""
    campaign_id, _ = await campaigns.create(
        api_stack.client,
        api_stack.sessions,
        org_id=api_stack.org_a.id,
        name="closed",
        settings=CampaignSettings(),
        contacts=campaigns.ContactList.from_csv_bytes(contacts_csv(3)),
        agent=None,
        start=True,
        deployment=api_stack.settings.model_copy(update={"task_queue": "tq-nobody-polls"}),
        limits=campaigns.ImportLimits.of(api_stack.settings),
    )
    await campaigns.campaign_handle(api_stack.client, campaign_id).terminate("gone")
    late = await api_stack.org_a.http.post(
        f"/v1/campaigns/{campaign_id}/contacts/upload", files={"file": ("late.csv", contacts_csv(5, first=10))}
    )
    assert late.status_code == 409 and "ended" in late.json()["detail"]
    assert await stored_contacts(api_stack, campaign_id) == 3


@pytest.fixture
def cli_env(api_stack, db_url, monkeypatch: pytest.MonkeyPatch):
    """The CLI pointed at the test's Temporal server, task queue and database."""
    monkeypatch.setenv("RINGFLOW_TEMPORAL_ADDRESS", api_stack.client.service_client.config.target_host)
    monkeypatch.setenv("RINGFLOW_TASK_QUEUE", api_stack.settings.task_queue)
    monkeypatch.setenv("RINGFLOW_CODEC_KEYS", TEST_ONLY_CODEC_KEYS)
    monkeypatch.delenv("RINGFLOW_DATABASE_URL", raising=False)
    monkeypatch.setenv("DATABASE_URL", db_url)


async def test_pause_through_the_api_and_through_the_cli_only_signal_and_the_workflow_records_both(
    api_stack, cli_env, tmp_path
):
    http = api_stack.org_a.http
    created = await http.post(
        "/v1/campaigns/upload", files={"file": ("s.csv", contacts_csv(50))}, data={"settings": json.dumps(SLOW)}
    )
    campaign_id = created.json()["campaign"]["id"]
    stored = f"/v1/campaigns/{campaign_id}"

    async def store_status() -> str:
        async with api_stack.sessions() as session:
            row = await campaigns.owned_campaign(session, org_id=None, campaign_id=campaign_id)
            return row.status

    assert (await http.post(f"{stored}/pause")).status_code == 200
    await eventually(lambda: http.get(stored), lambda body: body["progress"]["status"] == "paused")
    await _until(store_status, "paused")
    code, output = await ringflow("campaign", "resume", campaign_id)
    assert code == 0, output
    await _until(store_status, "running")
    code, output = await ringflow("campaign", "pause", campaign_id)
    assert code == 0, output
    await _until(store_status, "paused")

    path = tmp_path / "more.csv"
    path.write_bytes(contacts_csv(ROWS, first=1000))
    code, output = await ringflow("campaign", "add", campaign_id, str(path))
    assert code == 0, output
    assert await stored_contacts(api_stack, campaign_id) == 50 + ROWS
    await http.post(f"{stored}/cancel")
    await _until(store_status, "cancelled")
    again = tmp_path / "late.csv"
    again.write_bytes(contacts_csv(5, first=900_000))
    code, output = await ringflow("campaign", "add", campaign_id, str(again))
    assert code == 1 and output.startswith("error:") and "ended" in output, output
    assert len(output.strip().splitlines()) == 1
    assert await stored_contacts(api_stack, campaign_id) == 50 + ROWS


async def _until(probe, wanted: str, within: float = 20.0) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while (found := await probe()) != wanted:
        assert asyncio.get_running_loop().time() < deadline, f"store status still {found!r}, not {wanted!r}"
        await asyncio.sleep(0.2)
