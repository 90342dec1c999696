"""Which vendor's model an agent hears, thinks and speaks with, and the keys a deployment needs for them.

An agent picks, among the LiveKit plugins, its speech-to-text, language model and text-to-speech (the
pipeline), or one speech-to-speech model (realtime). Each choice is checked here against what its vendor
accepts (model-name shapes, voice ids, temperature ranges), so a mistake is a one-line 422 when the agent is
saved, not an error in the middle of a call. A model left empty is the plugin's own default.

Keys: :func:`missing_keys` is the one rule for whether a deployment can run an agent's models. It is asked
when an agent is saved (API and CLI) and when a campaign starts (``refuse_if_undiallable``). A live carrier
runs every model the agent names, so each needs its vendor's key (:func:`missing_for_live_call`, which the
voice worker, always live, asks again before it joins a call's room); the simulator runs the agent in text
with the offline scripted model (no key), or with OpenAI's chat model when ``RINGFLOW_AGENT_LLM=openai``
(OpenAI's key).
"""

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

if TYPE_CHECKING:
    from schemas.agent import AgentConfig
    from schemas.settings import Settings

LLMProvider = Literal["openai", "google", "groq"]
STTProvider = Literal["openai", "deepgram", "google", "groq"]
TTSProvider = Literal["openai", "elevenlabs", "cartesia", "google"]
RealtimeProvider = Literal["openai", "google"]
Role = Literal["llm", "stt", "tts", "realtime"]
PROVIDERS: dict[Role, tuple[str, ...]] = {
    "stt": get_args(STTProvider),
    "llm": get_args(LLMProvider),
    "tts": get_args(TTSProvider),
    "realtime": get_args(RealtimeProvider),
}

VENDOR_NAMES = {
    "openai": "OpenAI",
    "google": "Google",
    "groq": "Groq",
    "deepgram": "Deepgram",
    "elevenlabs": "ElevenLabs",
    "cartesia": "Cartesia",
}

_LOWER_NAME = r"[a-z0-9][a-z0-9._:/-]*"
MODEL_SHAPES: dict[tuple[Role, str], tuple[re.Pattern[str], str]] = {
    ("llm", "openai"): (
        re.compile(r"(ft:)?(gpt-|o\d|chatgpt-)[a-z0-9.-]*(:[A-Za-z0-9_.-]*)*"),  # ft:…: a fine-tuned model
        "an OpenAI chat model, e.g. gpt-4.1-mini",
    ),
    ("llm", "google"): (re.compile(r"(gemini|gemma)-[a-z0-9.-]+"), "a Gemini model, e.g. gemini-2.5-flash"),
    ("llm", "groq"): (re.compile(_LOWER_NAME), "a Groq model id, e.g. llama-3.3-70b-versatile"),
    ("stt", "openai"): (re.compile(r"(whisper-|gpt-)[a-z0-9.-]+"), "an OpenAI speech-to-text model, e.g. whisper-1"),
    ("stt", "deepgram"): (re.compile(r"[a-z][a-z0-9.-]*"), "a Deepgram model, e.g. nova-3"),
    ("stt", "google"): (re.compile(r"[a-z][a-z0-9_]*"), "a Google Cloud Speech model, e.g. chirp_3 or latest_long"),
    ("stt", "groq"): (re.compile(r"whisper-[a-z0-9.-]+"), "a Groq Whisper model, e.g. whisper-large-v3-turbo"),
    ("tts", "openai"): (re.compile(r"(tts-|gpt-)[a-z0-9.-]+"), "an OpenAI speech model, e.g. gpt-4o-mini-tts"),
    ("tts", "elevenlabs"): (re.compile(r"eleven_[a-z0-9_]+"), "an ElevenLabs model, e.g. eleven_flash_v2_5"),
    ("tts", "cartesia"): (re.compile(r"sonic[a-z0-9.-]*"), "a Cartesia model, e.g. sonic-3"),
    ("tts", "google"): (re.compile(r"(gemini-[a-z0-9.-]+|chirp_?\d*)"), "a Google voice model, e.g. chirp_3"),
    ("realtime", "openai"): (re.compile(r"gpt-[a-z0-9.-]+"), "an OpenAI realtime model, e.g. gpt-realtime"),
    ("realtime", "google"): (re.compile(r"gemini-[a-z0-9.-]+"), "a Gemini Live model, e.g. gemini-3.8-live"),
}
"""What each vendor's model names look like. Loose on purpose (vendors add models every month, and every plugin
accepts any name): they catch a model given to the wrong vendor or mistyped, not a model newer than the list."""

