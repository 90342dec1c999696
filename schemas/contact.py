"""A person to call: validated E.164 number and an explicit IANA time zone."""

import re
from functools import lru_cache
from importlib import resources
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from phonenumbers import PhoneNumberType, geocoder
from phonenumbers import timezone as phone_timezone
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

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


class NumberRules(BaseModel):
    """Which numbers an organization may dial beyond the everyday ones: the one home of its number hygiene.

    Stored in the organization's calling policy (``CallingPolicy.numbers``), and applied by
    :func:`normalize_phone` where a number to dial enters (imports, ``POST /v1/agents/{name}/calls``).
    Both are off by default: a vanity number's letters may not be the digits its owner meant, and a
    toll-free number is a business line that the organization, not the callee, should decide to call.
    """

    model_config = ConfigDict(extra="forbid")

    allow_vanity: bool = Field(default=False, description="Accept numbers written with letters (+1 800 FLOWERS)")
    allow_toll_free: bool = Field(default=False, description="Accept toll-free numbers (+1 800, +44 800)")


NUMBER_RULES_CONTEXT = "number_rules"
"""The validation-context key :meth:`Contact.admit` passes an organization's :class:`NumberRules` under."""

REFUSED_NUMBER_TYPES: dict[int, str] = {
    PhoneNumberType.PREMIUM_RATE: "a premium-rate number (the call is charged a surcharge)",
    PhoneNumberType.SHARED_COST: "a shared-cost number (the call is charged above a normal one)",
    PhoneNumberType.PERSONAL_NUMBER: "a personal forwarding number (charged like a premium line, a known fraud route)",
    PhoneNumberType.PAGER: "a pager number (nobody answers it)",
    PhoneNumberType.VOICEMAIL: "a voicemail access number (it reaches a mailbox, not a person)",
}
"""Number types never dialled, whatever the organization's rules, with the reason an import report gives.
Mobile, fixed-line, VoIP and UAN (company numbers charged as ordinary calls) reach people at normal rates.
A number of unknown type is one phonenumbers cannot validate: it is refused as not valid, rules or not."""

MAX_EXTENSION_DIGITS = 10
_EXTENSION_MARK = re.compile(r"(?i);\s*ext\s*=|(?<![a-z])(?:extension|extn|ext)(?![a-z])\.?:?|(?<![a-z])x(?![a-z])|#|,")
_EXTENSION = re.compile(rf"[,\s]*(\d{{1,{MAX_EXTENSION_DIGITS}}})\s*#?")
_TEL_SCHEME = re.compile(r"(?i)^tel:")


def split_extension(raw: str) -> tuple[str, str | None]:
    """``raw`` as (the number, the text after its extension mark), the second None when it has no mark.

    The marks are those people write and phonenumbers reads: ``ext``, ``ext.``, ``extension``, ``x``,
    ``#``, a pause ``,`` and RFC 3966's ``;ext=``. Split here, before phonenumbers parses the number,
    so that the extension is kept (phonenumbers would keep it aside where nobody dials it) and so that
    letters left in the number are a vanity number's, not an extension mark's.
    """
    text = _TEL_SCHEME.sub("", (raw or "").strip())
    mark = _EXTENSION_MARK.search(text)
    if mark is None:
        return text, None
    return text[: mark.start()].strip(), text[mark.end() :].strip()


def extension_digits(raw: str) -> str:
    """The digits of an extension (``12``, ``,,12``, ``12#``), or ``ValueError``: dialled as DTMF after
    the call is answered, anything else would be guessed at, so it is refused."""
    found = _EXTENSION.fullmatch(raw or "")
    if found is None:
        raise ValueError(f"{raw!r} is not an extension (1 to {MAX_EXTENSION_DIGITS} digits)")
    return found.group(1)


def normalize_phone(raw: str, default_region: str | None = None, rules: NumberRules | None = None) -> str:
    """Return the E.164 form of ``raw`` or raise ``ValueError`` with a readable reason.

    The one check of a phone number. With ``rules`` (a number to dial, as it enters) it is also held to
    number hygiene: the types in :data:`REFUSED_NUMBER_TYPES` are refused, and so are letters (a vanity
    number) and toll-free numbers unless the rules allow them. Without, any valid number passes (a
    do-not-call entry, the organization's own numbers, a contact read back from the store). Either way
    an extension must be digits; it is not part of the E.164 form (:class:`Contact` keeps it aside).
    """
    number, extension = split_extension(raw)
    if not number:
        raise ValueError("phone number is empty")
    if extension is not None:
        extension_digits(extension)
    if rules is not None and not rules.allow_vanity and any(ch.isalpha() for ch in number):
        raise ValueError(f"{number!r} is written with letters (a vanity number): give its digits")
    try:
        parsed = phonenumbers.parse(number, default_region)
    except phonenumbers.NumberParseException as exc:
        raise ValueError(f"{number!r} is not a phone number ({exc._msg})") from None
    if not phonenumbers.is_possible_number(parsed):
        raise ValueError(f"{number!r} has the wrong length for a phone number")
    if not phonenumbers.is_valid_number(parsed):
        raise ValueError(f"{number!r} is not a valid phone number")
    e164 = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    if rules is not None:
        kind = phonenumbers.number_type(parsed)
        if kind in REFUSED_NUMBER_TYPES:
            raise ValueError(f"{e164!r} is {REFUSED_NUMBER_TYPES[kind]}: not dialled")
        if kind == PhoneNumberType.TOLL_FREE and not rules.allow_toll_free:
            raise ValueError(f"{e164!r} is a toll-free number: the organization's number rules do not allow them")
    return e164


