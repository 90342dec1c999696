"""An agent's model vendors: every vendor's STT, LLM, TTS and realtime model is built from the agent's choice and
the deployment's keys without touching the network; a model or voice that is not the vendor's is a one-line 422;
a missing key refuses the agent when it is saved (API and CLI), when a campaign starts and in the voice worker
before it joins the call; agents stored before the choices existed still load, as OpenAI's models."""

import socket
from pathlib import Path
from typing import Any, get_args

import pytest
from livekit.agents import llm as lk_llm
from livekit.agents import stt as lk_stt
from livekit.agents import tts as lk_tts
from typer.testing import CliRunner
from voice_fakes import FakeBridge

from api.services import campaigns
from cli.app import app
from schemas.agent import AgentConfig, CallJob, Language, ModelMode
from schemas.contact import Contact
from schemas.providers import (
    CREDENTIALS,
    DEFAULT_VOICES,
    MODEL_SHAPES,
    VOICE_SHAPES,
    LLMChoice,
    RealtimeChoice,
    STTChoice,
    TTSChoice,
    keys_refusal,
    missing_keys,
)
from schemas.settings import Settings, get_settings
from schemas.validation import describe_validation_error
from store import queries
from store.models import DEFAULT_ORG_ID, AgentRow
from voice_worker import entry
from voice_worker.models import ModelSetupError, build_llm, build_realtime, build_session, build_stt, build_tts

KEY_SETTINGS = sorted({credential.setting for credential in CREDENTIALS.values()})
VENDOR_VARIABLES = sorted({credential.variable for credential in CREDENTIALS.values()})
ELEVENLABS_VOICE = DEFAULT_VOICES[("tts", "elevenlabs")]
CARTESIA_VOICE = DEFAULT_VOICES[("tts", "cartesia")]
LIVEKIT_READY = {
    "carrier": "livekit_sip",
    "livekit_url": "wss://livekit.example",
    "livekit_api_key": "key",
    "livekit_api_secret": "secret",
    "livekit_sip_outbound_trunk_id": "ST_trunk",
}


def deployment(*, live: bool = True, keys: tuple[str, ...] = (), **fields: Any) -> Settings:
    """Settings with exactly the model keys named (a dummy each), on a ready LiveKit carrier or the simulator."""
    update = {setting: ("dummy-" + setting if setting in keys else None) for setting in KEY_SETTINGS}
    return Settings(_env_file=None).model_copy(
        update={**update, **(LIVEKIT_READY if live else {"carrier": "sim"}), **fields}
    )  # type: ignore[call-arg]


ALL_KEYS = deployment(keys=tuple(KEY_SETTINGS))


