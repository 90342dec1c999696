"""Post-call analysis and results export, for the REST API, the dashboard and the CLI alike.

Re-running an analysis uses the same function as the workflows' activity (``infra/analysis.py``), with
the call's agent's current analysis config. The results export streams one CSV row per contact, safe
to open in a spreadsheet: a cell that a spreadsheet would read as a formula is prefixed with ``'``
(OWASP CSV injection), whoever wrote it, the callee included.
"""

import csv
import io
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from infra.analysis import analyse_call
from schemas.analysis import AnalysisConfig, CallAnalysis
from schemas.settings import Settings
from store import analyses, queries

FIXED_COLUMNS = (
    "campaign_id",
    "external_id",
    "phone",
    "name",
    "final_outcome",
    "final_reason",
    "attempts",
    "last_call_at",
    "summary",
)
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
EXPORT_BATCH = 1000


async def analysis_config_of(session: AsyncSession, org_id: str, agent_name: str | None) -> AnalysisConfig:
    """The analysis config of the organization's agent, or the default one (no agent, or it was deleted)."""
    agent = await queries.get_agent(session, agent_name, org_id) if agent_name else None
    return agent.analysis if agent is not None else AnalysisConfig()


async def rerun_analysis(
    session: AsyncSession,
    settings: Settings,
    org_id: str,
    *,
    campaign_id: str,
    external_id: str,
    attempt: int,
    agent_name: str | None,
    outcome: str | None,
) -> CallAnalysis:
    """Analyse a past call again with its agent's current config; it replaces the stored analysis.
    The caller has checked that the call is the organization's."""
    config = await analysis_config_of(session, org_id, agent_name)
    analysis = await analyse_call(session, settings, campaign_id, external_id, attempt, config, outcome)
    await session.commit()
    return analysis


class NoSuchCampaignError(LookupError):
    pass


def safe_cell(value: Any) -> str:
    """The cell as text, with a leading ``'`` if a spreadsheet would take it for a formula."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def _line(cells: list[Any]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer).writerow([safe_cell(cell) for cell in cells])
    return buffer.getvalue()


async def results_csv(sessions: async_sessionmaker[AsyncSession], org_id: str, campaign_id: str) -> AsyncIterator[str]:
    """The campaign's results as CSV lines, a header first; rows are read and written a batch at a time,
    so a campaign of any size streams. Raises :class:`NoSuchCampaignError` before the first line for a
    campaign that is not the organization's (``org_id`` None: the CLI, any organization's)."""
    async with sessions() as session:
        campaign = await queries.get_campaign(session, campaign_id, org_id)
        if campaign is None:
            raise NoSuchCampaignError(campaign_id)
        # By name: a JSONB document (Postgres) does not keep the order the fields were written in.
        fields = sorted((await analysis_config_of(session, campaign.org_id, campaign.agent_name)).fields)
    return _results_lines(sessions, campaign_id, fields)


async def _results_lines(
    sessions: async_sessionmaker[AsyncSession], campaign_id: str, fields: list[str]
) -> AsyncIterator[str]:
    yield _line([*FIXED_COLUMNS, *fields])
    async with sessions() as session:
        async for row in analyses.campaign_results(session, campaign_id, batch=EXPORT_BATCH):
            analysis = row.analysis or {}
            extracted = analysis.get("extracted") or {}
            yield _line(
                [
                    campaign_id,
                    row.external_id,
                    row.phone,
                    row.name,
                    row.final_outcome,
                    row.final_reason,
                    row.attempts,
                    row.last_call_at,
                    analysis.get("summary", ""),
                    *(extracted.get(name) for name in fields),
                ]
            )
