"""Process settings, from the environment (``RINGFLOW_*``, plus the conventional ``DATABASE_URL``)."""

from datetime import timedelta
from functools import lru_cache
from pathlib import Path
from typing import Literal

from limits import parse
from pydantic import AliasChoices, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RINGFLOW_", env_file=".env", extra="ignore")

    data_dir: Path = Field(default=Path(".ringflow"), description="Embedded stack state: SQLite, Temporal DB")
    database_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("DATABASE_URL", "RINGFLOW_DATABASE_URL"),
        description="SQLAlchemy URL; postgresql://… selects Postgres, unset means SQLite under data_dir",
    )
    temporal_address: str = "127.0.0.1:7233"
    temporal_namespace: str = "default"
    temporal_api_key: str | None = Field(
        default=None, description="Temporal Cloud API key; implies TLS. Unset for a self-hosted server"
    )
    temporal_tls: bool = Field(
        default=False, description="TLS to the Temporal frontend; implied by an API key or a client certificate"
    )
    temporal_tls_cert_path: Path | None = Field(
        default=None, description="mTLS client certificate (PEM), e.g. for Temporal Cloud; needs the key too"
    )
    temporal_tls_key_path: Path | None = Field(default=None, description="mTLS client private key (PEM)")
    temporal_ui_url: str = "http://127.0.0.1:8233"
    task_queue: str = "ringflow"
    carrier: str = Field(default="sim", description="sim | livekit_sip | twilio")
    sim_time_scale: float = Field(
        default=1.0, ge=0.0, description="Multiplies the simulated ring and talk times; 0 makes calls instant"
    )
    max_import_rows: int = Field(
        default=250_000, ge=1, description="Contacts one import (CSV upload or JSON list) may bring; more is a 413"
    )
    max_upload_mb: int = Field(default=64, ge=1, description="Largest CSV upload or JSON body, in MiB; more is a 413")
    agent_llm: Literal["scripted", "openai"] = Field(
        default="scripted",
        description="The model the agent uses on simulated calls: the offline script, or OpenAI (needs a key)",
    )
    openai_model: str = "gpt-4.1-mini"
    openai_api_key: str | None = Field(
        default=None,
        description="Post-call analysis uses OpenAI structured outputs with it; unset: the offline analyser",
    )
    openai_base_url: str | None = Field(default=None, description="Another OpenAI-compatible endpoint, if any")
    knowledge_embedding_model: str = Field(
        default="text-embedding-3-small",
        description="With an OpenAI key, knowledge passages are embedded with this model and searched by BM25 and "
        "meaning together; without a key, by BM25 alone",
    )

    # ---- The agents' model vendors (schemas/providers.py; README "Model providers") ----------------------
    # Each reads the vendor's own variable (the one its LiveKit plugin documents) or RINGFLOW_<NAME>. Saving an
    # agent, starting a campaign and the voice worker's joining a call all refuse an agent whose vendor has none.
    openai_agent_api_key: str | None = Field(
        default=None,
        validation_alias=AliasChoices("OPENAI_API_KEY", "RINGFLOW_OPENAI_AGENT_API_KEY"),
        description="The agents' OpenAI models (STT, LLM, TTS, realtime), and the simulator's --llm openai",
    )
    google_api_key: str | None = Field(
        default=None,
        validation_alias=AliasChoices("GOOGLE_API_KEY", "RINGFLOW_GOOGLE_API_KEY"),
        description="Gemini: the agents' Google LLM and Gemini Live realtime model",
    )
    google_application_credentials: str | None = Field(
        default=None,
        validation_alias=AliasChoices("GOOGLE_APPLICATION_CREDENTIALS", "RINGFLOW_GOOGLE_APPLICATION_CREDENTIALS"),
        description="A Google Cloud service account's JSON key file: the agents' Google STT and TTS",
    )
    groq_api_key: str | None = Field(
        default=None,
        validation_alias=AliasChoices("GROQ_API_KEY", "RINGFLOW_GROQ_API_KEY"),
        description="The agents' Groq LLM and STT",
    )
    deepgram_api_key: str | None = Field(
        default=None,
        validation_alias=AliasChoices("DEEPGRAM_API_KEY", "RINGFLOW_DEEPGRAM_API_KEY"),
        description="The agents' Deepgram STT (the `voices` extra)",
    )
    elevenlabs_api_key: str | None = Field(
        default=None,
        validation_alias=AliasChoices("ELEVEN_API_KEY", "RINGFLOW_ELEVENLABS_API_KEY"),
        description="The agents' ElevenLabs TTS (the `voices` extra)",
    )
    cartesia_api_key: str | None = Field(
        default=None,
        validation_alias=AliasChoices("CARTESIA_API_KEY", "RINGFLOW_CARTESIA_API_KEY"),
        description="The agents' Cartesia TTS (the `voices` extra)",
    )
    sim_fault: Literal["", "trunk_down", "rate_limited"] = Field(
        default="",
        description="Make every simulated dial fail on the network (SIP 503 or 429), as a dead or throttled trunk "
        "would: the campaign's circuit breaker should trip",
    )
    sim_ledger_path: Path | None = Field(
        default=None, description="Append every simulated dial here (JSON lines) for audits across processes"
    )

    # ---- LiveKit (rooms, agent dispatch, SIP) --------------------------------------------------
    livekit_url: str | None = Field(default=None, description="e.g. https://my-project.livekit.cloud")
    livekit_api_key: str | None = None
    livekit_api_secret: str | None = None
    livekit_sip_outbound_trunk_id: str | None = Field(default=None, description="Outbound trunk (Twilio Elastic SIP)")
    livekit_sip_uri_host: str | None = Field(
        default=None, description="Host of the project's SIP URI, e.g. abc123.sip.livekit.cloud, for inbound calls"
    )
    livekit_sip_inbound_username: str | None = Field(
        default=None, description="Digest credentials of LiveKit's inbound trunk, sent on Twilio's <Dial><Sip>"
    )
    livekit_sip_inbound_password: str | None = None
    agent_name: str = Field(default="ringflow-agent", description="The voice worker's name for explicit dispatch")

    # ---- Call recording (docs/recordings.md) ---------------------------------------------------
    recording_storage: Literal["local", "s3"] = Field(
        default="local",
        description="Where LiveKit Egress writes recordings: a local directory (the egress service must share it) "
        "or an S3-compatible bucket",
    )
    recording_dir: Path | None = Field(default=None, description="Local recordings (unset: data_dir/recordings)")
    recording_s3_bucket: str | None = None
    recording_s3_endpoint: str | None = Field(
        default=None, description="An S3-compatible endpoint (MinIO, R2, ...); unset: AWS"
    )
    recording_s3_region: str = "us-east-1"
    recording_s3_access_key: str | None = None
    recording_s3_secret_key: str | None = None
    recording_link_secret: str | None = Field(
        default=None,
        description="The secret signing recording download links (HMAC-SHA256; unset: the dev stack's key file "
        "in data_dir)",
    )
    recording_link_seconds: int = Field(default=300, ge=1, description="How long a recording's download link lives")
    recording_length_tolerance: float = Field(
        default=3.0, ge=0.0, description="Seconds a recording may differ from its call's duration before it is flagged"
    )

    # ---- Twilio ---------------------------------------------------------------------------------
    twilio_account_sid: str | None = None
    twilio_auth_token: str | None = None
    twilio_from_number: str | None = Field(default=None, description="Caller id for outbound calls (E.164)")
    public_base_url: str | None = Field(
        default=None, description="Where Twilio reaches our webhooks, e.g. https://ringflow.example.com"
    )

    # ---- API, dashboard and auth ---------------------------------------------------------------
    api_host: str = "127.0.0.1"
    api_port: int = Field(default=8000, description="The REST API and dashboard")
    session_idle_timeout: timedelta = Field(
        default=timedelta(hours=1), description="A dashboard session unused this long has ended; log in again"
    )
    session_max_age: timedelta = Field(
        default=timedelta(hours=12), description="A dashboard session ends this long after login, however used"
    )
    cookie_secure: bool | None = Field(
        default=None,
        description="Mark the session cookie Secure: true/false, or unset to follow the request's scheme "
        "(https directly, or X-Forwarded-Proto from a trusted proxy)",
    )
    cost_per_minute_usd: float = Field(
        default=0.09, ge=0, description="Estimated all-in cost of a connected minute (carrier + SIP + model)"
    )
    cost_per_dial_usd: float = Field(default=0.005, ge=0, description="Estimated cost of a dial that never connects")

    # ---- Rate limits (api/ratelimit.py; docs/deploy.md) ------------------------------------------
    rate_limit_storage_uri: str = Field(
        default="memory://",
        description="Where the counters live: memory:// (one process) or redis://host:6379 (shared by all replicas)",
    )
    rate_limit_login_per_address: str = Field(
        default="20/minute", description="Dashboard login attempts from one client address"
    )
    rate_limit_login_failures_per_account: str = Field(
        default="10/15 minutes", description="Failed logins against one account (from any address) before it locks"
    )
    rate_limit_api_per_key: str = Field(default="600/minute", description="/v1 requests with one API key")
    rate_limit_api_unauthenticated_per_address: str = Field(
        default="120/minute", description="/v1 requests without a valid key (401s) from one client address"
    )
    trusted_proxies: str = Field(
        default="",
        description="Comma-separated addresses or networks of reverse proxies whose X-Forwarded-For names the "
        "client and whose X-Forwarded-Proto says https (the session cookie's Secure)",
    )

    # ---- Webhooks ------------------------------------------------------------------------------
    webhook_allow_private_urls: bool = Field(
        default=False,
        description="Let webhook URLs point at private, loopback, link-local or reserved addresses (SSRF guard off)",
    )
    webhook_give_up_after: timedelta = Field(
        default=timedelta(days=3), description="A delivery still failing this long after it began is dead-lettered"
    )
    webhook_retry_initial: timedelta = Field(
        default=timedelta(seconds=5), description="First wait before retrying a failed delivery (then doubles)"
    )
    webhook_retry_max: timedelta = Field(default=timedelta(hours=1), description="Longest wait between retries")
    webhook_timeout: timedelta = Field(default=timedelta(seconds=15), description="One delivery's HTTP timeout")

    # ---- HTTP tools (docs/tools.md) -------------------------------------------------------------
    tool_allow_private_urls: bool = Field(
        default=False,
        description="Let HTTP tool URLs point at private, loopback, link-local or reserved addresses (SSRF guard off)",
    )

    # ---- OAuth connections (docs/tools.md) --------------------------------------------------------
    oauth_token_key: str | None = Field(
        default=None,
        description="Comma-separated Fernet keys sealing secrets at rest (OAuth connections' tokens and client "
        "secrets, HTTP tools' secrets); the first seals, all open (rotation). Required to make a connection or save "
        "a tool with a secret (unset: the dev stack's key file)",
    )

    # ---- Payload encryption (PII in workflow histories) ---------------------------------------
    codec_keys: str | None = Field(
        default=None,
        description="Comma-separated key_id:base64(32-byte AES key); the first encrypts, all decrypt (rotation)",
    )
    codec_cors_origins: str = Field(
        default="http://127.0.0.1:8233,http://localhost:8233",
        description="Origins (the Temporal Web UI) allowed to call the codec server",
    )
    operator_token: str | None = Field(
        default=None,
        description="The operators' secret for the codec server (Web UI and `temporal` CLI): it decrypts every "
        "organization's payloads, so no organization API key does (unset: the dev stack's operator.token file)",
    )
    codec_allow_plaintext: bool = Field(
        default=False,
        description="Let a process without codec keys run unencrypted (PII in clear in Temporal): throwaway use only",
    )
    dnc_hash_key: str | None = Field(
        default=None,
        description="base64 secret (32+ bytes) keying the hash an erased person's number is kept under on the "
        "do-not-call list; never rotated (unset: the dev stack's key file in data_dir)",
    )

    # ---- Observability -----------------------------------------------------------------------------
    worker_http_port: int = Field(default=8001, description="The Temporal worker's /healthz, /readyz and /metrics")
    sdk_metrics_port: int | None = Field(
        default=None,
        description="Serve the Temporal SDK's metrics from Core's own endpoint on this port (unset: in /metrics)",
    )
    voice_http_port: int = Field(
        default=8081, description="The voice worker's health check (GET /) and worker info (GET /worker)"
    )
    voice_metrics_port: int | None = Field(
        default=None, description="The voice worker's Prometheus /metrics, its tool latencies included (unset: off)"
    )
    otel_exporter_otlp_endpoint: str | None = Field(
        default=None,
        validation_alias=AliasChoices("OTEL_EXPORTER_OTLP_ENDPOINT", "RINGFLOW_OTEL_EXPORTER_OTLP_ENDPOINT"),
        description="OTLP/HTTP collector for traces; unset keeps spans in-process only",
    )
    log_format: Literal["text", "json"] = Field(default="text", description="json: one structured object per line")

    @field_validator(
        "rate_limit_login_per_address",
        "rate_limit_login_failures_per_account",
        "rate_limit_api_per_key",
        "rate_limit_api_unauthenticated_per_address",
    )
    @classmethod
    def _rate_limit(cls, value: str) -> str:
        """A limit the ``limits`` library cannot read (``10/15 minutes`` it can) fails at start-up, not per request."""
        parse(value)
        return value

    @model_validator(mode="after")
    def _client_certificate_pair(self) -> "Settings":
        """A client certificate without its key (or the reverse) is a mistake to report at start-up, not at connect."""
        if (self.temporal_tls_cert_path is None) != (self.temporal_tls_key_path is None):
            raise ValueError("set both RINGFLOW_TEMPORAL_TLS_CERT_PATH and RINGFLOW_TEMPORAL_TLS_KEY_PATH, or neither")
        return self

    @property
    def livekit_sip_credentials(self) -> dict[str, str]:
        """``username``/``password`` for TwiML ``<Sip>`` when the inbound trunk authenticates, else nothing."""
        if self.livekit_sip_inbound_username and self.livekit_sip_inbound_password:
            return {"username": self.livekit_sip_inbound_username, "password": self.livekit_sip_inbound_password}
        return {}

    def missing_carrier_settings(self) -> list[str]:
        """The settings ``carrier`` cannot dial without, by their environment names (none for ``sim``)."""
        livekit = [
            ("RINGFLOW_LIVEKIT_URL", self.livekit_url),
            ("RINGFLOW_LIVEKIT_API_KEY", self.livekit_api_key),
            ("RINGFLOW_LIVEKIT_API_SECRET", self.livekit_api_secret),
        ]
        needed = {
            "sim": [],
            "livekit_sip": [*livekit, ("RINGFLOW_LIVEKIT_SIP_OUTBOUND_TRUNK_ID", self.livekit_sip_outbound_trunk_id)],
            "twilio": [
                ("RINGFLOW_TWILIO_ACCOUNT_SID", self.twilio_account_sid),
                ("RINGFLOW_TWILIO_AUTH_TOKEN", self.twilio_auth_token),
                ("RINGFLOW_TWILIO_FROM_NUMBER", self.twilio_from_number),
                ("RINGFLOW_PUBLIC_BASE_URL", self.public_base_url),
                *livekit,
                ("RINGFLOW_LIVEKIT_SIP_URI_HOST", self.livekit_sip_uri_host),
            ],
        }.get(self.carrier, [])
        return [env for env, value in needed if not value]

    @property
    def livekit_configured(self) -> bool:
        return bool(self.livekit_url and self.livekit_api_key and self.livekit_api_secret)

    @property
    def twilio_configured(self) -> bool:
        return bool(self.twilio_account_sid and self.twilio_auth_token)

    @property
    def sqlalchemy_url(self) -> str:
        """The async driver URL for SQLAlchemy: psycopg 3 for Postgres, aiosqlite for SQLite."""
        url = self.database_url or f"sqlite+aiosqlite:///{(self.data_dir / 'ringflow.db').resolve()}"
        for prefix in ("postgresql://", "postgres://", "postgresql+psycopg2://"):
            if url.startswith(prefix):
                return "postgresql+psycopg://" + url[len(prefix) :]
        if url.startswith("sqlite:///"):
            return "sqlite+aiosqlite:///" + url[len("sqlite:///") :]
        return url


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
