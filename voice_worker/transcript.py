"""Collects what was said in a session into TranscriptSegments and ships them to the workflow in batches."""

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime

from livekit.agents import AgentSession
from livekit.agents.voice.events import ConversationItemAddedEvent

from schemas.agent import TranscriptSegment
from voice_worker.bridge import BridgeError, CallBridge

log = logging.getLogger(__name__)

SPEAKERS = {"assistant": "agent", "user": "callee"}


class TranscriptCollector:
    """Listens to ``conversation_item_added`` (final messages only, in the order they entered the chat).

    ``flush()`` sends what is pending; on a BridgeError the segments stay pending and go with the next
    flush, so a workflow hiccup loses nothing and order is kept.
    """

    def __init__(self, bridge: CallBridge, clock: Callable[[], datetime]) -> None:
        self._bridge = bridge
        self._clock = clock
        self.segments: list[TranscriptSegment] = []
        self._pending: list[TranscriptSegment] = []
        self._lock = asyncio.Lock()

    def attach(self, session: AgentSession) -> None:
        session.on("conversation_item_added", self._on_item)

    def detach(self, session: AgentSession) -> None:
        session.off("conversation_item_added", self._on_item)

    def _on_item(self, event: ConversationItemAddedEvent) -> None:
        item = event.item
        if getattr(item, "type", None) != "message" or item.role not in SPEAKERS:
            return
        text = (item.text_content or "").strip()
        if not text:
            return
        segment = TranscriptSegment(speaker=SPEAKERS[item.role], text=text, started_at=self._clock())
        self.segments.append(segment)
        self._pending.append(segment)

    async def flush(self) -> None:
        async with self._lock:
            if not self._pending:
                return
            batch, self._pending = self._pending, []
            try:
                await self._bridge.append_transcript(batch)
            except BridgeError as exc:
                log.warning("transcript batch not delivered, will retry: %s", exc)
                self._pending = batch + self._pending

    async def run_periodic(self, interval: float = 2.0) -> None:
        """Flush every ``interval`` seconds until cancelled, then a last time."""
        try:
            while True:
                await asyncio.sleep(interval)
                await self.flush()
        finally:
            with contextlib.suppress(Exception):
                await asyncio.shield(self.flush())
