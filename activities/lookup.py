"""The pre-call lookup: ask the user's system about a contact just before it is dialled.

It reaches the user's systems as the agents' HTTP tools do, under the same private-address rule
(``RINGFLOW_TOOL_ALLOW_PRIVATE_URLS``)."""

import json
from typing import Any

import httpx
from temporalio import activity
from temporalio.exceptions import ApplicationError

from infra.http_tools import ALLOWED_BY
from infra.webhooks import UnsafeWebhookUrlError, check_url
from schemas.activity_io import ActivityName, LookupAnswer, LookupRequest
from schemas.settings import Settings

# The most context one lookup may add to a call: it travels in the workflow's state and to the agent.
MAX_CONTEXT_BYTES = 8_192
# Status codes worth asking again: the system is busy or down for a moment, not refusing.
RETRYABLE_STATUS = frozenset({408, 425, 429})


class LookupActivities:
    def __init__(self, settings: Settings, http: httpx.AsyncClient | None = None) -> None:
        self._settings = settings
        self._http = http or httpx.AsyncClient(follow_redirects=False)

    @activity.defn(name=ActivityName.LOOK_UP_CONTACT)
    async def look_up_contact(self, request: LookupRequest) -> LookupAnswer:
        """Send the contact to the lookup and read its answer.

        Raises (to be retried by the workflow's policy) on network errors, 408/425/429 and 5xx; an answer
        that can never be read (a refused URL, a 4xx, not a JSON object) returns ``error`` at once, and the
        campaign's ``on_failure`` decides.
        """
        lookup = request.lookup
        try:
            await check_url(lookup.url, allow_private=self._settings.tool_allow_private_urls, allowed_by=ALLOWED_BY)
        except UnsafeWebhookUrlError as err:
            return LookupAnswer(error=str(err).removeprefix("url: "))
        body: dict[str, Any] = {
            "campaign_id": request.campaign_id,
            "external_id": request.contact.external_id,
            "name": request.contact.name,
            "phone": request.contact.phone,
            "attempt": request.attempt,
            "attributes": request.contact.attributes,
        }
        headers = {**lookup.headers, "Idempotency-Key": request.idempotency_key, "User-Agent": "Ringflow-Lookup/1"}
        try:
            if lookup.method == "GET":
                flat = {k: v if isinstance(v, str) else json.dumps(v) for k, v in body.items()}
                response = await self._http.get(
                    lookup.url, params=flat, headers=headers, timeout=lookup.timeout.total_seconds()
                )
            else:
                response = await self._http.post(
                    lookup.url, json=body, headers=headers, timeout=lookup.timeout.total_seconds()
                )
        except httpx.HTTPError as err:
            raise ApplicationError(f"the lookup at {lookup.url} did not answer: {type(err).__name__}") from None
        if response.status_code in RETRYABLE_STATUS or response.status_code >= 500:
            raise ApplicationError(f"the lookup at {lookup.url} answered {response.status_code}")
        if not 200 <= response.status_code < 300:
            return LookupAnswer(error=f"the lookup answered {response.status_code}")
        return _answer_of(response)


def _answer_of(response: httpx.Response) -> LookupAnswer:
    try:
        answer = response.json()
    except ValueError:
        return LookupAnswer(error="the lookup's answer is not JSON")
    if not isinstance(answer, dict):
        return LookupAnswer(error="the lookup's answer is not a JSON object")
    context = answer.get("context") or {}
    if not isinstance(context, dict):
        return LookupAnswer(error="the lookup's context is not a JSON object")
    if len(json.dumps(context)) > MAX_CONTEXT_BYTES:
        return LookupAnswer(error=f"the lookup's context is over {MAX_CONTEXT_BYTES} bytes")
    reason = answer.get("reason")
    return LookupAnswer(
        skip=answer.get("skip") is True,
        reason=reason[:500] if isinstance(reason, str) else "",
        context=context,
    )
