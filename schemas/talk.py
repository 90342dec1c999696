"""Talking to an agent from the dashboard: the web call's and the text chat's request and answer bodies."""

from pydantic import BaseModel, Field

from schemas.agent import TranscriptSegment

MAX_CHAT_MESSAGE_LENGTH = 2000


class TalkRequest(BaseModel):
    phone: str = Field(
        min_length=1,
        max_length=32,
        description="Your number, E.164: who the agent is talking to, and where a callback it books rings",
    )


class WebCallStarted(BaseModel):
    call_id: str = Field(description="The call in GET /v1/calls/{call_id} (kind web)")
    room: str = Field(description="The call's LiveKit room, the agent dispatched into it")
    url: str = Field(description="The LiveKit server the browser connects to")
    token: str = Field(description="A participant token that may join this room only")
    identity: str


class ChatMessage(BaseModel):
    text: str = Field(min_length=1, max_length=MAX_CHAT_MESSAGE_LENGTH, description="What you say to the agent")


class ChatReply(BaseModel):
    said: list[TranscriptSegment] = Field(description="What the agent said since your last message, in order")
    tools: list[str] = Field(description="The tools the agent used in this turn, in order")
    ended: bool = Field(description="The agent ended the chat; its call is finished")
    end_reason: str | None = None


class ChatStarted(ChatReply):
    session_id: str = Field(description="Send messages to /v1/agents/{name}/chat/{session_id}/messages")
    call_id: str = Field(description="The call in GET /v1/calls/{call_id} (kind test)")
