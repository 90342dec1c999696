"""``ringflow campaign results`` against a throwaway SQLite store, and the analysis printed under a demo
conversation."""

import asyncio
import csv
import io
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from cli.app import app
from cli.progress import print_conversations
from cli.stack import DEMO_AGENT
from schemas.agent import AgentConfig, TranscriptSegment
from schemas.analysis import CallAnalysis
from schemas.campaign import CampaignSettings
from schemas.settings import get_settings
from store import analyses, queries
from store.db import get_session_factory
from store.models import ContactRow

runner = CliRunner()
NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A migrated SQLite store holding campaign ``c-res`` of the demo agent: one contact analysed, one not."""
    monkeypatch.delenv("RINGFLOW_DATABASE_URL", raising=False)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'results.db'}")
    monkeypatch.setenv("RINGFLOW_DATA_DIR", str(tmp_path / "data"))
    get_settings.cache_clear()
    assert runner.invoke(app, ["agent", "import", str(DEMO_AGENT)]).exit_code == 0  # migrates the store too
    asyncio.run(_seed(get_settings().sqlalchemy_url))
    yield get_settings().sqlalchemy_url
    get_settings.cache_clear()


async def _seed(url: str) -> None:
    sessions = get_session_factory(url)
    agent = AgentConfig.model_validate_json(DEMO_AGENT.read_text(encoding="utf-8"))
    async with sessions() as session:
        await queries.create_campaign(session, "c-res", "results", CampaignSettings(), agent_name=agent.name)
        for seq, (external_id, name) in enumerate([("p1", "Jo"), ("p2", "=2+3")]):
            await session.execute(
                ContactRow.__table__.insert().values(
                    campaign_id="c-res",
                    external_id=external_id,
                    name=name,
                    phone="+442079460001",
                    timezone="UTC",
                    attributes={},
                    seq=seq,
                    status="finished",
                    final_outcome="qualified",
                    final_reason="qualified lead",
                    attempts=1,
                    priority=0,
                    updated_at=NOW,
                )
            )
        line = TranscriptSegment(speaker="callee", text="We have 40 employees.", started_at=NOW)
        await queries.append_transcript(session, "c-res", "p1", 1, 0, [line])
        analysis = CallAnalysis(
            summary="The callee said: We have 40 employees.",
            extracted={"company_size": 40, "interested": True},
            success=True,
            success_reason="the call's outcome is qualified",
            tags=["pricing"],
            analyser="offline",
            created_at=NOW,
        )
        await analyses.store_analysis(session, "c-res", "p1", 1, analysis)
        await session.commit()


def test_campaign_results_print_csv_to_stdout_or_write_a_file(store: str, tmp_path: Path) -> None:
    printed = runner.invoke(app, ["campaign", "results", "c-res"])
    assert printed.exit_code == 0, printed.output
    rows = list(csv.DictReader(io.StringIO(printed.stdout)))
    assert [row["external_id"] for row in rows] == ["p1", "p2"]
    assert (rows[0]["company_size"], rows[0]["interested"], rows[0]["budget"]) == ("40", "True", "")
    assert rows[1]["name"] == "'=2+3", "a formula from the list is neutralised"

    target = tmp_path / "out.csv"
    written = runner.invoke(app, ["campaign", "results", "c-res", "-o", str(target)])
    assert written.exit_code == 0 and "2 contact(s) written" in written.stdout
    assert target.read_text(encoding="utf-8") == printed.stdout

    missing = runner.invoke(app, ["campaign", "results", "c-nope"])
    assert missing.exit_code == 1 and "no campaign 'c-nope'" in missing.stderr


def test_the_demo_prints_the_analysis_under_each_conversation(store: str) -> None:
    console = Console(record=True, width=200)
    assert asyncio.run(print_conversations(console, get_session_factory(store), "c-res")) == 1
    text = console.export_text()
    assert "summary The callee said: We have 40 employees." in text
    assert "fields  company_size=40, interested=True" in text
    assert "success pass (the call's outcome is qualified)" in text and "tags    pricing" in text