def agent(**fields: Any) -> AgentConfig:
    return AgentConfig(name="ada", instructions="You are Ada.", **fields)


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """No socket may connect or resolve a name; and no vendor variable is set, so a key can only come from the
    settings the factory is given."""

    def refuse(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("a model was built with a network call")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    for variable in VENDOR_VARIABLES:
        monkeypatch.delenv(variable, raising=False)


# ---- building each vendor's models, offline --------------------------------------------------------------


@pytest.mark.parametrize(
    ("provider", "model"), [("openai", "gpt-4.1-mini"), ("google", "gemini-2.5-flash"), ("groq", "qwen/qwen3-32b")]
)
async def test_each_llm_is_built_offline_with_the_chosen_model(offline: None, provider: str, model: str) -> None:
    built = build_llm(LLMChoice(provider=provider, model=model, temperature=0.4), ALL_KEYS)
    assert isinstance(built, lk_llm.LLM) and type(built).__module__.startswith(f"livekit.plugins.{provider}")
    assert built.model == model


@pytest.mark.parametrize(
    ("provider", "model"),
    [
        ("openai", "gpt-4o-transcribe"),
        ("deepgram", "nova-2-general"),
        ("google", "chirp_3"),
        ("groq", "whisper-large-v3"),
    ],
)
async def test_each_stt_is_built_offline_with_the_chosen_model(offline: None, provider: str, model: str) -> None:
    built = build_stt(STTChoice(provider=provider, model=model), Language.ARABIC, ALL_KEYS)
    assert isinstance(built, lk_stt.STT) and type(built).__module__.startswith(f"livekit.plugins.{provider}")
    assert built.model == model


@pytest.mark.parametrize(
    ("provider", "model", "voice"),
    [
        ("openai", "tts-1", "nova"),
        ("elevenlabs", "eleven_flash_v2_5", ELEVENLABS_VOICE),
        ("cartesia", "sonic-2", CARTESIA_VOICE),
        ("google", "chirp_3", "en-US-Chirp3-HD-Charon"),
    ],
)
async def test_each_tts_is_built_offline_with_the_chosen_model(
    offline: None, provider: str, model: str, voice: str
) -> None:
    built = build_tts(TTSChoice(provider=provider, model=model), voice, Language.ENGLISH, ALL_KEYS)
    assert isinstance(built, lk_tts.TTS) and type(built).__module__.startswith(f"livekit.plugins.{provider}")
    assert built.model in (model, "Chirp3")  # Google's TTS names its Chirp 3 model so


@pytest.mark.parametrize(
    ("choice", "voice"),
    [
        (RealtimeChoice(provider="openai", model="gpt-realtime"), "marin"),
        (RealtimeChoice(provider="google", model="gemini-3.8-live", temperature=0.6), "Kore"),
    ],
)
async def test_each_realtime_model_is_built_offline(offline: None, choice: RealtimeChoice, voice: str) -> None:
    built = build_realtime(choice, voice, ALL_KEYS)
    assert isinstance(built, lk_llm.RealtimeModel) and built.model == choice.model


async def test_a_session_of_mixed_vendors_is_built_offline_from_the_agent(offline: None) -> None:
    mixed = agent(
        stt={"provider": "deepgram"}, llm={"provider": "groq"}, tts={"provider": "cartesia"}, voice=CARTESIA_VOICE
    )
    needed = deployment(keys=("deepgram_api_key", "groq_api_key", "cartesia_api_key"))
    session = build_session(mixed, needed)
    assert [type(part).__module__.split(".")[2] for part in (session.stt, session.llm, session.tts)] == [
        "deepgram",
        "groq",
        "cartesia",
    ]
    assert session.vad is not None
    gemini_live = agent(model_mode="realtime", realtime={"provider": "google"}, voice="Puck")
    session = build_session(gemini_live, deployment(keys=("google_api_key",)))
    assert isinstance(session.llm, lk_llm.RealtimeModel) and session.tts is None and session.stt is None


async def test_a_session_without_its_keys_is_refused_before_any_model_is_built(offline: None) -> None:
    mixed = agent(llm={"provider": "google"}, tts={"provider": "elevenlabs"}, voice=ELEVENLABS_VOICE)
    with pytest.raises(ModelSetupError) as refused:
        build_session(mixed, deployment(keys=("openai_agent_api_key",)))
    assert str(refused.value) == (
        "agent 'ada' cannot run its models on this deployment: set GOOGLE_API_KEY (llm google), "
        "ELEVEN_API_KEY (tts elevenlabs)"
    )


# ---- what each vendor accepts ------------------------------------------------------------------------------


def _plugin_models() -> dict[tuple[str, str], tuple[str, ...]]:
    """The model names each plugin enumerates: our shapes must take every one of them."""
    from livekit.agents.llm._realtime.openai_types import RealtimeModels
    from livekit.plugins.cartesia.models import TTSModels as CartesiaModels
    from livekit.plugins.deepgram.models import DeepgramModels
    from livekit.plugins.elevenlabs.models import TTSModels as ElevenLabsModels
    from livekit.plugins.google.models import ChatModels as GeminiModels
    from livekit.plugins.google.models import GeminiTTSModels, SpeechModels
    from livekit.plugins.google.realtime.api_proto import LiveAPIModels
    from livekit.plugins.groq.models import LLMModels as GroqModels
    from livekit.plugins.groq.models import STTModels as GroqSTTModels
    from livekit.plugins.openai.models import ChatModels, STTModels, TTSModels

    def names(*literals: Any) -> tuple[str, ...]:
        flat: list[str] = []
        for literal in literals:
            for arg in get_args(literal):
                flat.extend(get_args(arg) or [arg])  # STTModels is a union of two Literals
        return tuple(flat)

    return {
        ("llm", "openai"): names(ChatModels),
        ("llm", "google"): names(GeminiModels),
        ("llm", "groq"): names(GroqModels),
        ("stt", "openai"): names(STTModels),
        ("stt", "deepgram"): names(DeepgramModels),
        ("stt", "google"): names(SpeechModels),
        ("stt", "groq"): names(GroqSTTModels),
        ("tts", "openai"): names(TTSModels),
        ("tts", "elevenlabs"): names(ElevenLabsModels),
        ("tts", "cartesia"): names(CartesiaModels),
        ("tts", "google"): (*names(GeminiTTSModels), "chirp_3"),
        ("realtime", "openai"): names(RealtimeModels),
        ("realtime", "google"): names(LiveAPIModels),
    }


def test_every_model_a_plugin_names_has_its_vendors_shape_and_no_other_vendors() -> None:
    models = _plugin_models()
    assert models.keys() == MODEL_SHAPES.keys()
    for (role, provider), names in models.items():
        shape, _ = MODEL_SHAPES[(role, provider)]
        assert names and all(shape.fullmatch(name) for name in names), (role, provider, names)
    assert not MODEL_SHAPES[("llm", "openai")][0].fullmatch("gemini-2.5-flash")
    assert not MODEL_SHAPES[("llm", "google")][0].fullmatch("gpt-4.1")
    assert not MODEL_SHAPES[("tts", "elevenlabs")][0].fullmatch("sonic-3")
    assert not MODEL_SHAPES[("stt", "groq")][0].fullmatch("nova-3")


def test_every_voice_a_plugin_names_has_its_vendors_shape() -> None:
    from livekit.agents.llm._realtime.openai import DEFAULT_VOICE as OPENAI_REALTIME_VOICE
    from livekit.plugins.cartesia.models import TTSDefaultVoiceId
    from livekit.plugins.elevenlabs.tts import DEFAULT_VOICE_ID
    from livekit.plugins.google.realtime.api_proto import Voice as GeminiVoices
    from livekit.plugins.openai.models import TTSVoices

    voices = {
        ("tts", "openai"): get_args(TTSVoices),
        ("tts", "elevenlabs"): (DEFAULT_VOICE_ID,),
        ("tts", "cartesia"): (TTSDefaultVoiceId,),
        ("tts", "google"): ("Charon", "en-US-Chirp3-HD-Charon", "ar-XA-Wavenet-A"),
        ("realtime", "openai"): (OPENAI_REALTIME_VOICE, "alloy", "verse"),
        ("realtime", "google"): get_args(GeminiVoices),
    }
    assert voices.keys() == VOICE_SHAPES.keys()
    for speaker, names in voices.items():
        assert all(VOICE_SHAPES[speaker][0].fullmatch(name) for name in names), (speaker, names)
        assert VOICE_SHAPES[speaker][0].fullmatch(DEFAULT_VOICES[speaker]), speaker


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"llm": {"provider": "google", "model": "gpt-4.1"}}, "llm.model: 'gpt-4.1' is not a Gemini model"),
        ({"stt": {"provider": "groq", "model": "nova-3"}}, "stt.model: 'nova-3' is not a Groq Whisper model"),
        ({"llm": {"temperature": 2.5}}, "llm.temperature: Input should be less than or equal to 2"),
        (
            {"realtime": {"provider": "openai", "temperature": 0.7}},
            "realtime.temperature: OpenAI's realtime models take no temperature",
        ),
        ({"tts": {"provider": "azure"}}, "tts.provider: Input should be 'openai', 'elevenlabs', 'cartesia' or"),
        ({"stt": {"language": "English"}}, "stt.language: 'English' is not a language tag such as en-GB"),
        ({"llm": {"provider": "groq", "top_k": 3}}, "llm.top_k: Extra inputs are not permitted"),
        (
            {"tts": {"provider": "elevenlabs"}},
            f"voice 'alloy' is not an ElevenLabs voice id (20 letters and digits), e.g. {ELEVENLABS_VOICE}",
        ),
        (
            {"model_mode": "realtime", "realtime": {"provider": "google"}, "voice": "alloy"},
            "voice 'alloy' is not a Gemini Live voice (a capitalised name), e.g. Puck",
        ),
        ({"voice": "Puck"}, "voice 'Puck' is not an OpenAI voice (a lower-case name), e.g. alloy"),
    ],
)
def test_a_choice_the_vendor_would_refuse_is_one_line_naming_the_field(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError) as refused:
        agent(**fields)
    assert describe_validation_error(refused.value).startswith(message), describe_validation_error(refused.value)


