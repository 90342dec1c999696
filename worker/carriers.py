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
            fault=settings.sim_fault,
        )
    missing = settings.missing_carrier_settings()
    if missing:
        raise ValueError(f"carrier {settings.carrier!r} needs {', '.join(missing)}")
    if settings.carrier == "livekit_sip":
        from telephony.livekit_sip import LiveKitSipCarrier  # imports livekit-api only when chosen

        return LiveKitSipCarrier(settings)
    if settings.carrier == "twilio":
        from telephony.twilio_carrier import TwilioCarrier  # imports the Twilio SDK and livekit-api only when chosen

        return TwilioCarrier(settings)
    raise ValueError(f"unknown carrier {settings.carrier!r}: use sim, livekit_sip or twilio")
