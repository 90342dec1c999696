"""The one way Ringflow words Pydantic's validation errors, for the API, the CLI and the import reports."""

from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import ValidationError


def describe_validation_error(error: ValidationError | Sequence[Mapping[str, Any]]) -> str:
    """Pydantic's errors as one line, ``where: what`` per error, joined by ``; ``.

    ``where`` is the dotted location (``body.contacts.2.phone``, ``retry.max_attempts``); Pydantic's
    "Value error, " prefix and documentation links are dropped. A message about a top-level field that
    already names it ("external id is empty") or starts with the quoted value ("'123' is not a phone
    number") reads as one phrase with the field instead of repeating it.
    """
    details = error.errors() if isinstance(error, ValidationError) else error
    parts: list[str] = []
    for detail in details:
        message = str(detail.get("msg", "invalid")).removeprefix("Value error, ")
        location = [str(part) for part in detail.get("loc", ())]
        where = ".".join(location)
        if not where:
            parts.append(message)
        elif len(location) == 1 and message.startswith("'"):
            parts.append(f"{where} {message}")
        elif len(location) == 1 and (where in message or where.replace("_", " ") in message):
            parts.append(message)
        else:
            parts.append(f"{where}: {message}")
    return "; ".join(parts) or "invalid"