def test_the_voice_is_checked_against_the_model_that_speaks_in_the_agents_mode() -> None:
    """A pipeline agent's realtime choice is kept but silent, and the reverse: only the speaker's vendor counts."""
    pipeline = agent(tts={"provider": "cartesia"}, realtime={"provider": "google"}, voice=CARTESIA_VOICE)
    assert pipeline.model_mode == ModelMode.PIPELINE
    realtime = agent(model_mode="realtime", tts={"provider": "elevenlabs"}, voice="marin")
    assert realtime.tts.provider == "elevenlabs"


def test_the_simulators_openai_model_takes_the_settings_key_and_model(offline: None) -> None:
    from simulator.agent_call import _language_model

    assert _language_model(None) is None, "no settings: the offline scripted model"
    assert _language_model(deployment(live=False, agent_llm="scripted")) is None
    chat = _language_model(
        deployment(live=False, agent_llm="openai", openai_model="gpt-4.1-nano", keys=("openai_agent_api_key",))
    )
    assert chat is not None and chat.model == "gpt-4.1-nano"


# ---- which keys a deployment needs ---------------------------------------------------------------------------


def test_the_simulator_with_its_scripted_model_needs_no_key_whatever_the_agent_names() -> None:
    groq_and_gemini = agent(
        llm={"provider": "groq"}, model_mode="realtime", realtime={"provider": "google"}, voice="Puck"
    )
    assert missing_keys(groq_and_gemini, deployment(live=False, agent_llm="scripted")) == []
    assert missing_keys(groq_and_gemini, deployment(live=False, agent_llm="openai")) == ["OPENAI_API_KEY"], (
        "the simulator's OpenAI chat model runs, not the agent's live models"
    )
    assert keys_refusal(groq_and_gemini, deployment(live=False, agent_llm="openai")) == (
        "the simulator's OpenAI chat model (RINGFLOW_AGENT_LLM=openai) needs a key: set OPENAI_API_KEY"
    )


