"""A simulated carrier: believable callees, no network, and a record of every dial for audits.

Each contact's persona (``attributes["persona"]``) scripts how the network sees the call: ring,
pick-up, busy, unallocated, an answering machine; a contact without one gets a persona chosen from
a SHA-256 of its phone number, so the same list behaves the same in every process and on every run
(Python's ``hash()`` of a string changes per process).

Like a real carrier it reports network facts only. What the conversation came to is the agent's:
when someone picks up and the call has an agent, the real agent talks to the persona's lines
(:mod:`simulator.agent_call`) and records its disposition through the workflow, exactly as on a
live call. An answered call without an agent simply ends ``completed``.
"""

import asyncio
import hashlib
import json
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import AwareDatetime, BaseModel, Field

from schemas.calls import DialRequest, DialResult
from schemas.contact import PERSONA_ATTRIBUTE, Contact
from schemas.outcomes import CallOutcome
from telephony.base import CALL_LOST_DETAIL, CallPlaced

NEVER_ANSWERS_RING_CAP = 20.0
"""Seconds a ``never_answers`` callee rings at most, even if the campaign's ring timeout is longer."""

CALLBACK_PERSONAS = frozenset({"callback", "callback_tomorrow"})

PERSONA_WEIGHTS: tuple[tuple[str, int], ...] = (
    ("answers", 10),
    ("qualifies", 6),
    ("busy", 4),
    ("never_answers", 5),
    ("voicemail", 4),
    ("callback", 4),
    ("callback_tomorrow", 1),
    ("not_interested", 4),
    ("do_not_call", 1),
    ("invalid_number", 1),
)
"""How often each persona comes up for contacts without one: the demo list's mix."""

_WEIGHTED_PERSONAS: tuple[str, ...] = tuple(p for p, weight in PERSONA_WEIGHTS for _ in range(weight))


@dataclass(frozen=True)
class _Script:
    """How the network sees one persona's call, in unscaled seconds.

    ``ring`` is the time before the far end reacts: picks up, or the network signals busy,
    unallocated or (for ``never_answers``) gives up. ``talk`` is the time connected after a pick-up
    when no agent talks (with an agent, the conversation's length); ``talk == 0`` means nobody
    picks up. ``answered_by`` is what machine detection says of a pick-up, as Twilio's
    ``AnsweredBy`` would. ``status`` and ``code`` are the final status and SIP response the network
    gives. Every ring is cut short by the request's ring timeout.
    """

    outcome: CallOutcome
    ring: float
    status: str
    code: int
    talk: float = 0.0
    answered_by: str = ""

    @property
    def picks_up(self) -> bool:
        return self.talk > 0


def _person(talk: float) -> _Script:
    return _Script(CallOutcome.COMPLETED, ring=3.0, status="completed", code=200, talk=talk, answered_by="human")


SCRIPTS: dict[str, _Script] = {
    "answers": _person(8.0),
    "qualifies": _person(8.0),
    "busy": _Script(CallOutcome.BUSY, ring=0.5, status="busy", code=486),
    "never_answers": _Script(CallOutcome.NO_ANSWER, ring=NEVER_ANSWERS_RING_CAP, status="no-answer", code=480),
    "voicemail": _Script(
        CallOutcome.VOICEMAIL, ring=4.0, status="completed", code=200, talk=5.0, answered_by="machine_start"
    ),
    "callback": _person(4.0),
    "callback_tomorrow": _person(4.0),
    "not_interested": _person(5.0),
    "do_not_call": _person(3.0),
    "invalid_number": _Script(CallOutcome.INVALID_NUMBER, ring=0.2, status="failed", code=404),
}
"""The network's side of each persona: every answered persona is ``COMPLETED`` (or ``VOICEMAIL`` for the
machine); what they say is in :data:`simulator.personas.PERSONA_LINES`, for the agent to hear."""

NETWORK_FAULTS: dict[str, _Script] = {
    "trunk_down": _Script(CallOutcome.FAILED, ring=0.1, status="failed", code=503),
    "rate_limited": _Script(CallOutcome.FAILED, ring=0.1, status="failed", code=429),
}
"""What every dial meets while the network is at fault (``SimCarrier(fault=...)``), whoever the callee is:
a dead trunk answers every INVITE with 503, a throttled one with 429."""


class DuplicateDialError(RuntimeError):
    """``dial`` was called twice for one idempotency key: a bug upstream, never a retry to absorb."""


