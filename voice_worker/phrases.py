"""Turn what a caller says ("tomorrow at 10", "in two hours") into an aware datetime in their zone.

Pure and deterministic: ``now`` is passed in, so the agent, the scripted LLM and tests agree on the
answer. Calendar arithmetic happens on local dates and is then combined with a wall-clock time
through ZoneInfo, so "tomorrow at 10" is 10:00 local even across a DST change (never "now + 24h").
Relative durations ("in two hours") are real elapsed time and are added in UTC.
"""

import re
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

NUMBER_WORDS = {
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "a": 1,
    "an": 1,
    "a couple of": 2,
    "couple of": 2,
    "a few": 3,
    "fifteen": 15,
    "twenty": 20,
    "thirty": 30,
    "forty five": 45,
    "forty-five": 45,
}

WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]

PARTS_OF_DAY = {"morning": time(9, 0), "afternoon": time(14, 0), "evening": time(18, 0), "tonight": time(19, 0)}

_NUMBER = r"(\d+|" + "|".join(sorted((re.escape(w) for w in NUMBER_WORDS), key=len, reverse=True)) + r")"
_CLOCK = r"(\d{1,2})(?:[:.](\d{2}))?\s*(a\.?m\.?|p\.?m\.?|o'?clock)?"

_RELATIVE = re.compile(rf"^in\s+(?:(half an hour|half-an-hour)|{_NUMBER}\s+(minutes?|mins?|hours?|hrs?|days?))$")
_DAY_WORD = r"(today|tonight|tomorrow|(?:next\s+|this\s+|on\s+)?(?:" + "|".join(WEEKDAYS) + r"))"
_DAY_AND_TIME = re.compile(
    rf"^{_DAY_WORD}(?:\s+(morning|afternoon|evening|night))?(?:\s+(?:at|around|@)\s+{_CLOCK}|\s+{_CLOCK})?$"
)
_TIME_ONLY = re.compile(rf"^(?:at|around|@)?\s*{_CLOCK}(?:\s+(today|tonight|tomorrow))?$")


def _fail(phrase: str) -> ValueError:
    return ValueError(f"I couldn't understand '{phrase}' as a time")


def _number(text: str) -> int:
    return int(text) if text.isdigit() else NUMBER_WORDS[text]


def _clock(hour_text: str, minute_text: str | None, suffix: str | None, phrase: str, part: str | None) -> time:
    """A spoken clock time. Without am/pm, an hour in the afternoon/evening, or a bare 1..7, means pm."""
    hour, minute = int(hour_text), int(minute_text or 0)
    suffix = (suffix or "").replace(".", "")
    if minute > 59:
        raise _fail(phrase)
    if suffix in ("am", "pm"):
        if not 1 <= hour <= 12:
            raise _fail(phrase)
        hour = hour % 12 + (12 if suffix == "pm" else 0)
    elif part in ("afternoon", "evening", "night", "tonight") and 1 <= hour < 12:
        hour += 12
    elif part is None and 1 <= hour <= 7:
        hour += 12  # nobody asks for a callback at "3" meaning 3 in the morning
    if not 0 <= hour <= 23:
        raise _fail(phrase)
    return time(hour, minute)


def _local(day: date, at: time, tz: ZoneInfo) -> datetime:
    """Wall-clock ``at`` on ``day``; a time skipped by a DST jump is normalised forward."""
    naive = datetime.combine(day, at)
    aware = naive.replace(tzinfo=tz)
    # Round-trip through UTC so a non-existent local time (spring forward gap) becomes a real one.
    return aware.astimezone(ZoneInfo("UTC")).astimezone(tz)


def _weekday_date(word: str, today: date) -> date:
    """'monday' = the next Monday after today; 'next monday' likewise (never today)."""
    name = word.split()[-1]
    delta = (WEEKDAYS.index(name) - today.weekday()) % 7
    return today + timedelta(days=delta or 7)


def resolve_when(phrase: str, now: datetime, zone: str) -> datetime:
    """Resolve a spoken time phrase relative to ``now`` into an aware datetime in ``zone``.

    Raises ValueError("I couldn't understand '<phrase>' as a time") for anything else, so the agent
    can ask the caller again.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    tz = ZoneInfo(zone)
    local_now = now.astimezone(tz)
    text = " ".join(phrase.strip().lower().rstrip(".!?").replace(",", " ").split())
    if not text:
        raise _fail(phrase)

    try:
        parsed = datetime.fromisoformat(phrase.strip())
    except ValueError:
        parsed = None
    if parsed is not None:
        return (parsed.replace(tzinfo=tz) if parsed.tzinfo is None else parsed).astimezone(tz)

    if m := _RELATIVE.match(text):
        if m.group(1):
            return (now + timedelta(minutes=30)).astimezone(tz)
        amount, unit = _number(m.group(2)), m.group(3)
        if unit.startswith("d"):
            return _local(local_now.date() + timedelta(days=amount), local_now.time(), tz)
        step = timedelta(hours=1) if unit.startswith("h") else timedelta(minutes=1)
        return (now.astimezone(ZoneInfo("UTC")) + amount * step).astimezone(tz)

    if m := _DAY_AND_TIME.match(text):
        day_word, part = m.group(1), m.group(2)
        hour_text, minute_text, suffix = m.group(3) or m.group(6), m.group(4) or m.group(7), m.group(5) or m.group(8)
        if day_word == "today":
            day = local_now.date()
        elif day_word == "tonight":
            day, part = local_now.date(), part or "tonight"
        elif day_word == "tomorrow":
            day = local_now.date() + timedelta(days=1)
        else:
            day = _weekday_date(day_word, local_now.date())
        if part == "night":
            part = "tonight"
        if hour_text:
            at = _clock(hour_text, minute_text, suffix, phrase, part)
        else:
            at = PARTS_OF_DAY.get(part or "morning", time(9, 0))
        return _local(day, at, tz)

    if m := _TIME_ONLY.match(text):
        hour_text, minute_text, suffix, day_word = m.groups()
        part = "tonight" if day_word == "tonight" else None
        at = _clock(hour_text, minute_text, suffix, phrase, part)
        if day_word == "tomorrow":
            return _local(local_now.date() + timedelta(days=1), at, tz)
        today = _local(local_now.date(), at, tz)
        if day_word in ("today", "tonight") or today > local_now:
            return today
        return _local(local_now.date() + timedelta(days=1), at, tz)

    raise _fail(phrase)
