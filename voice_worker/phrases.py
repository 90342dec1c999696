"""Turn what a caller says ("tomorrow at 10", "بكرة الساعة عشرة") into an aware datetime in their zone.

The dates come from ``dateparser`` (English and Arabic). A small table-driven layer first rewrites the
ways people speak that dateparser misreads or does not know: number words ("ten", "العاشرة"), "half
past ten", "noon", colloquial Arabic ("بكرة", "ساعتين"), parts of the day ("evening", "صباحا").
Clock times are read here, not by dateparser, so one convention holds in both languages: a bare hour
from 1 to 7 means the afternoon (nobody asks to be called back at "4" meaning 4 in the morning).

Pure and deterministic: ``now`` is passed in (dateparser's ``RELATIVE_BASE``), so the agent, the
scripted LLM and tests agree on the answer. Days are counted on the callee's wall clock and the time
of day is then placed on that date through ZoneInfo, so "tomorrow at 10" is 10:00 local even across
a DST change (never "now + 24h"). Durations ("in two hours") are real elapsed time, added in UTC.
"""

import re
from dataclasses import dataclass
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from dateparser.date import DateDataParser

UTC = ZoneInfo("UTC")

UNDERSTOOD_NOTHING = "I couldn't understand '{phrase}' as a time"
"""What the agent hears back for a phrase it cannot place; schedule_callback adds how to ask again."""

DAY_WITHOUT_TIME = time(9, 0)
"""A day named without a time of day ("tomorrow", "next Tuesday") means its morning."""

LANGUAGES = ["en", "ar"]

SETTINGS = {"PREFER_DATES_FROM": "future", "RETURN_TIME_AS_PERIOD": True, "RETURN_AS_TIMEZONE_AWARE": False}
"""Future dates; the period says whether a time of day came out ("time") or only a day ("day", "week")."""

ARABIC_DIACRITICS = re.compile(r"[\u064B-\u0652\u0640]")  # tanween, harakat and tatweel: "غداً" is "غدا"

NUMBER_WORDS: dict[str, int] = {
    # English
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
    "fifteen": 15,
    "twenty": 20,
    "thirty": 30,
    "forty-five": 45,
    "forty five": 45,
    "ninety": 90,
    "a couple of": 2,
    "couple of": 2,
    "a few": 3,
    # Arabic: cardinals (masculine and feminine, formal and spoken) and the ordinals used for hours
    "واحد": 1,
    "واحدة": 1,
    "الواحدة": 1,
    "اثنين": 2,
    "اثنان": 2,
    "اتنين": 2,
    "الثانية": 2,
    "ثلاث": 3,
    "ثلاثة": 3,
    "تلاتة": 3,
    "الثالثة": 3,
    "أربع": 4,
    "اربع": 4,
    "أربعة": 4,
    "اربعة": 4,
    "الرابعة": 4,
    "خمس": 5,
    "خمسة": 5,
    "الخامسة": 5,
    "ست": 6,
    "ستة": 6,
    "السادسة": 6,
    "سبع": 7,
    "سبعة": 7,
    "السابعة": 7,
    "ثمان": 8,
    "ثماني": 8,
    "ثمانية": 8,
    "تمانية": 8,
    "الثامنة": 8,
    "تسع": 9,
    "تسعة": 9,
    "التاسعة": 9,
    "عشر": 10,
    "عشرة": 10,
    "العاشرة": 10,
    "إحدى عشرة": 11,
    "احدى عشرة": 11,
    "حداشر": 11,
    "الحادية عشرة": 11,
    "اثنا عشر": 12,
    "اثنتا عشرة": 12,
    "اثنتي عشرة": 12,
    "اطناشر": 12,
    "الثانية عشرة": 12,
    "عشرين": 20,
    "ثلاثين": 30,
}

ARABIC_WEEKDAYS = "الأحد|الاحد|الاثنين|الإثنين|الثلاثاء|الأربعاء|الاربعاء|الخميس|الجمعة|السبت"

