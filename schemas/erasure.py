"""What erasing one person answers: how much of their data was found and destroyed."""

from pydantic import BaseModel, Field


class PersonErased(BaseModel):
    phone: str = Field(description="The number erased (E.164), as the request gave it")
    erased: dict[str, int] = Field(
        description="Rows deleted per table (contacts, call_attempts, callbacks, notes, shared_information, "
        "transcript_segments, inbound_calls, ...); a table with nothing of the person shows 0"
    )
    workflows_terminated: int = Field(description="The person's workflows that were still running, now terminated")
    data_keys_destroyed: int = Field(
        description="Data keys destroyed: the payloads they sealed in Temporal histories can no longer be decrypted"
    )
    do_not_call_hashed: bool = Field(
        description="The number was on the do-not-call list and stays there, as a keyed hash only"
    )
