"""Post-call analysis: read a call's transcript from the store, analyse it, store the result.

Two analysers give the same :class:`CallAnalysis`:

- **offline** (the default; deterministic): the summary is the callee's first sentences, bounded;
  fields are found by pattern in the callee's lines (the last number for a number or integer field,
  an email address for a string field named like ``email``, yes/no words for a boolean field near the
  field's name or description, else the callee's last answer); tags match when a callee line holds the
  tag's name or a word of its description; success is the rubric's words found in the callee's lines or,
  without a rubric, the call's outcome being qualified or completed. It understands no negation beyond
  yes/no words and no paraphrase: it is a floor, not a model.
- **OpenAI** (with ``RINGFLOW_OPENAI_API_KEY``): structured outputs with a JSON schema built from the
  agent's analysis config; whatever it returns is checked against the config again.

An analysis suggests; the call's workflow owns the outcome and nothing here writes it.
"""

import json
import re
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from schemas.agent import TranscriptSegment
from schemas.analysis import SUMMARY_MAX_LENGTH, AnalysisConfig, CallAnalysis, FieldType
from schemas.settings import Settings
from store import analyses, queries

OFFLINE = "offline"
SUMMARY_SENTENCES = 3
_SUCCESS_OUTCOMES = {"qualified", "completed"}
_NUMBER = re.compile(r"(?<![\w.])[-+]?\$?\d[\d,]*(?:\.\d+)?\s*[kKmM]?\b")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_YES = re.compile(r"\b(yes|yeah|yep|sure|definitely|absolutely|of course|interested|sounds good)\b", re.I)
_NO = re.compile(r"\b(no|nope|not really|not interested|never|don't|do not)\b", re.I)
_SENTENCE = re.compile(r"(?<=[.!?])\s+")
_WORD = re.compile(r"[a-z]{4,}")
_TOKEN = re.compile(r"[a-z']+")
_NEGATIONS = {"no", "not", "never", "don't", "dont", "isn't", "aren't", "won't", "nothing"}
STEM = 6
_STOPWORDS = {"when", "with", "that", "this", "from", "they", "have", "about", "call", "callee", "their", "were"}


def _number(text: str) -> float | None:
    raw = text.strip().lstrip("+$").replace(",", "").replace("$", "").strip()
    scale = 1
    if raw[-1:] in "kK":
        scale, raw = 1_000, raw[:-1].strip()
    elif raw[-1:] in "mM":
        scale, raw = 1_000_000, raw[:-1].strip()
    try:
        return float(raw) * scale
    except ValueError:
        return None


def _words(*texts: str) -> set[str]:
    """The texts' words of four letters or more, cut to their first six (a crude stem: interest/interested)."""
    return {word[:STEM] for text in texts for word in _WORD.findall(text.lower())} - _STOPWORDS


def _affirmed(lines: list[str]) -> set[str]:
    """The stems of words said without a negation just before them ("not interested" affirms nothing)."""
    found: set[str] = set()
    for line in lines:
        tokens = _TOKEN.findall(line.lower())
        for index, token in enumerate(tokens):
            if len(token) >= 4 and not _NEGATIONS & set(tokens[max(0, index - 2) : index]):
                found.add(token[:STEM])
    return found - _STOPWORDS


def _gap(a: tuple[int, int], b: tuple[int, int]) -> int:
    """Characters between two spans of a line."""
    return max(b[0] - a[1], a[0] - b[1], 0)


def _nearest_number(lines: list[str], keys: set[str]) -> float | None:
    """The number nearest a word of the field's (its name or description) in the latest line that names one;
    else the latest number said."""
    for line in reversed(lines):
        numbers = [(m.start(), m.end(), n) for m in _NUMBER.finditer(line) if (n := _number(m.group())) is not None]
        keyed = [m.span() for m in _WORD.finditer(line.lower()) if m.group()[:STEM] in keys]
        if numbers and keyed:
            return min(numbers, key=lambda num: min(_gap(num[:2], span) for span in keyed))[2]
    numbers = [n for line in lines for m in _NUMBER.findall(line) if (n := _number(m)) is not None]
    return numbers[-1] if numbers else None


def _summary(callee: list[str], agent: list[str]) -> str:
    sentences = [s.strip() for line in callee for s in _SENTENCE.split(line) if s.strip()]
    if not sentences:
        sentences = [s.strip() for line in agent[:1] for s in _SENTENCE.split(line) if s.strip()]
        prefix = "The agent spoke; the callee said nothing. " if sentences else ""
    else:
        prefix = "The callee said: "
    text = prefix + " ".join(sentences[:SUMMARY_SENTENCES])
    return text if len(text) <= SUMMARY_MAX_LENGTH else text[: SUMMARY_MAX_LENGTH - 1] + "…"


def _answer_to(name: str, description: str, segments: list[TranscriptSegment]) -> list[str]:
    """The callee's lines that answer an agent line about this field (its name or description's words);
    all the callee's lines when no agent line asks about it."""
    keys = _words(name.replace("_", " "), description)
    answers: list[str] = []
    for index, segment in enumerate(segments):
        if segment.speaker == "agent" and keys & _words(segment.text):
            answers += [s.text for s in segments[index + 1 : index + 2] if s.speaker != "agent"]
    return answers or [s.text for s in segments if s.speaker != "agent"]