REWRITES: list[tuple[str, str]] = [
    # English: the spoken forms dateparser misreads, into ones it reads.
    (r"\ba\.m\.?", "am"),
    (r"\bp\.m\.?", "pm"),
    (r"\bhalf[ -]an[ -]hour\b", "30 minutes"),
    (r"\b(noon|midday)\b", "12:00"),
    (r"\bmidnight\b", "0:00"),
    (r"\bin an? (minute|hour|day|week)\b", r"in 1 \1"),
    (r"\bhalf past (\d{1,2})\b", r"\1:30"),
    (r"\bquarter past (\d{1,2})\b", r"\1:15"),
    (r"\b(\d{1,2}) o'?clock\b", r"\1:00"),
    (r"\b(\d{1,2}) (15|30|45)\b(?! ?(?:minutes?|mins?))", r"\1:\2"),  # "ten thirty"
    # Arabic: spoken forms into the formal ones dateparser knows (خلال N ساعة is its "in N hours").
    (r"\b(?:بكرة|بكره|بكرا)\b", "غدا"),
    (r"\b(?:نص|نصف) ساعة\b", "30 دقيقة"),
    (r"\bساعتين\b", "2 ساعة"),
    (r"\bدقيقتين\b", "2 دقيقة"),
    (r"\bيومين\b", "2 يوم"),
    (r"\b(?:أسبوعين|اسبوعين)\b", "2 أسبوع"),
    (r"\bساعات\b", "ساعة"),
    (r"\bدقائق\b", "دقيقة"),
    (r"\b(?:أيام|ايام)\b", "يوم"),
    (r"\b(?:أسابيع|اسابيع)\b", "أسبوع"),
    (r"\b(?:بعد|خلال|كمان) (ساعة|دقيقة|يوم|أسبوع)\b", r"خلال 1 \1"),
    (r"\b(?:بعد|كمان) (\d+ (?:ساعة|دقيقة|يوم|أسبوع))\b", r"خلال \1"),
    (r"\b(\d{1,2}) (?:و ?نص|والنصف)\b", r"\1:30"),
    (r"\b(\d{1,2}) (?:و ?ربع|والربع)\b", r"\1:15"),
    (rf"\bيوم ({ARABIC_WEEKDAYS})\b", r"\1"),  # "on Tuesday"
    (rf"\b({ARABIC_WEEKDAYS}) (?:القادم|الجاي)\b", r"\1"),  # "next Tuesday" is the coming one, as in English
]
"""Applied in order after number words became digits; each turns a spoken form into one dateparser reads."""

QUARTER_TO = re.compile(r"\b(?:quarter to|(?:إلا|الا) ربع) (\d{1,2})\b|\b(\d{1,2}) (?:إلا|الا) (?:ربع|الربع)\b")


@dataclass(frozen=True)
class PartOfDay:
    """A part of the day a caller names: its time when no clock time is given, and am/pm for one that is."""

    at: time
    pm: bool
    day: str = ""  # "tonight" names the day too


PARTS_OF_DAY: dict[str, PartOfDay] = {
    "this morning": PartOfDay(time(9, 0), pm=False, day="today"),
    "this afternoon": PartOfDay(time(14, 0), pm=True, day="today"),
    "this evening": PartOfDay(time(18, 0), pm=True, day="today"),
    "tonight": PartOfDay(time(19, 0), pm=True, day="today"),
    "in the morning": PartOfDay(time(9, 0), pm=False),
    "in the afternoon": PartOfDay(time(14, 0), pm=True),
    "in the evening": PartOfDay(time(18, 0), pm=True),
    "at night": PartOfDay(time(19, 0), pm=True),
    "morning": PartOfDay(time(9, 0), pm=False),
    "afternoon": PartOfDay(time(14, 0), pm=True),
    "evening": PartOfDay(time(18, 0), pm=True),
    "night": PartOfDay(time(19, 0), pm=True),
    "الليلة": PartOfDay(time(19, 0), pm=True, day="اليوم"),
    "صباحا": PartOfDay(time(9, 0), pm=False),
    "الصبح": PartOfDay(time(9, 0), pm=False),
    "الصباح": PartOfDay(time(9, 0), pm=False),
    "ظهرا": PartOfDay(time(12, 0), pm=True),
    "الظهر": PartOfDay(time(12, 0), pm=True),
    "العصر": PartOfDay(time(15, 0), pm=True),
    "عصرا": PartOfDay(time(15, 0), pm=True),
    "مساء": PartOfDay(time(18, 0), pm=True),
    "مساءا": PartOfDay(time(18, 0), pm=True),
    "المساء": PartOfDay(time(18, 0), pm=True),
    "بالليل": PartOfDay(time(19, 0), pm=True),
    "ليلا": PartOfDay(time(19, 0), pm=True),
}


def _alternation(words: list[str]) -> str:
    """A regex alternation of whole words, longest first so "a couple of" wins over "couple of"."""
    return "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))


_NUMBER_WORD = re.compile(rf"\b({_alternation(list(NUMBER_WORDS))})\b")
_PART_OF_DAY = re.compile(rf"\b({_alternation(list(PARTS_OF_DAY))})\b")
_CLOCK = re.compile(
    r"(?:(?P<lead>\b(?:(?:at|around|about|after|by|from|@|على|حوالي)(?:\s+الساعة)?|الساعة))\s+)?"
    r"(?<![\d:.-])(?P<hour>\d{1,2})(?:[:.h](?P<minute>\d{2}))?\s*(?P<meridiem>am|pm)?(?![\d:.-])"
)
"""A clock time: an hour after "at"/"الساعة", with minutes, with am/pm, or said alone (the answer "4" to
"what time?"). A number among other words is not one ("in 2 hours", "3 أبريل")."""


