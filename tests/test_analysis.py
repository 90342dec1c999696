"""Post-call analysis: the offline analyser on real transcripts, the OpenAI path against a local stand-in
speaking the chat-completions protocol, the analysis config's validation, and the results export's CSV."""

import csv
import io
import json
from datetime import UTC, datetime

import pytest
from aiohttp import web
from pydantic import ValidationError

from api.services.analysis import FIXED_COLUMNS, results_csv, safe_cell
from infra.analysis import OFFLINE, analyse_call, offline_analysis, response_schema
from schemas.agent import AgentConfig, TranscriptSegment
from schemas.analysis import AnalysisConfig, CallAnalysis
from schemas.settings import Settings
from store import analyses, queries
from store.models import ContactRow

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
CONFIG = AnalysisConfig.model_validate(
    {
        "fields": {
            "budget": {"type": "number", "description": "monthly budget"},
            "company_size": {"type": "integer", "description": "employees, team size"},
            "interested": {"type": "boolean", "description": "interested in the offer"},
            "email": {"type": "string", "description": "where to send the offer"},
        },
        "tags": [{"name": "pricing", "description": "price cost budget"}, "competitor"],
    }
)


def said(*lines: tuple[str, str]) -> list[TranscriptSegment]:
    return [TranscriptSegment(speaker=speaker, text=text, started_at=NOW) for speaker, text in lines]


QUALIFIES = said(
    ("agent", "Hi, this is Sam from Ringflow. Do you have a minute?"),
    ("callee", "Hi, yes, speaking."),
    ("agent", "How big is your team, and what is your monthly budget?"),
    ("callee", "We have 40 employees and a budget of around 5,000 a month, and I'm interested."),
    ("agent", "Where should I send the offer?"),
    ("callee", "Send it to jo@example.com please."),
)


def test_offline_analysis_extracts_typed_fields_tags_and_a_summary_from_the_callees_lines() -> None:
    analysis = offline_analysis(CONFIG, QUALIFIES, "qualified", NOW)
    assert analysis.extracted == {"budget": 5000.0, "company_size": 40, "interested": True, "email": "jo@example.com"}
    assert analysis.tags == ["pricing"]
    assert analysis.summary.startswith("The callee said: Hi, yes, speaking. We have 40 employees")
    assert (analysis.success, analysis.success_reason) == (True, "the call's outcome is qualified")
    assert analysis.analyser == OFFLINE


def test_offline_analysis_judges_success_by_the_rubric_words_and_reads_a_no() -> None:
    config = CONFIG.model_copy(update={"success_rubric": "the callee states a budget"})
    declined = said(("agent", "Are you interested in the offer?"), ("callee", "No, not interested, thanks."))
    analysis = offline_analysis(config, declined, "completed", NOW)
    assert analysis.extracted == {"interested": False}
    assert analysis.success is False and analysis.suggested_disposition is None
    assert offline_analysis(config, QUALIFIES, "completed", NOW).success is True
    interested = config.model_copy(update={"success_rubric": "the callee is interested"})
    assert offline_analysis(interested, declined, "completed", NOW).success is False, "'not interested' is no pass"
    passed = offline_analysis(interested, QUALIFIES, "completed", NOW)
    assert (passed.success, passed.success_reason) == (True, "the callee said interested")


def test_a_yes_to_something_else_is_not_taken_for_the_boolean_field() -> None:
    talk = said(
        ("agent", "Do you have a minute?"),
        ("callee", "Sure, I have a minute."),
        ("agent", "Would the offer interest you?"),
        ("callee", "Thanks, I'll think about it."),
    )
    assert "interested" not in offline_analysis(CONFIG, talk, "completed", NOW).extracted


def test_values_of_the_wrong_type_are_dropped_from_the_extraction() -> None:
    kept = CONFIG.coerce({"budget": "a lot", "company_size": 12.0, "interested": "yes", "email": 3, "other": 1})
    assert kept == {"company_size": 12}


def test_the_analysis_config_refuses_bad_names_and_too_many_fields() -> None:
    with pytest.raises(ValidationError, match="not a valid name"):
        AnalysisConfig.model_validate({"fields": {"monthly budget": {"type": "number"}}})
    with pytest.raises(ValidationError, match="at most 20 fields"):
        AnalysisConfig.model_validate({"fields": {f"f{i}": {"type": "string"} for i in range(21)}})
    with pytest.raises(ValidationError):
        AnalysisConfig.model_validate({"fields": {"size": {"type": "array"}}})
    with pytest.raises(ValidationError, match="unique"):
        AnalysisConfig.model_validate({"tags": ["a", {"name": "a"}]})
    agent = AgentConfig.model_validate({"name": "sam", "instructions": "x", "analysis": {"tags": ["vip"]}})
    assert agent.analysis.tags[0].name == "vip" and agent.analysis.summary is True


@pytest.fixture
async def openai_standin():
    """A local HTTP server answering /v1/chat/completions like OpenAI, recording each request's body."""
    requests: list[dict] = []

    async def completions(request: web.Request) -> web.Response:
        requests.append(await request.json())
        content = {
            "summary": "Jo runs a team of 40 and has 5,000 a month to spend.",
            "extracted": {"budget": 5000, "company_size": "forty", "interested": True, "email": None},
            "success": True,
            "success_reason": "a budget was stated",
            "tags": ["pricing", "invented"],
        }
        return web.json_response(
            {
                "id": "chatcmpl-1",
                "object": "chat.completion",
                "created": 0,
                "model": "gpt-4.1-mini",
                "choices": [
                    {
                        "index": 0,
                        "finish_reason": "stop",
                        "message": {"role": "assistant", "content": json.dumps(content)},
                    }
                ],
            }
        )

    app = web.Application()
    app.router.add_post("/v1/chat/completions", completions)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield f"http://127.0.0.1:{port}/v1", requests
    await runner.cleanup()