_CLOUD_VOICE = r"[a-z]{2,3}-[A-Z]{2,3}-[A-Za-z0-9]+(-[A-Za-z0-9]+)*"
VOICE_SHAPES: dict[tuple[Role, str], tuple[re.Pattern[str], str]] = {
    ("tts", "openai"): (re.compile(r"[a-z]+"), "an OpenAI voice (a lower-case name)"),
    ("tts", "elevenlabs"): (re.compile(r"[A-Za-z0-9]{20}"), "an ElevenLabs voice id (20 letters and digits)"),
    ("tts", "cartesia"): (
        re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"),
        "a Cartesia voice id (a UUID)",
    ),
    ("tts", "google"): (
        re.compile(rf"([A-Z][a-z]+|{_CLOUD_VOICE})"),
        "a Google voice (a Gemini voice name, or a Cloud voice such as en-US-Chirp3-HD-Charon)",
    ),
    ("realtime", "openai"): (re.compile(r"[a-z]+"), "an OpenAI realtime voice (a lower-case name)"),
    ("realtime", "google"): (re.compile(r"[A-Z][a-z]+"), "a Gemini Live voice (a capitalised name)"),
}
"""What a voice looks like for the model that speaks (the TTS, or the realtime model)."""

DEFAULT_VOICES: dict[tuple[Role, str], str] = {
    ("tts", "openai"): "alloy",
    ("tts", "elevenlabs"): "hpp4J3VqNfWAUOO0d1Us",
    ("tts", "cartesia"): "f786b574-daa5-4673-aa0c-cbe3e8534c02",
    ("tts", "google"): "Charon",
    ("realtime", "openai"): "alloy",
    ("realtime", "google"): "Puck",
}
"""A voice that works with each speaking model (the plugins' own defaults; OpenAI's is Ringflow's ``alloy``):
the example a refused voice's message gives, and what the dashboard offers when the vendor changes."""

LANGUAGE_TAG = re.compile(r"[a-z]{2,3}(-[A-Za-z0-9]{2,8})*|multi")


