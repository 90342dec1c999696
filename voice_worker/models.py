"""The LiveKit models one call runs, built from the agent's choices (schemas/providers.py) and this process's keys.

Each vendor's plugin is imported only when an agent names it: Deepgram, ElevenLabs and Cartesia come with the
``voices`` extra, and a worker without it refuses such an agent before joining the call's room. Keys are passed
to the plugins explicitly, so ``RINGFLOW_<NAME>`` works as well as the vendor's own variable. Building touches
no network: the plugins connect on first use.
"""

from typing import TYPE_CHECKING, Any

from schemas.agent import AgentConfig, Language, ModelMode
from schemas.providers import (
    CREDENTIALS,
    VENDOR_NAMES,
    LLMChoice,
    RealtimeChoice,
    Role,
    STTChoice,
    TTSChoice,
    describe_missing_keys,
    missing_for_live_call,
)
from schemas.settings import Settings
from voice_worker.agent import MAX_TOOL_STEPS

if TYPE_CHECKING:
    from livekit.agents import AgentSession, llm, stt, tts

STT_LANGUAGES: dict[str, dict[Language, str]] = {
    "openai": {Language.ENGLISH: "en", Language.ARABIC: "ar"},
    "groq": {Language.ENGLISH: "en", Language.ARABIC: "ar"},
    "deepgram": {Language.ENGLISH: "en-US", Language.ARABIC: "multi"},
    "google": {Language.ENGLISH: "en-US", Language.ARABIC: "ar-SA"},
}
"""What each STT is told the callee speaks when the agent gives no ``stt.language``: Deepgram has Arabic only in
nova-3's multilingual mode, Google wants a region."""

TTS_LANGUAGES: dict[str, dict[Language, str]] = {
    "elevenlabs": {Language.ENGLISH: "en", Language.ARABIC: "ar"},
    "cartesia": {Language.ENGLISH: "en", Language.ARABIC: "ar"},
    "google": {Language.ENGLISH: "en-US", Language.ARABIC: "ar-XA"},
}
"""The language each TTS speaks in (OpenAI's voices take none: they speak what they are given)."""

EXTRA_PLUGINS = {"deepgram", "elevenlabs", "cartesia"}


class ModelSetupError(ValueError):
    """The agent's models cannot run in this process (a key or a plugin is missing); ``str()`` says what to do."""


def _given(**options: Any) -> dict[str, Any]:
    """Only the options the agent set: a plugin keeps its own default for the rest."""
    return {name: value for name, value in options.items() if value not in (None, "")}


def _key(settings: Settings, role: Role, provider: str) -> str:
    return getattr(settings, CREDENTIALS[(role, provider)].setting)


def _plugin(provider: str) -> Any:
    """``livekit.plugins.<provider>``, imported now; a missing optional plugin is a ModelSetupError."""
    import importlib

    try:
        return importlib.import_module(f"livekit.plugins.{provider}")
    except ImportError as err:
        extra = " (install Ringflow with its `voices` extra: pip install 'ringflow[voices]')"
        hint = extra if provider in EXTRA_PLUGINS else ""
        raise ModelSetupError(f"the {VENDOR_NAMES[provider]} plugin is not installed{hint}: {err}") from None


def build_llm(choice: LLMChoice, settings: Settings) -> "llm.LLM":
    plugin = _plugin(choice.provider)
    return plugin.LLM(
        api_key=_key(settings, "llm", choice.provider), **_given(model=choice.model, temperature=choice.temperature)
    )


def build_stt(choice: STTChoice, language: Language, settings: Settings) -> "stt.STT":
    plugin = _plugin(choice.provider)
    spoken = choice.language or STT_LANGUAGES[choice.provider][language]
    key = _key(settings, "stt", choice.provider)
    if choice.provider == "google":
        return plugin.STT(credentials_file=key, languages=spoken, **_given(model=choice.model))
    return plugin.STT(api_key=key, language=spoken, **_given(model=choice.model))


def build_tts(choice: TTSChoice, voice: str, language: Language, settings: Settings) -> "tts.TTS":
    plugin = _plugin(choice.provider)
    key = _key(settings, "tts", choice.provider)
    model = _given(model=choice.model)
    if choice.provider == "openai":
        return plugin.TTS(api_key=key, voice=voice, **model)
    spoken = TTS_LANGUAGES[choice.provider][language]
    if choice.provider == "elevenlabs":
        return plugin.TTS(api_key=key, voice_id=voice, language=spoken, **model)
    if choice.provider == "cartesia":
        return plugin.TTS(api_key=key, voice=voice, language=spoken, **model)
    return plugin.TTS(credentials_file=key, voice_name=voice, language=spoken, **_given(model_name=choice.model))


def build_realtime(choice: RealtimeChoice, voice: str, settings: Settings) -> "llm.RealtimeModel":
    plugin = _plugin(choice.provider)
    return plugin.realtime.RealtimeModel(
        api_key=_key(settings, "realtime", choice.provider),
        voice=voice,
        **_given(model=choice.model, temperature=choice.temperature),  # OpenAI's never has a temperature
    )


def build_session(agent: AgentConfig, settings: Settings) -> "AgentSession":
    """The call's AgentSession. Realtime: the one speech-to-speech model. Pipeline: STT + LLM + TTS with Silero
    VAD. A missing key or plugin is a ModelSetupError here, before the worker joins the room."""
    from livekit.agents import AgentSession

    missing = missing_for_live_call(agent, settings)
    if missing:
        raise ModelSetupError(describe_missing_keys(agent, missing))
    if agent.model_mode == ModelMode.REALTIME:
        return AgentSession(llm=build_realtime(agent.realtime, agent.voice, settings), max_tool_steps=MAX_TOOL_STEPS)
    from livekit.plugins import silero

    return AgentSession(
        vad=silero.VAD.load(),
        stt=build_stt(agent.stt, agent.language, settings),
        llm=build_llm(agent.llm, settings),
        tts=build_tts(agent.tts, agent.voice, agent.language, settings),
        max_tool_steps=MAX_TOOL_STEPS,
    )