@dataclass(frozen=True)
class Spoken:
    """A phrase rewritten for dateparser, and whether it named a time of day (a clock time or a part of day)."""

    text: str
    names_time_of_day: bool


def _fail(phrase: str) -> ValueError:
    return ValueError(UNDERSTOOD_NOTHING.format(phrase=phrase))


def _quarter_to(match: re.Match[str]) -> str:
    hour = int(match.group(1) or match.group(2))
    return f"{hour - 1 or 12}:45"


def _hour_of(hour: int, minute: int, meridiem: str | None, part: PartOfDay | None) -> time | None:
    """The 24-hour clock time a spoken hour means, or None if there is no such time."""
    if meridiem:
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if meridiem == "pm" else 0)
    elif part is not None:
        if part.pm and 1 <= hour < 12:
            hour += 12
    elif 1 <= hour <= 7:
        hour += 12
    if hour > 23 or minute > 59:
        return None
    return time(hour, minute)


def normalise(phrase: str) -> Spoken:
    """Rewrite ``phrase`` into words dateparser reads, with any clock time as 24-hour ``HH:MM``.

    Raises ValueError (the sayable sentence) for a clock time that does not exist ("at 25", "13pm").
    """
    text = ARABIC_DIACRITICS.sub("", phrase.strip().lower())
    text = " ".join(re.sub(r"[,،?؟!]", " ", text).rstrip(".").split())
    text = _NUMBER_WORD.sub(lambda m: str(NUMBER_WORDS[m.group(1)]), text)
    for pattern, replacement in REWRITES:
        text = re.sub(pattern, replacement, text)
    text = QUARTER_TO.sub(_quarter_to, text)

    part: PartOfDay | None = None
    if found := _PART_OF_DAY.search(text):
        part = PARTS_OF_DAY[found.group(1)]
        text = text[: found.start()] + part.day + text[found.end() :]

    clock = next(
        (m for m in _CLOCK.finditer(text) if m["lead"] or m["minute"] or m["meridiem"] or m.group(0) == text), None
    )
    if clock is not None:
        at = _hour_of(int(clock["hour"]), int(clock["minute"] or 0), clock["meridiem"], part)
        if at is None:
            raise _fail(phrase)
        text = f"{text[: clock.start()]} {at:%H:%M} {text[clock.end() :]}"
    elif part is not None:
        text = f"{text} {part.at:%H:%M}"
    return Spoken(" ".join(text.split()), names_time_of_day=clock is not None or part is not None)


def _local(day: date, at: time, tz: ZoneInfo) -> datetime:
    """Wall-clock ``at`` on ``day``; a time skipped by a DST jump is normalised forward."""
    aware = datetime.combine(day, at).replace(tzinfo=tz)
    # Round-trip through UTC so a non-existent local time (spring forward gap) becomes a real one.
    return aware.astimezone(UTC).astimezone(tz)


def _explicit(phrase: str, tz: ZoneInfo) -> datetime | None:
    """An ISO date-time as the model may pass it; a naive one is the callee's wall clock."""
    try:
        parsed = datetime.fromisoformat(phrase.strip())
    except ValueError:
        return None
    return (parsed.replace(tzinfo=tz) if parsed.tzinfo is None else parsed).astimezone(tz)


def resolve_when(phrase: str, now: datetime, zone: str) -> datetime:
    """Resolve a spoken time phrase (English or Arabic) relative to ``now`` into an aware datetime in ``zone``.

    A clock time already past today means tomorrow, and a weekday named on that day means next week.
    Raises ValueError("I couldn't understand '<phrase>' as a time") for anything else, so the agent
    can ask the caller again.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    tz = ZoneInfo(zone)
    if (explicit := _explicit(phrase, tz)) is not None:
        return explicit
    spoken = normalise(phrase)
    if not spoken.text:
        raise _fail(phrase)
    # dateparser counts on the callee's wall clock: "tomorrow" is their tomorrow, not UTC's.
    base = now.astimezone(tz).replace(tzinfo=None)
    parser = DateDataParser(languages=LANGUAGES, settings={**SETTINGS, "RELATIVE_BASE": base})
    parsed = parser.get_date_data(spoken.text)
    if parsed.date_obj is None:
        raise _fail(phrase)
    found: datetime = parsed.date_obj
    if spoken.names_time_of_day:
        return _local(found.date(), found.time(), tz)
    if parsed.period == "time":  # a time of day nobody named: a duration from now ("in 2 hours")
        return (now.astimezone(UTC) + (found - base)).astimezone(tz)
    return _local(found.date(), DAY_WITHOUT_TIME, tz)