def test_a_live_carrier_needs_each_vendor_key_of_the_models_in_use_once() -> None:
    all_openai = agent()
    assert missing_keys(all_openai, deployment()) == ["OPENAI_API_KEY"]
    assert missing_keys(all_openai, deployment(keys=("openai_agent_api_key",))) == []
    google_pipeline = agent(
        stt={"provider": "google"}, llm={"provider": "google"}, tts={"provider": "google"}, voice="Charon"
    )
    assert missing_keys(google_pipeline, deployment()) == ["GOOGLE_APPLICATION_CREDENTIALS", "GOOGLE_API_KEY"]
    assert missing_keys(google_pipeline, deployment(keys=("google_application_credentials",))) == ["GOOGLE_API_KEY"]
    # The realtime choice of a pipeline agent does not run, so it needs nothing.
    assert missing_keys(agent(realtime={"provider": "google"}), deployment(keys=("openai_agent_api_key",))) == []


def test_keys_are_read_from_the_vendors_variables_and_the_ringflow_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ELEVEN_API_KEY", "from-the-vendor-variable")
    monkeypatch.setenv("RINGFLOW_GROQ_API_KEY", "from-ringflow")
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.elevenlabs_api_key == "from-the-vendor-variable" and settings.groq_api_key == "from-ringflow"


