"""A person to call: validated E.164 number and an explicit IANA time zone."""

from functools import lru_cache
from importlib import resources
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from phonenumbers import timezone as phone_timezone
from pydantic import BaseModel, Field, field_validator, model_validator

PERSONA_ATTRIBUTE = "persona"
"""The attribute the simulator reads a contact's scripted callee from (sim carrier only)."""

PERSONAS = (
    "answers",
    "qualifies",
    "busy",
    "never_answers",
    "voicemail",
    "callback",
    "callback_tomorrow",
    "not_interested",
    "do_not_call",
    "invalid_number",
)


def normalize_phone(raw: str, default_region: str | None = None) -> str:
    """Return the E.164 form of ``raw`` or raise ``ValueError`` with a readable reason."""
    text = (raw or "").strip()
    if not text:
        raise ValueError("phone number is empty")
    try:
        parsed = phonenumbers.parse(text, default_region)
    except phonenumbers.NumberParseException as exc:
        raise ValueError(f"{text!r} is not a phone number ({exc._msg})") from None
    if not phonenumbers.is_possible_number(parsed):
        raise ValueError(f"{text!r} has the wrong length for a phone number")
    if not phonenumbers.is_valid_number(parsed):
        raise ValueError(f"{text!r} is not a valid phone number")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


@lru_cache(maxsize=1)
def _principal_zones() -> dict[str, str]:
    """Country code -> its most populous zone, the first one IANA's zone.tab lists for the country."""
    principal: dict[str, str] = {}
    with resources.files("tzdata").joinpath("zoneinfo", "zone.tab").open(encoding="utf-8") as table:
        for line in table:
            if line.startswith("#") or not line.strip():
                continue
            country, _, zone, *_ = line.rstrip("\n").split("\t")
            principal.setdefault(country, zone)
    return principal


def timezone_for_phone(e164: str) -> str:
    """The IANA zone of a number. A number that spans zones (a mobile, say) gets its country's main zone."""
    parsed = phonenumbers.parse(e164, None)
    zones = [z for z in phone_timezone.time_zones_for_number(parsed) if z != "Etc/Unknown"]
    if len(zones) == 1:
        return zones[0]
    region = phonenumbers.region_code_for_country_code(parsed.country_code)
    main_zone = _principal_zones().get(region or "")
    if main_zone:
        return main_zone
    return zones[0] if zones else "UTC"


def validate_timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # "America" is a directory; very long names
        raise ValueError(f"{name!r} is not an IANA time zone") from None
    return name


class Contact(BaseModel):
    external_id: str = Field(min_length=1, max_length=128)
    name: str = Field(default="", max_length=256)
    phone: str = Field(description="E.164, e.g. +14155550123")
    timezone: str | None = Field(default=None, description="IANA zone; derived from the number when absent")
    priority: int = Field(default=0, description="Higher is dialled first")
    attributes: dict[str, Any] = Field(default_factory=dict)

    @field_validator("external_id")
    @classmethod
    def _strip_id(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("external id is empty")
        return value

    @field_validator("phone")
    @classmethod
    def _e164(cls, value: str) -> str:
        return normalize_phone(value)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        return validate_timezone(value.strip())

    @model_validator(mode="before")
    @classmethod
    def _persona_is_an_attribute(cls, data: Any) -> Any:
        """``persona`` (the simulator's scripted callee) is no field of a person: given as a keyword or a CSV
        column, it is kept as ``attributes["persona"]`` (checked with the attributes)."""
        if not isinstance(data, dict) or "persona" not in data:
            return data
        data = dict(data)
        raw = data.pop("persona")
        if raw is not None and str(raw).strip():
            data["attributes"] = {**(data.get("attributes") or {}), PERSONA_ATTRIBUTE: str(raw).strip().lower()}
        return data

    @field_validator("attributes")
    @classmethod
    def _known_persona(cls, value: dict[str, Any]) -> dict[str, Any]:
        """The ``persona`` attribute is the simulator's: it must name one of its scripted callees."""
        persona = value.get(PERSONA_ATTRIBUTE)
        if persona is not None and persona not in PERSONAS:
            raise ValueError(
                f"unknown persona {persona!r}; expected one of {', '.join(PERSONAS)} (persona is kept in attributes)"
            )
        return value

    @model_validator(mode="after")
    def _id_without_the_number(self) -> "Contact":
        """The external id is part of the contact's workflow id, which Temporal keeps in clear (unlike payloads)."""
        national = str(phonenumbers.parse(self.phone, None).national_number)
        if national in "".join(ch for ch in self.external_id if ch.isdigit()):
            raise ValueError("the external id contains the phone number; use an id that is not personal data")
        return self

    @model_validator(mode="after")
    def _derive_zone(self) -> "Contact":
        if self.timezone is None:
            self.timezone = timezone_for_phone(self.phone)
        return self

    @property
    def zone(self) -> str:
        return self.timezone or "UTC"