class SimDial(BaseModel):
    """One simulated call, as it started and (once over) ended."""

    idempotency_key: str
    campaign_id: str
    external_id: str
    phone: str
    dtmf: str = Field(default="", description="The digits the call was to send once answered: the extension")
    attempt: int
    caller_id: str | None = Field(default=None, description="The number the call showed (a caller-ID pool's)")
    started_monotonic: float
    started_at: AwareDatetime
    ended_monotonic: float | None = None
    outcome: CallOutcome | None = None


def choose_persona(phone: str) -> str:
    """The persona of a contact that has none: stable across processes, weighted by PERSONA_WEIGHTS."""
    digest = hashlib.sha256(phone.encode()).digest()
    return _WEIGHTED_PERSONAS[int.from_bytes(digest[:8], "big") % len(_WEIGHTED_PERSONAS)]


def persona_of(contact: Contact) -> str:
    """The contact's ``persona`` attribute if it names one, else one chosen from its number."""
    persona = contact.attributes.get(PERSONA_ATTRIBUTE)
    return persona if isinstance(persona, str) and persona in SCRIPTS else choose_persona(contact.phone)


class AgentCallReport(BaseModel):
    """How long the agent's side of a simulated conversation lasted. What it came to, the agent recorded
    in the workflow itself (its disposition), as on a live call."""

    duration_seconds: float = 0.0
    detail: str = ""


AgentCall = Callable[[DialRequest, str], Awaitable[AgentCallReport]]
"""Runs the agent against a persona for one answered call (see simulator.agent_call)."""


def read_ledger(path: Path) -> list[dict[str, Any]]:
    """Every dial start any process recorded in ``path``, oldest first; none if the file is absent.

    A line still being appended by a running worker (no newline yet) is not a record yet: skipped.
    """
    if not path.exists():
        return []
    with path.open(encoding="utf-8") as ledger:
        return [json.loads(line) for line in ledger if line.endswith("\n") and line.strip()]