async def test_a_campaign_on_a_live_carrier_is_refused_at_start_without_its_agents_keys() -> None:
    groq = agent(llm={"provider": "groq"})
    with pytest.raises(campaigns.InvalidCampaignInputError) as refused:
        campaigns.refuse_if_undiallable(deployment(keys=("openai_agent_api_key",)), groq)
    assert "set GROQ_API_KEY (llm groq)" in str(refused.value)
    campaigns.refuse_if_undiallable(deployment(keys=("openai_agent_api_key", "groq_api_key")), groq)
    campaigns.refuse_if_undiallable(deployment(live=False, agent_llm="scripted"), groq)  # the offline simulator


# ---- saving an agent -----------------------------------------------------------------------------------------


async def test_the_api_refuses_to_save_an_agent_this_deployment_has_no_key_for(
    api_stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    http = api_stack.org_a.http
    ada = {"name": "ada", "instructions": "You are Ada.", "llm": {"provider": "groq", "model": "llama-3.1-8b-instant"}}
    created = await http.post("/v1/agents", json=ada)  # the offline simulator needs no key
    assert created.status_code == 201, created.text
    assert created.json()["llm"] == {"provider": "groq", "model": "llama-3.1-8b-instant", "temperature": None}

    for setting, value in {**LIVEKIT_READY, "openai_agent_api_key": "sk-dummy", "groq_api_key": None}.items():
        monkeypatch.setattr(api_stack.settings, setting, value)
    refused = await http.post("/v1/agents", json={**ada, "name": "bea"})
    assert refused.status_code == 422
    assert refused.json()["detail"] == (
        "agent 'bea' cannot run its models on this deployment: set GROQ_API_KEY (llm groq)"
    )
    edit = await http.put("/v1/agents/ada", json={"greeting": "Hello"})
    assert edit.status_code == 422 and "GROQ_API_KEY" in edit.json()["detail"]
    back_to_openai = await http.put("/v1/agents/ada", json={"llm": {"provider": "openai"}, "greeting": "Hello"})
    assert back_to_openai.status_code == 200, back_to_openai.text
    assert (await http.get("/v1/agents/bea")).status_code == 404

    bad_model = await http.put("/v1/agents/ada", json={"llm": {"provider": "google", "model": "gpt-4.1"}})
    assert bad_model.status_code == 422
    assert bad_model.json()["detail"].startswith("body.llm.model: 'gpt-4.1' is not a Gemini model")
    assert (await http.put("/v1/agents/ada", json={"stt": None})).status_code == 422


@pytest.fixture
def live_cli(cli_store_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI on a ready LiveKit carrier with OpenAI's key only."""
    for variable in VENDOR_VARIABLES:
        monkeypatch.delenv(variable, raising=False)
        monkeypatch.delenv(f"RINGFLOW_{variable}", raising=False)
    for setting, value in LIVEKIT_READY.items():
        monkeypatch.setenv(f"RINGFLOW_{setting.upper()}", value)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-dummy")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_the_cli_refuses_to_store_an_agent_this_deployment_has_no_key_for(
    live_cli: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner = CliRunner()
    create = ["agent", "create", "ada", "--instructions", "Hi."]
    refused = runner.invoke(app, [*create, "--llm", "google:gemini-2.5-flash"])
    assert refused.exit_code == 2, refused.output
    assert "set GOOGLE_API_KEY (llm google)" in " ".join(refused.stderr.split())
    assert runner.invoke(app, ["agent", "show", "ada"]).exit_code == 1, "nothing was stored"

    stored = runner.invoke(app, [*create, "--tts", "openai:gpt-4o-mini-tts", "--voice", "coral"])
    assert stored.exit_code == 0, stored.output
    shown = AgentConfig.model_validate_json(runner.invoke(app, ["agent", "show", "ada"]).stdout)
    assert (shown.tts.model, shown.voice) == ("gpt-4o-mini-tts", "coral")

    mixed = ["--stt", "deepgram", "--llm", "openai:gpt-4.1-mini", "--tts", "elevenlabs", "--voice", ELEVENLABS_VOICE]
    refused = runner.invoke(app, [*create, "--replace", *mixed])
    assert refused.exit_code == 2
    assert "set DEEPGRAM_API_KEY (stt deepgram), ELEVEN_API_KEY (tts elevenlabs)" in " ".join(refused.stderr.split())
    monkeypatch.setenv("DEEPGRAM_API_KEY", "dg-dummy")
    monkeypatch.setenv("RINGFLOW_ELEVENLABS_API_KEY", "el-dummy")
    get_settings.cache_clear()
    stored = runner.invoke(app, [*create, "--replace", *mixed])
    assert stored.exit_code == 0, stored.output
    shown = AgentConfig.model_validate_json(runner.invoke(app, ["agent", "show", "ada"]).stdout)
    assert (shown.stt.provider, shown.llm.model, shown.tts.provider) == ("deepgram", "gpt-4.1-mini", "elevenlabs")

    wrong_vendor = runner.invoke(app, [*create, "--replace", "--stt", "groq:nova-3"])
    assert wrong_vendor.exit_code == 2
    assert wrong_vendor.stderr.startswith("error: --stt: 'nova-3' is not a Groq Whisper model")

    exported = tmp_path / "agent.json"
    exported.write_text(agent(model_mode="realtime", realtime={"provider": "google"}, voice="Puck").model_dump_json())
    imported = runner.invoke(app, ["agent", "import", str(exported)])
    assert imported.exit_code == 2 and "set GOOGLE_API_KEY (realtime google)" in " ".join(imported.stderr.split())


# ---- agents stored before model choices existed ----------------------------------------------------------------

LEGACY_AGENT = {
    "name": "old",
    "instructions": "You are an agent from before model choices.",
    "language": "ar",
    "voice": "verse",
    "model_mode": "realtime",
}


async def test_an_agent_stored_before_model_choices_loads_as_openais(session_factory) -> None:
    async with session_factory() as session:
        session.add(AgentRow(org_id=DEFAULT_ORG_ID, name="old", config=LEGACY_AGENT, active=True))
        await session.commit()
        loaded = await queries.get_agent(session, "old")
    assert loaded is not None and loaded.voice == "verse" and loaded.model_mode == ModelMode.REALTIME
    assert (loaded.stt, loaded.llm, loaded.tts, loaded.realtime) == (
        STTChoice(),
        LLMChoice(),
        TTSChoice(),
        RealtimeChoice(),
    )
    assert {loaded.stt.provider, loaded.llm.provider, loaded.tts.provider, loaded.realtime.provider} == {"openai"}


def test_a_call_job_from_before_model_choices_still_parses() -> None:
    """Calls already in flight carry the agent they started with, in the job metadata and workflow payloads."""
    contact = Contact(external_id="x", phone="+442079460001")
    job = CallJob.model_validate(
        {"workflow_id": "w", "campaign_id": "c", "attempt": 1, "contact": contact.model_dump(), "agent": LEGACY_AGENT}
    )
    assert job.agent.realtime.provider == "openai"


# ---- the voice worker ---------------------------------------------------------------------------------------------


class RoomStandIn:
    """The JobContext calls the voice worker makes before and instead of a call."""

    def __init__(self) -> None:
        self.connected = False
        self.deleted = False
        self.shutdown_reason: str | None = None

    async def connect(self) -> None:
        self.connected = True

    async def delete_room(self) -> None:
        self.deleted = True

    def shutdown(self, reason: str) -> None:
        self.shutdown_reason = reason


async def test_the_voice_worker_hangs_up_without_joining_when_a_key_is_missing(
    offline: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(entry, "get_settings", lambda: deployment(keys=("openai_agent_api_key",)))
    job = CallJob(
        workflow_id="contact-c1-1",
        campaign_id="c1",
        attempt=1,
        contact=Contact(external_id="x", phone="+442079460001"),
        agent=agent(stt={"provider": "deepgram"}),
    )
    room, bridge = RoomStandIn(), FakeBridge()
    await entry._run_call(room, job, bridge)  # type: ignore[arg-type]
    assert not room.connected and room.deleted and room.shutdown_reason == "agent models unavailable"
    assert bridge.ended == [
        "the agent could not start: agent 'ada' cannot run its models on this deployment: "
        "set DEEPGRAM_API_KEY (stt deepgram)"
    ]
