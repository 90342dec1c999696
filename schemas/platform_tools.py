"""Platform tools: ready-made HTTP tools on an OAuth connection, for what agents do most with a calendar and a
CRM. Google Calendar: check availability (free/busy) and book an appointment (an event); HubSpot: find a contact
by phone, create one, and log the call on a contact. Each is an ordinary HTTP tool (``schemas.tools.HttpTool``)
with ``auth: {"kind": "oauth", "connection": NAME}``, made by ``POST /v1/connections/{name}/tools``. docs/tools.md.
"""

from pydantic import BaseModel, ConfigDict, Field

from schemas.connections import Provider
from schemas.tools import AuthKind, HttpMethod, HttpTool, ToolAuth

API_BASE_URLS = {Provider.GOOGLE_CALENDAR: "https://www.googleapis.com", Provider.HUBSPOT: "https://api.hubapi.com"}
HUBSPOT_CALL_TO_CONTACT = 194
"""HubSpot's association type id of a call to a contact."""


class PlatformToolsRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kit: Provider | None = Field(
        default=None, description="Whose tools: google_calendar or hubspot (unset: the connection's provider)"
    )
    api_base_url: str | None = Field(
        default=None,
        pattern=r"^https?://[^/\s]+$",
        description="The API's scheme and host, for a proxy or a compatible service (unset: the provider's own)",
    )


def _string(description: str) -> dict[str, str]:
    return {"type": "string", "description": description}


def _parameters(required: list[str], **properties: dict[str, str]) -> dict[str, object]:
    return {"type": "object", "properties": properties, "required": required}


def platform_tools(kit: Provider, connection: str, api_base_url: str | None = None) -> list[HttpTool]:
    """The kit's tools on ``connection``; a generic provider has none."""
    base = (api_base_url or API_BASE_URLS.get(kit, "")).rstrip("/")
    auth = ToolAuth(kind=AuthKind.OAUTH, connection=connection)

    def post(
        name: str, description: str, path: str, parameters: dict[str, object], body: dict, fields: list[str]
    ) -> HttpTool:
        """Every platform tool POSTs a JSON body to its API on the connection's token."""
        return HttpTool(
            name=name,
            description=description,
            method=HttpMethod.POST,
            url=f"{base}{path}",
            parameters=parameters,
            body=body,
            response_fields=fields,
            auth=auth,
        )

    match kit:
        case Provider.GOOGLE_CALENDAR:
            return [
                post(
                    "calendar_free_busy",
                    "The busy periods of the calendar between two times: book only outside them",
                    "/calendar/v3/freeBusy",
                    _parameters(
                        ["time_min", "time_max"],
                        time_min=_string("RFC 3339 start, e.g. 2026-12-01T09:00:00Z"),
                        time_max=_string("RFC 3339 end"),
                    ),
                    {"timeMin": "{time_min}", "timeMax": "{time_max}", "items": [{"id": "primary"}]},
                    ["calendars.primary.busy"],
                ),
                post(
                    "calendar_book",
                    "Book an appointment on the calendar once the caller agreed to a time",
                    "/calendar/v3/calendars/primary/events",
                    _parameters(
                        ["summary", "start", "end"],
                        summary=_string("What the appointment is, with the caller's name"),
                        start=_string("RFC 3339 start"),
                        end=_string("RFC 3339 end"),
                        description=_string("Notes for the appointment"),
                    ),
                    {
                        "summary": "{summary}",
                        "description": "{description}",
                        "start": {"dateTime": "{start}"},
                        "end": {"dateTime": "{end}"},
                    },
                    ["id", "status", "start.dateTime"],
                ),
            ]
        case Provider.HUBSPOT:
            return [
                post(
                    "hubspot_find_contact",
                    "Find the CRM contact with this phone number",
                    "/crm/v3/objects/contacts/search",
                    _parameters(["phone"], phone=_string("E.164 phone number")),
                    {
                        "filterGroups": [
                            {"filters": [{"propertyName": "phone", "operator": "EQ", "value": "{phone}"}]}
                        ],
                        "properties": ["firstname", "lastname", "email", "phone"],
                    },
                    ["total", "results.0.id", "results.0.properties"],
                ),
                post(
                    "hubspot_create_contact",
                    "Create a CRM contact for a caller who has none",
                    "/crm/v3/objects/contacts",
                    _parameters(
                        ["phone"],
                        phone=_string("E.164 phone number"),
                        first_name=_string("Given name"),
                        last_name=_string("Family name"),
                        email=_string("Email address"),
                    ),
                    {
                        "properties": {
                            "phone": "{phone}",
                            "firstname": "{first_name}",
                            "lastname": "{last_name}",
                            "email": "{email}",
                        }
                    },
                    ["id"],
                ),
                post(
                    "hubspot_log_call",
                    "Log this call, with a summary, on the CRM contact",
                    "/crm/v3/objects/calls",
                    _parameters(
                        ["contact_id", "timestamp", "summary"],
                        contact_id=_string("The contact's CRM id"),
                        timestamp=_string("RFC 3339 time of the call"),
                        summary=_string("What was said and agreed"),
                    ),
                    {
                        "properties": {
                            "hs_timestamp": "{timestamp}",
                            "hs_call_body": "{summary}",
                            "hs_call_direction": "OUTBOUND",
                            "hs_call_status": "COMPLETED",
                        },
                        "associations": [
                            {
                                "to": {"id": "{contact_id}"},
                                "types": [
                                    {
                                        "associationCategory": "HUBSPOT_DEFINED",
                                        "associationTypeId": HUBSPOT_CALL_TO_CONTACT,
                                    }
                                ],
                            }
                        ],
                    },
                    ["id"],
                ),
            ]
        case Provider.GENERIC:
            return []