class SimCarrier:
    """A :class:`~telephony.base.Carrier` whose callees follow their contact's persona.

    Timings (unscaled seconds; ``time_scale`` multiplies every wait, and ``0`` skips sleeping
    entirely, which benchmarks rely on): see :data:`SCRIPTS`. A callee that would pick up after the
    request's ``ring_timeout`` is reported ``NO_ANSWER`` at the timeout instead, like a real network.
    ``duration_seconds`` is the scripted connected time, independent of ``time_scale``, so results
    do not depend on how fast the simulation runs.

    ``fault`` (a key of :data:`NETWORK_FAULTS`) makes every dial fail on the network instead, whatever
    the persona: a dead or throttled trunk, for watching a campaign's circuit breaker trip.

    ``clock`` supplies wall-clock time (``dialled_at``, ``SimDial.started_at``). It
    defaults to ``datetime.now(UTC)``; tests running workflows on Temporal's time-skipping server
    pass that server's clock, since its workflows and timers live in skipped time, not real time.

    Every dial is kept in ``dials`` and, with ``ledger_path``, appended to that file as a JSON line
    *before* the call starts, with one ``O_APPEND`` write, so lines from several worker processes
    never interleave and a worker killed mid-call still leaves its line behind: the file is the
    audit that no idempotency key was ever dialled twice, across processes and crashes.
    """

    name = "sim"

    def __init__(
        self,
        time_scale: float = 1.0,
        ledger_path: Path | None = None,
        clock: Callable[[], datetime] | None = None,
        agent_call: "AgentCall | None" = None,
        fault: str = "",
    ) -> None:
        if time_scale < 0:
            raise ValueError("time_scale cannot be negative")
        if fault and fault not in NETWORK_FAULTS:
            raise ValueError(f"unknown network fault {fault!r}: use {', '.join(NETWORK_FAULTS)}")
        self.fault = fault
        self.time_scale = time_scale
        self.ledger_path = ledger_path
        self._clock = clock or (lambda: datetime.now(UTC))
        self._agent_call = agent_call
        self.dials: list[SimDial] = []
        self.in_flight = 0
        self.max_in_flight = 0
        # Every key dialled here: done once the call ends, with a result even if it ended early,
        # so recover() can report it. Kept for the process's life, like ``dials``.
        self._calls: dict[str, asyncio.Future[DialResult]] = {}
        if ledger_path is not None:
            ledger_path.parent.mkdir(parents=True, exist_ok=True)

    async def dial(self, request: DialRequest, placed: CallPlaced | None = None) -> DialResult:
        """Play the contact's persona; :class:`DuplicateDialError` if this process already dialled the key.

        A simulated call is found by its key, so ``placed`` is not needed.
        """
        key = request.idempotency_key
        if key in self._calls:
            raise DuplicateDialError(f"{key!r} was already dialled by this process")
        dialled_at = self._now()
        record = SimDial(
            idempotency_key=key,
            campaign_id=request.campaign_id,
            external_id=request.contact.external_id,
            phone=request.contact.phone,
            dtmf=request.contact.extension,
            attempt=request.attempt,
            caller_id=request.caller_id,
            started_monotonic=time.monotonic(),
            started_at=dialled_at.astimezone(UTC),
        )
        # Ledger first: if it cannot be written, nothing is registered and nothing was dialled.
        self._write_ledger(record)
        finished: asyncio.Future[DialResult] = asyncio.get_running_loop().create_future()
        self._calls[key] = finished
        self.dials.append(record)
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            result = await self._converse(request, dialled_at)
        except BaseException as exc:
            reason = (
                "call hung up: the dial was cancelled"
                if isinstance(exc, asyncio.CancelledError)
                else f"call broke off in the simulator: {exc!r}"
            )
            result = self._result(request, dialled_at, CallOutcome.FAILED, detail=reason, status="failed")
            raise
        finally:
            self.in_flight -= 1
            record.ended_monotonic = time.monotonic()
            record.outcome = result.outcome
            finished.set_result(result)
        return result

    async def recover(self, request: DialRequest, call_id: str = "") -> DialResult:
        """This process's result for the key, waiting if the call is still on; else the call is lost.

        A key this process never dialled was dialled by a process that has since died, and a
        simulated call dies with its process, so there is nothing to find and nothing is dialled.
        """
        finished = self._calls.get(request.idempotency_key)
        if finished is None:
            return DialResult(outcome=CallOutcome.FAILED, carrier=self.name, detail=CALL_LOST_DETAIL)
        # Shielded: a cancelled recover() must not hang up the call it is watching.
        return await asyncio.shield(finished)

    async def _converse(self, request: DialRequest, dialled_at: datetime) -> DialResult:
        persona = self.fault or persona_of(request.contact)
        script = NETWORK_FAULTS[self.fault] if self.fault else SCRIPTS[persona]
        ring_timeout = request.ring_timeout.total_seconds()
        if script.picks_up and script.ring > ring_timeout:
            await self._pause(ring_timeout)
            return self._result(
                request,
                dialled_at,
                CallOutcome.NO_ANSWER,
                detail=f"persona {persona}: ring timeout",
                status="no-answer",
                code=408,
            )
        await self._pause(min(script.ring, ring_timeout))
        if not script.picks_up:
            return self._result(
                request,
                dialled_at,
                script.outcome,
                detail=f"sim network fault: {self.fault}" if self.fault else f"persona {persona}",
                status=script.status,
                code=script.code,
            )
        if request.agent is not None and self._agent_call is not None:
            # Something picked up and the call has an agent: the real agent talks to the persona (or hears
            # the answering machine) and records the call's disposition in the workflow itself.
            talked = await self._agent_call(request, persona)
            duration, detail = talked.duration_seconds, f"persona {persona}: {talked.detail}"
        else:
            await self._pause(script.talk)
            duration, detail = script.talk, f"persona {persona}: answered, no agent on the call"
        return self._result(
            request,
            dialled_at,
            script.outcome,
            answered=True,
            duration=duration,
            detail=detail,
            status=script.status,
            code=script.code,
            answered_by=script.answered_by,
        )

    def _result(
        self,
        request: DialRequest,
        dialled_at: datetime,
        outcome: CallOutcome,
        *,
        answered: bool = False,
        duration: float = 0.0,
        detail: str = "",
        status: str = "",
        code: int | None = None,
        answered_by: str = "",
    ) -> DialResult:
        call_id = hashlib.sha256(request.idempotency_key.encode()).hexdigest()[:20]
        return DialResult(
            outcome=outcome,
            answered=answered,
            dialled_at=dialled_at,
            duration_seconds=duration,
            carrier=self.name,
            carrier_call_id=f"sim-{call_id}",
            detail=detail,
            network_status=status,
            status_code=code,
            answered_by=answered_by,
        )

    async def _pause(self, seconds: float) -> None:
        scaled = seconds * self.time_scale
        if scaled > 0:
            await asyncio.sleep(scaled)

    def _now(self) -> datetime:
        now = self._clock()
        if now.tzinfo is None:
            raise ValueError("the sim carrier's clock must return timezone-aware datetimes")
        return now

    def _write_ledger(self, record: SimDial) -> None:
        if self.ledger_path is None:
            return
        line = json.dumps({**record.model_dump(mode="json"), "pid": os.getpid()}) + "\n"
        fd = os.open(self.ledger_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line.encode())
        finally:
            os.close(fd)