@lru_cache(maxsize=1)
def _country_zones() -> dict[str, tuple[str, ...]]:
    """Country code -> every zone IANA's zone.tab lists for the country."""
    zones: dict[str, list[str]] = {}
    with resources.files("tzdata").joinpath("zoneinfo", "zone.tab").open(encoding="utf-8") as table:
        for line in table:
            if line.startswith("#") or not line.strip():
                continue
            country, _, zone, *_ = line.rstrip("\n").split("\t")
            zones.setdefault(country, []).append(zone)
    return {country: tuple(names) for country, names in zones.items()}


def zones_for_phone(e164: str) -> list[str]:
    """Every IANA zone the number may ring in, from phonenumbers' prefix data: one for most landlines,
    several for a mobile or a number of a country that spans zones. A prefix phonenumbers knows no zone
    for gets every zone of its country, so the number is never assumed to be in the wrong one."""
    parsed = phonenumbers.parse(e164, None)
    zones = sorted(z for z in phone_timezone.time_zones_for_number(parsed) if z != "Etc/Unknown")
    if zones:
        return zones
    country = phonenumbers.region_code_for_number(parsed) or phonenumbers.region_code_for_country_code(
        parsed.country_code
    )
    return list(_country_zones().get(country or "", ("UTC",)))


_US_STATES = {
    "Alabama": "AL", "Alaska": "AK", "Arizona": "AZ", "Arkansas": "AR", "California": "CA", "Colorado": "CO",
    "Connecticut": "CT", "Delaware": "DE", "Florida": "FL", "Georgia": "GA", "Hawaii": "HI", "Idaho": "ID",
    "Illinois": "IL", "Indiana": "IN", "Iowa": "IA", "Kansas": "KS", "Kentucky": "KY", "Louisiana": "LA",
    "Maine": "ME", "Maryland": "MD", "Massachusetts": "MA", "Michigan": "MI", "Minnesota": "MN",
    "Mississippi": "MS", "Missouri": "MO", "Montana": "MT", "Nebraska": "NE", "Nevada": "NV",
    "New Hampshire": "NH", "New Jersey": "NJ", "New Mexico": "NM", "New York": "NY", "North Carolina": "NC",
    "North Dakota": "ND", "Ohio": "OH", "Oklahoma": "OK", "Oregon": "OR", "Pennsylvania": "PA",
    "Rhode Island": "RI", "South Carolina": "SC", "South Dakota": "SD", "Tennessee": "TN", "Texas": "TX",
    "Utah": "UT", "Vermont": "VT", "Virginia": "VA", "Washington": "WA", "West Virginia": "WV",
    "Wisconsin": "WI", "Wyoming": "WY", "Washington D.C.": "DC",
}  # fmt: skip
_US_STATE_CODES = frozenset(_US_STATES.values())


def region_for_phone(e164: str) -> str:
    """The number's region for the calling-hours policy: ``US-FL`` for a US number whose area code is
    Florida's, else the ISO country (``AU``); '' when phonenumbers cannot tell.

    The US state comes from phonenumbers' geocoding of the area code ("Florida", "Miami, FL"): the best
    a number alone says. A person who moved keeps the area code, so a ``region`` column overrides it.
    """
    parsed = phonenumbers.parse(e164, None)
    country = phonenumbers.region_code_for_number(parsed) or ""
    if country != "US":
        return country
    place = geocoder.description_for_number(parsed, "en")
    state = _US_STATES.get(place) or place.rsplit(", ", 1)[-1]
    return f"US-{state}" if state in _US_STATE_CODES else "US"


def phone_area(e164: str) -> tuple[str, str]:
    """The number's ISO country and geographic area code (``("US", "415")``, ``("GB", "20")``): what a
    callee sees as local. The area code is '' for a number without one (mobiles in many countries), and
    both are '' for what phonenumbers cannot read."""
    try:
        parsed = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return "", ""
    area_length = phonenumbers.length_of_geographical_area_code(parsed)
    national = phonenumbers.national_significant_number(parsed)
    return phonenumbers.region_code_for_number(parsed) or "", national[:area_length]