class _Choice(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: ClassVar[Role]
    provider: str  # each choice narrows it to the vendors it takes
    model: str = Field(default="", max_length=100, description="Empty: the plugin's default")

    @field_validator("model")
    @classmethod
    def _model_shape(cls, model: str, info: ValidationInfo) -> str:
        provider = info.data.get("provider")  # absent when it was refused itself
        if model and provider is not None:
            shape, example = MODEL_SHAPES[(cls.role, provider)]
            if not shape.fullmatch(model):
                raise ValueError(f"{model!r} is not {example}")
        return model


class LLMChoice(_Choice):
    """The language model of a pipeline agent."""

    role: ClassVar[Role] = "llm"
    provider: LLMProvider = "openai"
    temperature: float | None = Field(default=None, ge=0, le=2, description="0 to 2; unset: the vendor's default")


class STTChoice(_Choice):
    """Speech-to-text of a pipeline agent."""

    role: ClassVar[Role] = "stt"
    provider: STTProvider = "openai"
    language: str = Field(
        default="",
        max_length=35,
        description="A language tag the vendor knows (e.g. en-GB, ar-EG, multi); empty: the agent's language",
    )

    @field_validator("language")
    @classmethod
    def _language_tag(cls, language: str) -> str:
        if language and not LANGUAGE_TAG.fullmatch(language):
            raise ValueError(f"{language!r} is not a language tag such as en-GB, ar-EG or multi")
        return language


class TTSChoice(_Choice):
    """Text-to-speech of a pipeline agent; its voice is the agent's ``voice``."""

    role: ClassVar[Role] = "tts"
    provider: TTSProvider = "openai"


class RealtimeChoice(_Choice):
    """The speech-to-speech model of a realtime agent (it hears, thinks and speaks); its voice is the agent's."""

    role: ClassVar[Role] = "realtime"
    provider: RealtimeProvider = "openai"
    temperature: float | None = Field(
        default=None, ge=0, le=2, description="Gemini Live only, 0 to 2; OpenAI's realtime models take none"
    )

    @field_validator("temperature")
    @classmethod
    def _temperature_where_taken(cls, temperature: float | None, info: ValidationInfo) -> float | None:
        if temperature is not None and info.data.get("provider") == "openai":
            raise ValueError("OpenAI's realtime models take no temperature: leave it unset")
        return temperature


def voice_problem(role: Role, provider: str, voice: str) -> str | None:
    """Why ``voice`` cannot be the voice of ``provider``'s speaking model, or None when it can."""
    shape, what = VOICE_SHAPES[(role, provider)]
    if shape.fullmatch(voice):
        return None
    return f"{voice!r} is not {what}, e.g. {DEFAULT_VOICES[(role, provider)]}"


# ---- keys -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Credential:
    """One secret a vendor's plugin needs: the setting that holds it and the variable to name when it is missing."""

    setting: str
    variable: str


OPENAI_KEY = Credential("openai_agent_api_key", "OPENAI_API_KEY")
GOOGLE_API_KEY = Credential("google_api_key", "GOOGLE_API_KEY")
GOOGLE_CLOUD = Credential("google_application_credentials", "GOOGLE_APPLICATION_CREDENTIALS")
CREDENTIALS: dict[tuple[Role, str], Credential] = {
    ("llm", "openai"): OPENAI_KEY,
    ("llm", "google"): GOOGLE_API_KEY,
    ("llm", "groq"): Credential("groq_api_key", "GROQ_API_KEY"),
    ("stt", "openai"): OPENAI_KEY,
    ("stt", "deepgram"): Credential("deepgram_api_key", "DEEPGRAM_API_KEY"),
    ("stt", "google"): GOOGLE_CLOUD,
    ("stt", "groq"): Credential("groq_api_key", "GROQ_API_KEY"),
    ("tts", "openai"): OPENAI_KEY,
    ("tts", "elevenlabs"): Credential("elevenlabs_api_key", "ELEVEN_API_KEY"),
    ("tts", "cartesia"): Credential("cartesia_api_key", "CARTESIA_API_KEY"),
    ("tts", "google"): GOOGLE_CLOUD,
    ("realtime", "openai"): OPENAI_KEY,
    ("realtime", "google"): GOOGLE_API_KEY,
}
"""Gemini (chat and Live) takes an API key; Google Cloud Speech-to-Text and Text-to-Speech take a service account's
credentials file. Each setting also reads ``RINGFLOW_<SETTING>`` (schemas/settings.py)."""


def models_in_use(agent: "AgentConfig") -> list[tuple[Role, str]]:
    """The (role, vendor) of every model a live call of this agent runs: STT, LLM and TTS, or the realtime model."""
    if agent.model_mode == "realtime":
        return [("realtime", agent.realtime.provider)]
    return [("stt", agent.stt.provider), ("llm", agent.llm.provider), ("tts", agent.tts.provider)]


def missing_for_live_call(agent: "AgentConfig", settings: "Settings") -> list[str]:
    """The variables a live call of this agent needs and ``settings`` lacks, each named once, in the order used."""
    missing: list[str] = []
    for role, provider in models_in_use(agent):
        credential = CREDENTIALS[(role, provider)]
        if not getattr(settings, credential.setting) and credential.variable not in missing:
            missing.append(credential.variable)
    return missing


def missing_keys(agent: "AgentConfig", settings: "Settings") -> list[str]:
    """The variables this deployment must set before it can run the agent's calls (none: it can).

    A live carrier runs the agent's own models. The simulator talks to its personas in text: with the offline
    scripted model (``RINGFLOW_AGENT_LLM=scripted``, the default) nothing is needed; with ``openai`` its chat
    model needs OpenAI's key, whatever models the agent names for live calls.
    """
    if settings.carrier != "sim":
        return missing_for_live_call(agent, settings)
    if settings.agent_llm == "openai" and not settings.openai_agent_api_key:
        return [OPENAI_KEY.variable]
    return []


def describe_missing_keys(agent: "AgentConfig", missing: list[str]) -> str:
    """The one-line refusal for an agent whose models have no key here, naming what to set and for what."""
    users = {
        variable: [
            f"{role} {provider}"
            for role, provider in models_in_use(agent)
            if CREDENTIALS[(role, provider)].variable == variable
        ]
        for variable in missing
    }
    wanted = ", ".join(f"{variable} ({', '.join(users[variable])})" for variable in missing)
    return f"agent {agent.name!r} cannot run its models on this deployment: set {wanted}"


def keys_refusal(agent: "AgentConfig", settings: "Settings") -> str | None:
    """Why this deployment cannot run the agent's calls for want of a key, in one line; None when it can."""
    missing = missing_keys(agent, settings)
    if not missing:
        return None
    if settings.carrier == "sim":
        return f"the simulator's OpenAI chat model (RINGFLOW_AGENT_LLM=openai) needs a key: set {', '.join(missing)}"
    return describe_missing_keys(agent, missing)
