"""Post-call analysis: what an agent's config asks of each connected call (a summary, fields to extract,
a success rubric, tags) and what an analysis found."""

import re
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

MAX_FIELDS = 20
MAX_TAGS = 30
SUMMARY_MAX_LENGTH = 600
"""A summary is a few sentences: the callee's key lines, or the model's."""

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,39}$")


class FieldType(StrEnum):
    NUMBER = "number"
    INTEGER = "integer"
    STRING = "string"
    BOOLEAN = "boolean"


class FieldSpec(BaseModel):
    """One field to extract: a small subset of JSON schema (a type and what it means)."""

    model_config = ConfigDict(extra="forbid")

    type: FieldType
    description: str = Field(default="", max_length=300)


class TagSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(pattern=_NAME.pattern, description="Identifier-like: letters, digits, underscores")
    description: str = Field(default="", max_length=300, description="When the tag applies; its words are matched")


def _check_name(name: str) -> str:
    if not _NAME.match(name):
        raise ValueError(
            f"{name!r} is not a valid name: letters, digits and underscores, at most 40, not a digit first"
        )
    return name


class AnalysisConfig(BaseModel):
    """What to learn from each connected call of an agent's."""

    model_config = ConfigDict(extra="forbid")

    summary: bool = Field(default=True, description="Write a short summary of the call")
    fields: dict[str, FieldSpec] = Field(
        default_factory=dict, description=f"Fields to extract by name (at most {MAX_FIELDS})"
    )
    success_rubric: str = Field(
        default="", max_length=1000, description="What makes the call a success (pass/fail); empty: by its outcome"
    )
    tags: list[TagSpec] = Field(default_factory=list, description=f"Tags a call may get (at most {MAX_TAGS})")

    @field_validator("fields")
    @classmethod
    def _fields(cls, value: dict[str, FieldSpec]) -> dict[str, FieldSpec]:
        if len(value) > MAX_FIELDS:
            raise ValueError(f"at most {MAX_FIELDS} fields")
        for name in value:
            _check_name(name)
        return value

    @field_validator("tags", mode="before")
    @classmethod
    def _tags(cls, value: Any) -> Any:
        """A tag is its name alone, or a name with a description."""
        if not isinstance(value, list):
            return value
        if len(value) > MAX_TAGS:
            raise ValueError(f"at most {MAX_TAGS} tags")
        tags = [{"name": tag} if isinstance(tag, str) else tag for tag in value]
        names = [tag.get("name") if isinstance(tag, dict) else getattr(tag, "name", None) for tag in tags]
        if len(set(names)) != len(names):
            raise ValueError("tag names must be unique")
        return tags

    def coerce(self, extracted: dict[str, Any]) -> dict[str, Any]:
        """Only the configured fields, each of its type: a value of the wrong type is dropped."""
        kept: dict[str, Any] = {}
        for name, spec in self.fields.items():
            value = extracted.get(name)
            if value is None:
                continue
            if spec.type == FieldType.BOOLEAN and isinstance(value, bool):
                kept[name] = value
            elif spec.type == FieldType.INTEGER and isinstance(value, int) and not isinstance(value, bool):
                kept[name] = value
            elif spec.type == FieldType.INTEGER and isinstance(value, float) and value.is_integer():
                kept[name] = int(value)
            elif spec.type == FieldType.NUMBER and isinstance(value, int | float) and not isinstance(value, bool):
                kept[name] = value
            elif spec.type == FieldType.STRING and isinstance(value, str) and value.strip():
                kept[name] = value.strip()[:500]
        return kept


class CallAnalysis(BaseModel):
    """What an analysis of one call found. It suggests; the call's workflow owns the outcome."""

    summary: str = Field(default="", max_length=SUMMARY_MAX_LENGTH)
    extracted: dict[str, Any] = Field(default_factory=dict, description="The configured fields found, by name")
    success: bool | None = Field(default=None, description="Whether the call met the rubric; None: not judged")
    success_reason: str = ""
    tags: list[str] = Field(default_factory=list)
    suggested_disposition: str | None = Field(
        default=None, description="A disposition the analysis would suggest; never applied to the call"
    )
    analyser: str = Field(description="'offline' or 'openai:<model>'")
    created_at: datetime


class AnalyzeCall(BaseModel):
    """The analysis activity's input: the call's key and the agent's analysis config; the transcript it
    reads from the store (bulk data never travels in workflow payloads)."""

    campaign_id: str
    external_id: str
    attempt: int
    outcome: str | None = Field(default=None, description="The call's outcome as its workflow decided it")
    config: AnalysisConfig


NOT_CONNECTED_OUTCOMES = frozenset({"no_answer", "busy", "failed", "invalid_number", "voicemail"})
"""Calls no one talked on: nothing to analyse."""
