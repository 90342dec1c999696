"""Dispositions: what a conversation came to, as the agent records it, and what the workflow does next.

The agent ends every conversation by recording one of its agent's dispositions (the
``record_disposition`` tool). Carriers only report network facts (answered, busy, the SIP/Twilio
status, a machine's answer); the contact and inbound workflows derive the outcome from both with
this one table: each disposition names the final outcome it stands for and what happens next.

Users add their own (``appointment_booked`` -> qualified, finish) or reword a default's
description by naming it in the agent's ``dispositions``; defaults not named stay as they are.
"""

from enum import StrEnum

from pydantic import BaseModel, Field, model_validator

from schemas.outcomes import CallOutcome, FinalOutcome


class NextStep(StrEnum):
    """What the contact workflow does after a call that ended with a disposition."""

    FINISH = "finish"
    """The contact is done; the final outcome is the disposition's ``outcome``."""
    CALLBACK = "callback"
    """Redial at the callback the agent booked during the call; with none booked, it counts as a try."""
    RETRY = "retry"
    """Counts as a try, like a call nobody answered: redialled on the campaign's retry schedule."""
    DO_NOT_CALL = "do_not_call"
    """Finish as ``do_not_call``: nobody calls this person again."""


DISPOSITION_OUTCOMES: frozenset[FinalOutcome] = frozenset(
    {
        FinalOutcome.COMPLETED,
        FinalOutcome.QUALIFIED,
        FinalOutcome.NOT_INTERESTED,
        FinalOutcome.DO_NOT_CALL,
        FinalOutcome.WRONG_PERSON,
    }
)
"""The final outcomes a conversation can come to (the others are the network's or the campaign's)."""


class Disposition(BaseModel):
    """One row of the disposition table: a name the model picks, what it means, and what follows."""

    name: str = Field(
        min_length=1, max_length=48, pattern=r"^[a-z][a-z0-9_]*$", description="snake_case, e.g. appointment_booked"
    )
    description: str = Field(
        min_length=1, max_length=500, description="When to record it; the model reads this in the tool's description"
    )
    outcome: FinalOutcome | None = Field(
        default=None,
        description="The final outcome when it ends the contact's calls (then=finish); do_not_call implies "
        "do_not_call; callback and retry need none",
    )
    then: NextStep = NextStep.FINISH

    @model_validator(mode="after")
    def _consistent(self) -> "Disposition":
        if self.outcome == FinalOutcome.DO_NOT_CALL or self.then == NextStep.DO_NOT_CALL:
            self.outcome, self.then = FinalOutcome.DO_NOT_CALL, NextStep.DO_NOT_CALL
        if self.then == NextStep.FINISH and self.outcome is None:
            raise ValueError(f"disposition {self.name!r} finishes the contact, so it needs an outcome")
        if self.outcome is not None and self.outcome not in DISPOSITION_OUTCOMES:
            allowed = ", ".join(sorted(o.value for o in DISPOSITION_OUTCOMES))
            raise ValueError(f"disposition {self.name!r}: outcome must be one of {allowed}")
        return self

    def call_outcome(self) -> CallOutcome:
        """What the attempt came to, as the contact's attempt list shows it."""
        if self.then == NextStep.CALLBACK:
            return CallOutcome.CALLBACK_REQUESTED
        if self.then == NextStep.RETRY or self.outcome is None:
            return CallOutcome.COMPLETED
        return CallOutcome(self.outcome.value)


DEFAULT_DISPOSITIONS: tuple[Disposition, ...] = (
    Disposition(
        name="qualified",
        description="The callee is a good lead: they showed real interest and gave the details asked for "
        "(need, budget, size or timing).",
        outcome=FinalOutcome.QUALIFIED,
    ),
    Disposition(
        name="not_interested",
        description="The callee heard the offer and declined it.",
        outcome=FinalOutcome.NOT_INTERESTED,
    ),
    Disposition(
        name="callback_requested",
        description="The callee asked to be called back at another time (book the time with schedule_callback).",
        then=NextStep.CALLBACK,
    ),
    Disposition(
        name="do_not_call",
        description="The callee asked never to be called again.",
        then=NextStep.DO_NOT_CALL,
    ),
    Disposition(
        name="wrong_person",
        description="The person who answered is not the contact, and the contact cannot be reached on this number.",
        outcome=FinalOutcome.WRONG_PERSON,
    ),
    Disposition(
        name="completed",
        description="The conversation ended and none of the other dispositions fits.",
        outcome=FinalOutcome.COMPLETED,
    ),
)


OPT_OUT = "do_not_call"
"""The default disposition for a callee who asks never to be called again."""


def with_defaults(dispositions: list[Disposition]) -> list[Disposition]:
    """The defaults, each replaced by a same-named entry of ``dispositions``, then the new ones in order.

    Raises ``ValueError`` for a name given twice, and for a ``do_not_call`` that would not put the callee
    on the do-not-call list: an opt-out must be honoured, so only its description may be reworded.
    """
    seen: set[str] = set()
    for disposition in dispositions:
        if disposition.name in seen:
            raise ValueError(f"disposition {disposition.name!r} is listed twice; names must be unique")
        seen.add(disposition.name)
        if disposition.name == OPT_OUT and disposition.then != NextStep.DO_NOT_CALL:
            raise ValueError(
                f"disposition {OPT_OUT!r} always puts the callee on the do-not-call list (an opt-out must be "
                "honoured); reword its description only"
            )
    given = {d.name: d for d in dispositions}
    defaults = [given.get(d.name, d) for d in DEFAULT_DISPOSITIONS]
    default_names = {d.name for d in DEFAULT_DISPOSITIONS}
    return defaults + [d for d in dispositions if d.name not in default_names]


def by_name(dispositions: list[Disposition], name: str) -> Disposition | None:
    return next((d for d in dispositions if d.name == name), None)


def refusal_for(dispositions: list[Disposition], name: str) -> str | None:
    """A sentence the agent can act on when ``name`` is not one of its dispositions, else ``None``."""
    if by_name(dispositions, name) is not None:
        return None
    names = ", ".join(d.name for d in dispositions)
    return f"{name!r} is not one of this agent's dispositions; record one of: {names}"


class DispositionInput(BaseModel):
    """The agent's ``record_disposition``: the workflow update's payload."""

    disposition: str = Field(min_length=1, max_length=48)
    reason: str = Field(default="", max_length=500, description="Why, in a few words, as the agent heard it")


class DispositionRecord(BaseModel):
    """The ``record_disposition`` activity's input: a disposition on the attempt row of ``idempotency_key``."""

    idempotency_key: str
    disposition: str
    reason: str = ""
