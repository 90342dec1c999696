"""A simulated carrier: believable callees, no network, and a record of every dial for audits.

Each contact's ``persona`` scripts the call (ring, talk, outcome); a contact without one gets a
persona chosen from a SHA-256 of its phone number, so the same list behaves the same in every
process and on every run (Python's ``hash()`` of a string changes per process).
"""

import asyncio
import hashlib
import json
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import AwareDatetime, BaseModel

from schemas.calls import CallbackRequest, DialRequest, DialResult
from schemas.contact import Contact
from schemas.outcomes import CallOutcome
from telephony.base import CALL_LOST_DETAIL, CallPlaced

NEVER_ANSWERS_RING_CAP = 20.0
"""Seconds a ``never_answers`` callee rings at most, even if the campaign's ring timeout is longer."""

CALLBACK_TOMORROW_HOUR = 10
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
    """One persona's call, in unscaled seconds.

    ``ring`` is the time before the far end reacts: picks up, or the network signals busy,
    unallocated or (for ``never_answers``) gives up. ``talk`` is the time connected after a pick-up;
    ``talk == 0`` means nobody picks up. Every ring is cut short by the request's ring timeout.
    """

    outcome: CallOutcome
    ring: float
    talk: float = 0.0
    human: bool = False

    @property
    def picks_up(self) -> bool:
        return self.talk > 0


SCRIPTS: dict[str, _Script] = {
    "answers": _Script(CallOutcome.COMPLETED, ring=3.0, talk=8.0, human=True),
    "qualifies": _Script(CallOutcome.QUALIFIED, ring=3.0, talk=8.0, human=True),
    "busy": _Script(CallOutcome.BUSY, ring=0.5),
    "never_answers": _Script(CallOutcome.NO_ANSWER, ring=NEVER_ANSWERS_RING_CAP),
    "voicemail": _Script(CallOutcome.VOICEMAIL, ring=4.0, talk=5.0),
    "callback": _Script(CallOutcome.CALLBACK_REQUESTED, ring=3.0, talk=4.0, human=True),
    "callback_tomorrow": _Script(CallOutcome.CALLBACK_REQUESTED, ring=3.0, talk=4.0, human=True),
    "not_interested": _Script(CallOutcome.NOT_INTERESTED, ring=3.0, talk=5.0, human=True),
    "do_not_call": _Script(CallOutcome.DO_NOT_CALL, ring=3.0, talk=3.0, human=True),
    "invalid_number": _Script(CallOutcome.INVALID_NUMBER, ring=0.2),
}


class DuplicateDialError(RuntimeError):
    """``dial`` was called twice for one idempotency key: a bug upstream, never a retry to absorb."""


class SimDial(BaseModel):
    """One simulated call, as it started and (once over) ended."""

    idempotency_key: str
    campaign_id: str
    external_id: str
    phone: str
    attempt: int
    started_monotonic: float
    started_at: AwareDatetime
    ended_monotonic: float | None = None
    outcome: CallOutcome | None = None


def choose_persona(phone: str) -> str:
    """The persona of a contact that has none: stable across processes, weighted by PERSONA_WEIGHTS."""
    digest = hashlib.sha256(phone.encode()).digest()
    return _WEIGHTED_PERSONAS[int.from_bytes(digest[:8], "big") % len(_WEIGHTED_PERSONAS)]


def persona_of(contact: Contact) -> str:
    return contact.persona or choose_persona(contact.phone)


class AgentCallReport(BaseModel):
    """What the agent's side of a simulated conversation came to."""

    outcome: CallOutcome
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


def _in_words(delay: timedelta) -> str:
    seconds = delay.total_seconds()
    if seconds >= 60 and seconds % 60 == 0:
        minutes = int(seconds // 60)
        return f"{minutes} minute" + ("s" if minutes != 1 else "")
    return f"{seconds:g} second" + ("s" if seconds != 1 else "")


class SimCarrier:
    """A :class:`~telephony.base.Carrier` whose callees follow their contact's persona.

    Timings (unscaled seconds; ``time_scale`` multiplies every wait, and ``0`` skips sleeping
    entirely, which benchmarks rely on): see :data:`SCRIPTS`. A callee that would pick up after the
    request's ``ring_timeout`` is reported ``NO_ANSWER`` at the timeout instead, like a real network.
    ``duration_seconds`` is the scripted connected time, independent of ``time_scale``, so results
    do not depend on how fast the simulation runs.

    ``clock`` supplies wall-clock time (``dialled_at``, callback times, ``SimDial.started_at``). It
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
        callback_delay: timedelta = timedelta(minutes=2),
        ledger_path: Path | None = None,
        clock: Callable[[], datetime] | None = None,
        agent_call: "AgentCall | None" = None,
    ) -> None:
        if time_scale < 0:
            raise ValueError("time_scale cannot be negative")
        if callback_delay <= timedelta(0):
            raise ValueError("callback_delay must be positive")
        self.time_scale = time_scale
        self.callback_delay = callback_delay
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
            attempt=request.attempt,
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
            result = self._result(request, dialled_at, CallOutcome.FAILED, detail=reason)
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
        persona = persona_of(request.contact)
        script = SCRIPTS[persona]
        ring_timeout = request.ring_timeout.total_seconds()
        if script.picks_up and script.ring > ring_timeout:
            await self._pause(ring_timeout)
            return self._result(request, dialled_at, CallOutcome.NO_ANSWER, detail=f"persona {persona}: ring timeout")
        await self._pause(min(script.ring, ring_timeout))
        if (script.human or persona == "voicemail") and request.agent is not None and self._agent_call is not None:
            # Something picked up and the call has an agent: the real agent talks to the persona (or
            # hears the answering machine and reports it).
            talked = await self._agent_call(request, persona)
            return self._result(
                request,
                dialled_at,
                talked.outcome,
                answered=True,
                duration=talked.duration_seconds,
                detail=f"persona {persona}: {talked.detail}",
            )
        await self._pause(script.talk)
        if request.is_callback and persona in CALLBACK_PERSONAS:
            # Called back when they asked to be: now they have time, and the call completes.
            return self._result(
                request,
                dialled_at,
                CallOutcome.COMPLETED,
                answered=True,
                duration=script.talk,
                detail=f"persona {persona}: called back as asked",
            )
        return self._result(
            request,
            dialled_at,
            script.outcome,
            answered=script.human,
            duration=script.talk,
            detail=f"persona {persona}",
            callback=self._callback(request.contact, persona),
        )

    def _callback(self, contact: Contact, persona: str) -> CallbackRequest | None:
        zone = ZoneInfo(contact.zone)
        if persona == "callback":
            at = (self._now() + self.callback_delay).astimezone(zone)
            return CallbackRequest(at=at, reason=f"asked to be called back in {_in_words(self.callback_delay)}")
        if persona == "callback_tomorrow":
            # Combine the local date with 10:00 in the zone: adding 24 hours would land on 09:00
            # or 11:00 across a DST change.
            tomorrow = self._now().astimezone(zone).date() + timedelta(days=1)
            at = datetime(tomorrow.year, tomorrow.month, tomorrow.day, CALLBACK_TOMORROW_HOUR, tzinfo=zone)
            return CallbackRequest(at=at, reason=f"asked to be called back tomorrow at {CALLBACK_TOMORROW_HOUR:02d}:00")
        return None

    def _result(
        self,
        request: DialRequest,
        dialled_at: datetime,
        outcome: CallOutcome,
        *,
        answered: bool = False,
        duration: float = 0.0,
        detail: str = "",
        callback: CallbackRequest | None = None,
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
            callback=callback,
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
