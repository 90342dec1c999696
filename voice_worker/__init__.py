"""The LiveKit voice agent: its tools act only through the call's workflow."""
