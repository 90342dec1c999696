"""Carriers that place real calls (``livekit_sip``, ``twilio``) and Twilio number management.

Importing this package stays light (no provider SDKs). The worker picks a carrier with
:func:`worker.carriers.make_carrier`; the simulated one lives in :mod:`simulator`.
"""

from telephony.base import CALL_LOST_DETAIL, Carrier, DialPacer

__all__ = ["CALL_LOST_DETAIL", "Carrier", "DialPacer"]
