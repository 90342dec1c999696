"""Which carrier this worker dials through, chosen by ``Settings.carrier``.

The worker process composes the carrier; the provider SDKs (LiveKit, Twilio) load only when chosen.
"""

from schemas.settings import Settings
from simulator.carrier import AgentCall, SimCarrier
from telephony.base import Carrier


def make_carrier(settings: Settings, *, agent_call: AgentCall | None = None) -> Carrier:
    """The carrier ``settings.carrier`` names, configured from ``settings``.

    ``agent_call`` lets the sim carrier hand answered calls that have an agent to the real agent.
    """
    if settings.carrier == "sim":
        return SimCarrier(
            time_scale=settings.sim_time_scale,
            ledger_path=settings.sim_ledger_path,
            agent_call=agent_call,
        )
    if settings.carrier == "livekit_sip":
        missing = [
            env
            for env, value in (
                ("RINGFLOW_LIVEKIT_URL", settings.livekit_url),
                ("RINGFLOW_LIVEKIT_API_KEY", settings.livekit_api_key),
                ("RINGFLOW_LIVEKIT_API_SECRET", settings.livekit_api_secret),
                ("RINGFLOW_LIVEKIT_SIP_OUTBOUND_TRUNK_ID", settings.livekit_sip_outbound_trunk_id),
            )
            if not value
        ]
        if missing:
            raise ValueError(f"carrier 'livekit_sip' needs {', '.join(missing)}")
        from telephony.livekit_sip import LiveKitSipCarrier  # imports livekit-api only when chosen

        return LiveKitSipCarrier(settings)
    if settings.carrier == "twilio":
        missing = [
            env
            for env, value in (
                ("RINGFLOW_TWILIO_ACCOUNT_SID", settings.twilio_account_sid),
                ("RINGFLOW_TWILIO_AUTH_TOKEN", settings.twilio_auth_token),
                ("RINGFLOW_TWILIO_FROM_NUMBER", settings.twilio_from_number),
                ("RINGFLOW_PUBLIC_BASE_URL", settings.public_base_url),
                ("RINGFLOW_LIVEKIT_URL", settings.livekit_url),
                ("RINGFLOW_LIVEKIT_API_KEY", settings.livekit_api_key),
                ("RINGFLOW_LIVEKIT_API_SECRET", settings.livekit_api_secret),
                ("RINGFLOW_LIVEKIT_SIP_URI_HOST", settings.livekit_sip_uri_host),
            )
            if not value
        ]
        if missing:
            raise ValueError(f"carrier 'twilio' needs {', '.join(missing)}")
        from telephony.twilio_carrier import TwilioCarrier  # imports the Twilio SDK and livekit-api only when chosen

        return TwilioCarrier(settings)
    raise ValueError(f"unknown carrier {settings.carrier!r}: use sim, livekit_sip or twilio")
