"""An organization's capacity: how many calls it may have at once across all its campaigns and inbound
calls, and how many of those lines are kept for inbound calls (store/capacity.py enforces them)."""

from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator


class OrgCapacity(BaseModel):
    """What an owner or admin sets (``PUT /v1/capacity``, ``ringflow org capacity``)."""

    model_config = ConfigDict(extra="forbid")

    max_concurrent_calls: int | None = Field(
        default=None, ge=1, description="Calls at once across every campaign and inbound call; null: no cap"
    )
    inbound_reserve: int = Field(
        default=0, ge=0, description="Lines of the cap outbound dials never take, so an inbound call finds one"
    )

    @model_validator(mode="after")
    def _reserve_within_cap(self) -> Self:
        if self.inbound_reserve and self.max_concurrent_calls is None:
            raise ValueError("an inbound reserve needs max_concurrent_calls: it is a part of the cap")
        if self.max_concurrent_calls is not None and self.inbound_reserve >= self.max_concurrent_calls:
            raise ValueError("inbound_reserve must be below max_concurrent_calls, or no outbound call could ever dial")
        return self

    @property
    def outbound_lines(self) -> int | None:
        """The most lines outbound dials may hold together; None: no cap."""
        if self.max_concurrent_calls is None:
            return None
        return self.max_concurrent_calls - self.inbound_reserve


class LinesInUse(BaseModel):
    outbound: int = Field(description="Lines held by dials of the organization's campaigns")
    inbound: int = Field(description="Lines held by inbound calls")
    by_campaign: dict[str, int] = Field(description="Outbound lines per campaign id")


class CapacityOut(BaseModel):
    """The organization's capacity settings and the lines in use now."""

    capacity: OrgCapacity
    in_use: LinesInUse
