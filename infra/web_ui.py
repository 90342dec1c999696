"""Links into the Temporal Web UI, for the API, the dashboard and the CLI."""

from urllib.parse import quote

from schemas.settings import Settings


def workflow_ui_url(settings: Settings, workflow_id: str) -> str:
    """Where the Temporal Web UI (2.x) shows one workflow."""
    ui = settings.temporal_ui_url.rstrip("/")
    namespace = quote(settings.temporal_namespace, safe="")
    return f"{ui}/namespaces/{namespace}/workflows/{quote(workflow_id, safe='')}"