def validate_timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # "America" is a directory; very long names
        raise ValueError(f"{name!r} is not an IANA time zone") from None
    return name


class Contact(BaseModel):
    external_id: str = Field(min_length=1, max_length=128)
    name: str = Field(default="", max_length=256)
    phone: str = Field(description="E.164, e.g. +14155550123; an extension given with it goes to extension")
    extension: str = Field(
        default="",
        max_length=MAX_EXTENSION_DIGITS,
        description="Digits sent as DTMF tones once the call is answered, to reach the person behind a switchboard",
    )
    timezone: str | None = Field(
        default=None, description="IANA zone; given, it is the only zone the contact is called in"
    )
    zones: list[str] = Field(
        default_factory=list,
        max_length=64,
        description="Every zone the number may ring in, from the number unless a timezone is given; a dial must "
        "be allowed in all of them",
    )
    region: str = Field(
        default="",
        max_length=8,
        pattern=r"^([A-Z]{2}(-[A-Z0-9]{1,3})?)?$",
        description="The calling-hours policy's region (US-FL, AU); from the number's area code unless given",
    )
    priority: int = Field(default=0, description="Higher is dialled first")
    attributes: dict[str, Any] = Field(default_factory=dict)

    @field_validator("external_id")
    @classmethod
    def _strip_id(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("external id is empty")
        return value

    @classmethod
    def admit(cls, data: Any, rules: NumberRules) -> "Contact":
        """A contact entering Ringflow (an import row, a call now), its number held to the organization's
        ``rules``. Plain validation does not apply them: a contact read back was admitted already, and
        the rules may have changed since."""
        return cls.model_validate(data, context={NUMBER_RULES_CONTEXT: rules})

    @model_validator(mode="before")
    @classmethod
    def _extension_apart(cls, data: Any) -> Any:
        """``+14155550106 ext. 12`` is the number and extension ``12``: the extension is kept, never dropped.
        Checked by the field validators (digits, the number's hygiene); given twice, they must agree."""
        if not isinstance(data, dict) or not isinstance(data.get("phone"), str):
            return data
        number, extension = split_extension(data["phone"])
        if extension is None:
            return data
        if not extension:
            raise ValueError(f"phone {data['phone'].strip()!r} has an extension mark but no extension after it")
        given = str(data.get("extension") or "").strip()
        if given and given != extension:
            raise ValueError(f"the phone's extension {extension!r} differs from the extension {given!r}")
        return {**data, "phone": number, "extension": extension}

    @field_validator("phone")
    @classmethod
    def _e164(cls, value: str, info: ValidationInfo) -> str:
        rules = (info.context or {}).get(NUMBER_RULES_CONTEXT)
        return normalize_phone(value, rules=rules)

    @field_validator("extension", mode="before")
    @classmethod
    def _extension_digits(cls, value: Any) -> Any:
        """None (a row stored before extensions were kept) is none; else only digits are dialled."""
        if value is None or not str(value).strip():
            return ""
        return extension_digits(str(value))

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

    @field_validator("zones", mode="before")
    @classmethod
    def _zones(cls, value: Any) -> Any:
        """None (a row stored before zones were kept) is no list: the contact's one zone is its timezone."""
        if value is None:
            return []
        return [validate_timezone(str(zone)) for zone in value] if isinstance(value, list) else value

    @model_validator(mode="after")
    def _derive_zone(self) -> "Contact":
        """A given zone is the contact's only one; else the number's candidates. Stored contacts carry both."""
        if not self.zones:
            self.zones = [self.timezone] if self.timezone else zones_for_phone(self.phone)
        if self.timezone is None:
            self.timezone = self.zones[0]
        if not self.region:
            self.region = region_for_phone(self.phone)
        return self

    @property
    def zone(self) -> str:
        """The zone times are spoken in (a callback's "tomorrow at ten"): the given one or the first candidate."""
        return self.timezone or "UTC"

    @property
    def zone_confident(self) -> bool:
        """False when the number may ring in several zones: the import report and the API say so."""
        return len(self.zones) == 1


class ContactRef(BaseModel):
    """What a campaign needs of a contact to start and pace it: no name, number or attributes.

    Campaign histories hold these (claimed pages, reconciliation), sealed under the deployment key; the
    person's own data travels only in their contact workflow, sealed with a key of its own that erasing
    them destroys (docs/pii.md). A contact workflow started from a reference loads the contact itself.
    """

    external_id: str
    priority: int = 0
    zones: list[str] = Field(min_length=1, description="As Contact.zones: the policy check needs them")
    region: str = ""

    @classmethod
    def of(cls, contact: Contact) -> "ContactRef":
        return cls(
            external_id=contact.external_id, priority=contact.priority, zones=contact.zones, region=contact.region
        )