def offline_analysis(
    config: AnalysisConfig, segments: list[TranscriptSegment], outcome: str | None, now: datetime
) -> CallAnalysis:
    callee = [s.text for s in segments if s.speaker != "agent"]
    agent = [s.text for s in segments if s.speaker == "agent"]
    extracted: dict[str, Any] = {}
    for name, spec in config.fields.items():
        lines = _answer_to(name, spec.description, segments)
        if spec.type in (FieldType.NUMBER, FieldType.INTEGER):
            found = _nearest_number(lines, _words(name.replace("_", " "), spec.description))
            if found is not None:
                extracted[name] = int(found) if spec.type == FieldType.INTEGER else found
        elif spec.type == FieldType.BOOLEAN:
            keys = _words(name.replace("_", " "), spec.description)
            naming = [line for line in callee if line not in lines and keys & _words(line)]
            for line in [*reversed(lines), *reversed(naming)]:
                if _YES.search(line) and not _NO.search(line):
                    extracted[name] = True
                    break
                if _NO.search(line):
                    extracted[name] = False
                    break
        elif "email" in name.lower():
            emails = [m for line in lines for m in _EMAIL.findall(line)]
            if emails:
                extracted[name] = emails[-1]
        elif lines and lines != callee:
            extracted[name] = lines[-1]
    heard = _affirmed(callee)
    tags = [tag.name for tag in config.tags if _words(tag.name.replace("_", " "), tag.description) & heard]
    if config.success_rubric:
        met = sorted({w for w in _WORD.findall(config.success_rubric.lower()) if w[:STEM] in heard - _STOPWORDS})
        success = bool(met)
        reason = f"the callee said {', '.join(met)}" if met else "nothing the callee said meets the rubric"
    elif outcome is not None:
        success = outcome in _SUCCESS_OUTCOMES
        reason = f"the call's outcome is {outcome}"
    else:
        success, reason = None, "no rubric and no outcome to judge by"
    return CallAnalysis(
        summary=_summary(callee, agent) if config.summary else "",
        extracted=config.coerce(extracted),
        success=success,
        success_reason=reason,
        tags=tags,
        suggested_disposition="qualified" if success and outcome == "completed" else None,
        analyser=OFFLINE,
        created_at=now,
    )


def response_schema(config: AnalysisConfig) -> dict[str, Any]:
    """The JSON schema (strict structured outputs) an OpenAI analysis must fill, from the agent's config:
    every field is required and nullable, as strict mode wants."""
    fields = {
        name: {"type": [spec.type.value, "null"], "description": spec.description or name}
        for name, spec in config.fields.items()
    }
    tag_names = [tag.name for tag in config.tags]
    tags: dict[str, Any] = {
        "type": "array",
        "items": {"type": "string", "enum": tag_names} if tag_names else {"type": "string"},
    }
    return {
        "type": "object",
        "additionalProperties": False,
        "required": ["summary", "extracted", "success", "success_reason", "tags"],
        "properties": {
            "summary": {"type": "string", "description": "Two or three sentences on what the call came to"},
            "extracted": {
                "type": "object",
                "additionalProperties": False,
                "required": list(fields),
                "properties": fields,
            },
            "success": {"type": ["boolean", "null"], "description": "Whether the call met the rubric"},
            "success_reason": {"type": "string"},
            "tags": tags,
        },
    }


def _prompt(config: AnalysisConfig, segments: list[TranscriptSegment], outcome: str | None) -> str:
    tags = "\n".join(f"- {tag.name}: {tag.description}" for tag in config.tags) or "(none: return no tags)"
    lines = "\n".join(f"{s.speaker}: {s.text}" for s in segments)
    return (
        "Analyse this phone call between an AI agent and a callee.\n"
        f"Success rubric: {config.success_rubric or 'the call reached a useful outcome'}\n"
        f"Allowed tags:\n{tags}\n"
        f"The call's outcome: {outcome or 'unknown'}\n"
        "Extract only what the callee said; null when not said.\n\n"
        f"Transcript:\n{lines}"
    )


async def openai_analysis(
    settings: Settings,
    config: AnalysisConfig,
    segments: list[TranscriptSegment],
    outcome: str | None,
    now: datetime,
) -> CallAnalysis:
    from openai import AsyncOpenAI  # the SDK is loaded only when a key is configured

    client = AsyncOpenAI(api_key=settings.openai_api_key, base_url=settings.openai_base_url, max_retries=1)
    async with client:
        response = await client.chat.completions.create(
            model=settings.openai_model,
            messages=[
                {"role": "system", "content": "You analyse call transcripts and answer in the given JSON schema."},
                {"role": "user", "content": _prompt(config, segments, outcome)},
            ],
            response_format={
                "type": "json_schema",
                "json_schema": {"name": "call_analysis", "strict": True, "schema": response_schema(config)},
            },
        )
    found = json.loads(response.choices[0].message.content or "{}")
    allowed = {tag.name for tag in config.tags}
    success = found.get("success")
    return CallAnalysis(
        summary=str(found.get("summary") or "")[:SUMMARY_MAX_LENGTH] if config.summary else "",
        extracted=config.coerce(found.get("extracted") or {}),
        success=success if isinstance(success, bool) else None,
        success_reason=str(found.get("success_reason") or ""),
        tags=[tag for tag in found.get("tags") or [] if tag in allowed],
        analyser=f"openai:{settings.openai_model}",
        created_at=now,
    )


async def analyse_call(
    session: AsyncSession,
    settings: Settings,
    campaign_id: str,
    external_id: str,
    attempt: int,
    config: AnalysisConfig,
    outcome: str | None,
) -> CallAnalysis:
    """Analyse one call from its stored transcript and store the result (replacing an earlier one).
    The one path for the workflows' activity, the API's re-run and the CLI; the caller commits."""
    segments = await queries.transcript_for(session, campaign_id, external_id, attempt)
    now = datetime.now(UTC)
    if settings.openai_api_key:
        analysis = await openai_analysis(settings, config, segments, outcome, now)
    else:
        analysis = offline_analysis(config, segments, outcome, now)
    await analyses.store_analysis(session, campaign_id, external_id, attempt, analysis)
    return analysis