async def test_with_a_key_the_analysis_uses_openai_structured_outputs_with_the_configs_schema(
    openai_standin, session_factory
) -> None:
    base_url, requests = openai_standin
    settings = Settings(openai_api_key="sk-test", openai_base_url=base_url)
    async with session_factory() as session:
        await queries.append_transcript(session, "c-ai", "p1", 1, 0, QUALIFIES)
        analysis = await analyse_call(session, settings, "c-ai", "p1", 1, CONFIG, "qualified")
        await session.commit()
        stored = await analyses.analysis_of_call(session, "c-ai", "p1", 1)
    sent = requests[0]
    assert sent["model"] == "gpt-4.1-mini"
    assert sent["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "call_analysis", "strict": True, "schema": response_schema(CONFIG)},
    }
    assert sent["response_format"]["json_schema"]["schema"]["properties"]["extracted"]["properties"]["budget"] == {
        "type": ["number", "null"],
        "description": "monthly budget",
    }
    assert "jo@example.com" in sent["messages"][1]["content"], "the transcript read from the store is sent"
    assert analysis.extracted == {"budget": 5000, "interested": True}, "a value of the wrong type is dropped"
    assert analysis.tags == ["pricing"], "a tag outside the config is dropped"
    assert analysis.analyser == "openai:gpt-4.1-mini" and stored == analysis


async def test_a_call_analysed_again_keeps_one_analysis_the_latest(session_factory) -> None:
    async with session_factory() as session:
        await queries.append_transcript(session, "c-again", "p1", 1, 0, QUALIFIES)
        await analyse_call(session, Settings(), "c-again", "p1", 1, AnalysisConfig(), "completed")
        await analyse_call(session, Settings(), "c-again", "p1", 1, CONFIG, "completed")
        await session.commit()
        stored = await analyses.analysis_of_call(session, "c-again", "p1", 1)
        assert stored is not None and stored.extracted["company_size"] == 40
        assert await analyses.latest_of_contact(session, "c-again", "p1") == stored


def test_cells_a_spreadsheet_would_run_as_formulas_get_a_leading_apostrophe() -> None:
    for hostile in ('=HYPERLINK("http://x")', "+1+1", "-2+3", "@SUM(A1)", "\tcmd", "\rcmd"):
        assert safe_cell(hostile) == "'" + hostile
    assert safe_cell("+14155550100") == "'+14155550100"
    assert (safe_cell("plain"), safe_cell(None), safe_cell(40)) == ("plain", "", "40")


async def _campaign_with_contacts(session_factory, campaign_id: str, count: int, agent: AgentConfig) -> None:
    from schemas.campaign import CampaignSettings

    async with session_factory() as session:
        await queries.save_agent(session, agent, "org-x")
        await queries.create_campaign(
            session, campaign_id, "results", CampaignSettings(), org_id="org-x", agent_name=agent.name
        )
        await session.execute(
            ContactRow.__table__.insert(),
            [
                {
                    "campaign_id": campaign_id,
                    "external_id": f"p{i}",
                    "name": "=cmd|' /C calc'!A0" if i == 0 else f"Person {i}",
                    "phone": f"+1415555{i:04d}",
                    "timezone": "UTC",
                    "attributes": {},
                    "seq": i,
                    "status": "finished",
                    "final_outcome": "qualified",
                    "final_reason": "@evil" if i == 0 else "ok",
                    "attempts": 1,
                    "priority": 0,
                    "updated_at": NOW,
                }
                for i in range(count)
            ],
        )
        analysis = CallAnalysis(
            summary="-said: =1+1", extracted={"budget": 5000.0, "company_size": 40}, analyser=OFFLINE, created_at=NOW
        )
        await analyses.store_analysis(session, campaign_id, "p0", 1, analysis)
        await session.commit()


async def test_results_have_one_column_per_extracted_field_and_neutralise_formulas(session_factory) -> None:
    agent = AgentConfig(name="sam", instructions="x", analysis=CONFIG)
    await _campaign_with_contacts(session_factory, "c-results", 2, agent)
    lines = [line async for line in await results_csv(session_factory, "org-x", "c-results")]
    rows = list(csv.reader(io.StringIO("".join(lines))))
    assert rows[0] == [*FIXED_COLUMNS, "budget", "company_size", "email", "interested"], "fields by name"
    first = dict(zip(rows[0], rows[1], strict=True))
    assert first["name"] == "'=cmd|' /C calc'!A0" and first["final_reason"] == "'@evil"
    assert first["summary"] == "'-said: =1+1" and first["phone"] == "'+14155550000"
    assert (first["budget"], first["company_size"], first["interested"]) == ("5000.0", "40", "")
    assert rows[2][1] == "p1" and rows[2][8] == "", "a contact without an analysis has an empty summary"
    with pytest.raises(LookupError):
        await results_csv(session_factory, "another-org", "c-results")


async def test_ten_thousand_contacts_stream_in_batches(session_factory, monkeypatch) -> None:
    from api.services import analysis

    await _campaign_with_contacts(session_factory, "c-big", 10_000, AgentConfig(name="big", instructions="x"))
    batches: list[int] = []
    original = analyses.campaign_results

    async def recorded(session, campaign_id, *, batch):
        batches.append(batch)
        async for row in original(session, campaign_id, batch=batch):
            yield row

    monkeypatch.setattr(analysis.analyses, "campaign_results", recorded)
    count = 0
    async for _ in await results_csv(session_factory, "org-x", "c-big"):
        count += 1
    assert count == 10_001 and batches == [analysis.EXPORT_BATCH]
