"""Cursor (keyset) pages of ``GET /v1/contacts`` and ``GET /v1/calls``: walking them returns every row
exactly once and in the list's order, even where many rows share a timestamp, and a cursor the API did
not hand out is a 422."""

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from store.models import AttemptRow, CampaignRow, ContactRow, InboundCallRow

PAGE = 4
NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
TIMES = [NOW, NOW - timedelta(minutes=1), NOW - timedelta(minutes=2, microseconds=1)]
"""Few timestamps for many rows: most of each page's boundaries fall inside a tie."""


async def walk(http: httpx.AsyncClient, path: str) -> tuple[list[dict[str, Any]], list[int | None]]:
    """Every item of a list, page after page by cursor, and each page's ``total``."""
    items: list[dict[str, Any]] = []
    totals: list[int | None] = []
    params: dict[str, Any] = {"limit": PAGE}
    while True:
        response = await http.get(path, params=params)
        assert response.status_code == 200, response.text
        page = response.json()
        items += page["items"]
        totals.append(page["total"])
        if page["next_cursor"] is None:
            return items, totals
        assert len(page["items"]) == PAGE
        params = {"limit": PAGE, "cursor": page["next_cursor"]}


async def walk_by_offset(http: httpx.AsyncClient, path: str) -> list[dict[str, Any]]:
    """Every item of a list by offset pages, each of which still counts ``total`` (the dashboard's way)."""
    items: list[dict[str, Any]] = []
    while True:
        page = (await http.get(path, params={"limit": PAGE, "offset": len(items)})).json()
        assert page["total"] is not None
        items += page["items"]
        if len(items) >= page["total"]:
            return items


def cursor_of(value: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


async def add_two_campaigns(stack: Any) -> None:
    """Two campaigns of org A whose contacts share external ids, so only the campaign tells them apart."""
    async with stack.sessions() as session:
        for campaign_id in ("c-one", "c-two"):
            session.add(
                CampaignRow(id=campaign_id, org_id=stack.org_a.id, name=campaign_id, status="completed", settings={})
            )
        await session.flush()
        for index in range(9):
            for campaign_id in ("c-one", "c-two"):
                session.add(
                    ContactRow(
                        campaign_id=campaign_id,
                        external_id=f"p{index}",
                        phone=f"+44207946{index:04d}",
                        timezone="Europe/London",
                        seq=index,
                        updated_at=TIMES[index % len(TIMES)],
                    )
                )
        await session.commit()


async def test_walking_the_contacts_by_cursor_returns_each_contact_once_in_order_and_counts_only_the_first_page(
    api_stack,
):
    await add_two_campaigns(api_stack)
    http = api_stack.org_a.http
    walked, totals = await walk(http, "/v1/contacts")
    everything = (await http.get("/v1/contacts", params={"limit": 500})).json()

    assert [(c["campaign_id"], c["external_id"]) for c in walked] == [
        (c["campaign_id"], c["external_id"]) for c in everything["items"]
    ]
    assert walked == await walk_by_offset(http, "/v1/contacts")
    assert len(walked) == 18 == everything["total"]
    assert totals == [18, None, None, None, None]
    assert everything["next_cursor"] is None


async def test_walking_the_calls_by_cursor_returns_outbound_and_inbound_calls_once_each_in_order(api_stack):
    await add_two_campaigns(api_stack)
    org = api_stack.org_a.id
    async with api_stack.sessions() as session:
        for index in range(6):
            started_at = TIMES[index % len(TIMES)]
            for campaign_id in ("c-one", "c-two"):
                session.add(
                    AttemptRow(
                        idempotency_key=f"{campaign_id}-p{index}-1",
                        campaign_id=campaign_id,
                        external_id=f"p{index}",
                        attempt=1,
                        carrier="sim",
                        org_id=org,
                        started_at=started_at,
                    )
                )
            # An incoming call and the callback dial it asked for: same campaign, external id and attempt.
            sid = f"CA{index:032d}"
            session.add(
                InboundCallRow(
                    call_sid=sid,
                    org_id=org,
                    to_number="+442079460999",
                    from_number=f"+44207946{index:04d}",
                    agent_name="front-desk",
                    status="completed",
                    started_at=started_at,
                )
            )
            session.add(
                AttemptRow(
                    idempotency_key=f"callback-{sid}",
                    campaign_id="inbound",
                    external_id=sid,
                    attempt=1,
                    carrier="sim",
                    org_id=org,
                    started_at=started_at,
                )
            )
        await session.commit()
    http = api_stack.org_a.http
    walked, totals = await walk(http, "/v1/calls")
    everything = (await http.get("/v1/calls", params={"limit": 500})).json()

    assert [c["id"] for c in walked] == [c["id"] for c in everything["items"]]
    assert walked == await walk_by_offset(http, "/v1/calls")
    assert len({(c["id"], c["direction"]) for c in walked}) == len(walked) == 24 == everything["total"]
    assert {c["direction"] for c in walked} == {"outbound", "inbound"}
    started = [c["started_at"] for c in walked]
    assert started == sorted(started, reverse=True)
    assert totals[0] == 24 and set(totals[1:]) == {None}


@pytest.mark.parametrize("path", ["/v1/contacts", "/v1/calls"])
@pytest.mark.parametrize(
    "cursor",
    [
        "not a cursor",
        "%%%",
        cursor_of({"updated_at": "2026-11-29"}),
        cursor_of(["2026-11-29T12:00:00+00:00"]),
        cursor_of(["yesterday", 1]),
        cursor_of(["2026-11-29T12:00:00+00:00", -1]),
        cursor_of(["0001-01-01T00:00:00+01:00", 1]),
        cursor_of(["2026-11-29T12:00:00+00:00", "p1\u0000", 1, "c-one", "outbound"]),
        cursor_of(["2026-11-29T12:00:00+00:00", "\ud800", 1, "c-one", "outbound"]),
        cursor_of(["2026-11-29T12:00:00+00:00", "p1", 1, "c-one", "sideways"]),
        cursor_of(["2026-11-29T12:00:00+00:00", "p1", True, "c-one", "outbound"]),
    ],
)
async def test_a_cursor_the_api_did_not_hand_out_is_a_422_with_a_reason(api_stack, path, cursor):
    response = await api_stack.org_a.http.get(path, params={"cursor": cursor})

    assert response.status_code == 422, response.text
    assert "cursor" in response.json()["detail"]


@pytest.mark.parametrize("path", ["/v1/contacts", "/v1/calls"])
async def test_a_cursor_with_an_offset_is_a_422(api_stack, path):
    cursor = cursor_of(["2026-11-29T12:00:00+00:00", 1])

    response = await api_stack.org_a.http.get(path, params={"cursor": cursor, "offset": 1})

    assert response.status_code == 422, response.text
    assert "offset" in response.json()["detail"]


async def test_a_first_contacts_page_asked_without_its_total_carries_the_same_items_and_no_total(api_stack):
    await add_two_campaigns(api_stack)
    http = api_stack.org_a.http
    counted = (await http.get("/v1/contacts", params={"limit": PAGE})).json()
    uncounted = (await http.get("/v1/contacts", params={"limit": PAGE, "with_total": "false"})).json()
    assert counted["total"] == 18 and uncounted["total"] is None
    assert uncounted["items"] == counted["items"] and uncounted["next_cursor"] == counted["next_cursor"]
