"""``ringflow agent ...`` against a throwaway SQLite store, and the offline persona suite on the demo agent."""

import asyncio
import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.agents import build_agent_config
from cli.app import app
from cli.stack import DEMO_AGENT
from schemas.agent import OFF_UNTIL_SWITCHED_ON, AgentConfig, AgentTool, Language, ModelMode
from schemas.dispositions import Disposition, NextStep, with_defaults
from schemas.outcomes import FinalOutcome
from schemas.settings import get_settings
from simulator.evaluation import PERSONA_EXPECTATIONS, EvalBridge, evaluate_agent, evaluate_persona
from simulator.personas import PERSONA_LINES
from simulator.slot_service import SLOT_TOOL, SlotService
from store import audit
from store.db import dispose_cached_engines, get_session_factory
from store.models import DEFAULT_ORG_ID
from voice_worker.bridge import BridgeError

runner = CliRunner()


def _flat(text: str) -> str:
    """Output without rich's box drawing and line wrapping, so assertions read whole sentences."""
    return re.sub(r"\s+", " ", re.sub(r"[│┃╭╮╰╯─━┏┓┗┛┡┩└┘┌┐╇┳┻╋┼├┤]", " ", text)).strip()


@pytest.fixture
def store(cli_store_url: str) -> Path:
    """DATABASE_URL points at a fresh SQLite file for the duration of the test."""
    return Path(cli_store_url.removeprefix("sqlite:///"))


def ringflow(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, _flat(result.stdout), _flat(result.stderr)


# ---- create / list / show / delete ------------------------------------------------------------------


def test_create_list_show_delete(store: Path) -> None:
    code, out, err = ringflow(
        "agent",
        "create",
        "ana",
        "--instructions",
        "You call about invoices.",
        "--greeting",
        "Hello!",
        "--disclosure",
        "This call is recorded and I am an AI assistant.",
        "--language",
        "ar",
        "--mode",
        "realtime",
        "--voice",
        "verse",
        "--context-json",
        '{"company": "Acme", "plan": "gold"}',
        "--disable-tool",
        "take_note",
        "--disable-tool",
        "get_current_time",
        "--transfer-number",
        "+44 20 7946 0002",
    )
    assert code == 0, err
    assert "agent ana saved" in out
    assert store.exists()

    code, out, err = ringflow("agent", "show", "ana")
    assert code == 0, err
    shown = AgentConfig.model_validate_json(runner.invoke(app, ["agent", "show", "ana"]).stdout)
    assert shown.language == Language.ARABIC and shown.model_mode == ModelMode.REALTIME
    assert shown.voice == "verse" and shown.greeting == "Hello!"
    assert shown.disclosure == "This call is recorded and I am an AI assistant."
    assert shown.context == {"company": "Acme", "plan": "gold"}
    assert shown.transfer_number == "+442079460002"
    switched_off = {AgentTool.TAKE_NOTE, AgentTool.GET_CURRENT_TIME, AgentTool.SEARCH_KNOWLEDGE}
    no_departments = {AgentTool.ROUTE_TO_DEPARTMENT}
    assert shown.enabled_tools() == set(AgentTool) - switched_off - no_departments
    assert shown.active

    code, out, _ = ringflow("agent", "create", "zed", "--instructions", "Hi.", "--inactive")
    assert code == 0
    code, out, err = ringflow("agent", "list")
    assert code == 0, err
    assert out.index("ana") < out.index("zed")
    assert "ar realtime all except take_note, yes get_current_time, route_to_department" in out
    assert "zed en pipeline all except transfer_to_human, no route_to_department" in out

    code, out, err = ringflow("agent", "delete", "ana")
    assert code == 0, err
    assert "agent ana deleted" in out
    code, out, err = ringflow("agent", "show", "ana")
    assert code == 1
    assert err == "error: no agent named 'ana'"
    code, _, err = ringflow("agent", "delete", "ana")
    assert (code, err) == (1, "error: no agent named 'ana'")


def test_agent_edits_on_the_command_line_are_in_the_audit_log(store: Path) -> None:
    assert ringflow("agent", "create", "ana", "--instructions", "One.")[0] == 0
    assert ringflow("agent", "create", "ana", "--instructions", "Two.", "--replace")[0] == 0
    assert ringflow("agent", "delete", "ana")[0] == 0

    async def logged() -> list[tuple[str, str, str]]:
        async with get_session_factory(get_settings().sqlalchemy_url)() as session:
            rows, _ = await audit.events(session, DEFAULT_ORG_ID, limit=10, offset=0)
        await dispose_cached_engines()
        return [(row.actor, row.action, row.target) for row in rows]

    assert asyncio.run(logged()) == [
        ("cli", "agent.delete", "ana"),
        ("cli", "agent.update", "ana"),
        ("cli", "agent.create", "ana"),
    ]


def test_create_refuses_a_duplicate_unless_replace(store: Path) -> None:
    assert ringflow("agent", "create", "ana", "--instructions", "One.")[0] == 0
    code, _, err = ringflow("agent", "create", "ana", "--instructions", "Two.")
    assert code == 1
    assert "already exists: pass --replace" in err
    assert ringflow("agent", "create", "ana", "--instructions", "Two.", "--replace")[0] == 0
    assert json.loads(runner.invoke(app, ["agent", "show", "ana"]).stdout)["instructions"] == "Two."


def test_instructions_from_a_file(store: Path, tmp_path: Path) -> None:
    prompt = tmp_path / "prompt.txt"
    prompt.write_text("You are Lina.\nBe brief.\n", encoding="utf-8")
    assert ringflow("agent", "create", "lina", "--instructions-file", str(prompt))[0] == 0
    shown = AgentConfig.model_validate_json(runner.invoke(app, ["agent", "show", "lina"]).stdout)
    assert shown.instructions == "You are Lina.\nBe brief.\n"


def test_import_the_demo_agent_and_round_trip(store: Path, tmp_path: Path) -> None:
    code, out, err = ringflow("agent", "import", str(DEMO_AGENT))
    assert code == 0, err
    assert "agent sam-onboarding imported" in out
    code, out, _ = ringflow("agent", "import", str(DEMO_AGENT))
    assert "agent sam-onboarding replaced" in out

    exported = tmp_path / "sam.json"
    exported.write_text(runner.invoke(app, ["agent", "show", "sam-onboarding"]).stdout, encoding="utf-8")
    demo = AgentConfig.model_validate_json(DEMO_AGENT.read_text(encoding="utf-8"))
    assert AgentConfig.model_validate_json(exported.read_text(encoding="utf-8")) == demo
    assert demo.greeting == "Hi, this is Sam from Ringflow. Do you have a minute?"
    assert demo.context == {"company": "Ringflow", "offer": "a free month of the Pro plan"}
    assert all(on for tool, on in demo.tools.items() if tool not in OFF_UNTIL_SWITCHED_ON) and demo.voicemail_message


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--language", "fr"], "error: --language: Input should be 'en' or 'ar'"),
        (["--mode", "fast"], "error: --mode: Input should be 'realtime' or 'pipeline'"),
        (["--disable-tool", "fly"], "error: --disable-tool fly: no such tool; the tools are take_note,"),
        (["--context-json", "{nope"], "error: --context-json is not JSON:"),
        (["--context-json", "[1, 2]"], "error: --context-json must be a JSON object"),
        (["--transfer-number", "12"], "error: --transfer-number: '12' is not a phone number"),
        (["--disclosure", "x" * 501], "error: --disclosure: String should have at most 500 characters"),
    ],
)
def test_bad_options_are_one_clear_line(store: Path, args: list[str], message: str) -> None:
    code, out, err = ringflow("agent", "create", "ana", "--instructions", "Hi.", *args)
    assert code == 2
    assert err.startswith(message), err
    assert "Traceback" not in err + out
    assert ringflow("agent", "show", "ana")[0] == 1  # nothing was stored


def test_bad_names_and_missing_prompt(store: Path, tmp_path: Path) -> None:
    code, _, err = ringflow("agent", "create", "two words", "--instructions", "Hi.")
    assert (code, err) == (2, "error: NAME: String should match pattern '^[A-Za-z0-9_.-]+$'")
    code, _, err = ringflow("agent", "create", "ana")
    assert code == 2
    assert err == "error: give the prompt with exactly one of --instructions TEXT or --instructions-file PATH"
    code, _, err = ringflow("agent", "create", "ana", "--instructions", "   ")
    assert (code, err) == (2, "error: --instructions: the prompt is empty")
    code, _, err = ringflow("agent", "create", "ana", "--instructions-file", str(tmp_path / "missing.txt"))
    assert code == 2 and err.startswith("error: cannot read")


def test_import_refuses_bad_files(store: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text("{not json", encoding="utf-8")
    code, _, err = ringflow("agent", "import", str(broken))
    assert code == 2 and err.startswith(f"error: {broken} is not valid JSON")
    wrong = tmp_path / "wrong.json"
    wrong.write_text('{"name": "x", "language": "de"}', encoding="utf-8")
    code, _, err = ringflow("agent", "import", str(wrong))
    assert code == 2
    assert "is not an agent config: instructions: Field required; language: Input should be 'en' or 'ar'" in err
    code, _, err = ringflow("agent", "import", str(tmp_path / "absent.json"))
    assert code == 2 and "cannot read" in err


def test_list_when_empty(store: Path) -> None:
    code, out, _ = ringflow("agent", "list")
    assert code == 0
    assert "no agents yet" in out


def test_campaign_start_refuses_unknown_or_inactive_agents(store: Path, tmp_path: Path) -> None:
    contacts = tmp_path / "contacts.csv"
    contacts.write_text("external_id,name,phone,timezone\n1,Ana,+442079460001,Europe/London\n", encoding="utf-8")
    code, _, err = ringflow("campaign", "start", str(contacts), "--agent", "ghost")
    assert code == 1
    assert "error: no agent named 'ghost'" in err
    assert ringflow("agent", "create", "sleepy", "--instructions", "Hi.", "--inactive")[0] == 0
    code, _, err = ringflow("campaign", "start", str(contacts), "--agent", "sleepy")
    assert code == 1
    assert "error: agent 'sleepy' is inactive" in err


def test_build_agent_config_defaults() -> None:
    config = build_agent_config("plain", instructions="Hi.")
    assert config.voice == "alloy" and config.model_mode == ModelMode.PIPELINE and config.active
    assert all(on for tool, on in config.tools.items() if tool != AgentTool.SEARCH_KNOWLEDGE)
    assert not config.tools[AgentTool.SEARCH_KNOWLEDGE], "off until the agent has documents to search"


# ---- agent eval / evaluate_agent --------------------------------------------------------------------


def _demo_agent() -> AgentConfig:
    return AgentConfig.model_validate_json(DEMO_AGENT.read_text(encoding="utf-8"))


def test_every_persona_has_an_expectation() -> None:
    assert set(PERSONA_EXPECTATIONS) == set(PERSONA_LINES)


async def test_demo_agent_passes_every_persona() -> None:
    verdicts = await evaluate_agent(_demo_agent())
    failed = {verdict.persona: verdict.reason for verdict in verdicts if not verdict.passed}
    assert failed == {}
    assert [verdict.persona for verdict in verdicts] == list(PERSONA_EXPECTATIONS)
    by_persona = {verdict.persona: verdict for verdict in verdicts}
    assert "share_information" in by_persona["qualifies"].tools_called
    assert "schedule_callback" in by_persona["callback_tomorrow"].tools_called
    came_to = {persona: by_persona[persona].disposition for persona in PERSONA_DISPOSITIONS}
    assert came_to == PERSONA_DISPOSITIONS
    assert all(verdict.turns >= 1 for verdict in verdicts)


async def test_the_slot_persona_calls_the_evaluations_own_service_over_http_and_says_the_slots() -> None:
    agent = _demo_agent()
    async with SlotService() as slots:
        verdict = await evaluate_persona(agent, "asks_for_slots", slots=slots)
    assert verdict.passed, verdict.reason
    assert slots.requests == 1
    assert SLOT_TOOL in verdict.tools_called
    assert agent.http_tools == [], "the agent's own configuration is left as it was"
    without_end_call = agent.model_copy(update={"tools": {**agent.tools, AgentTool.END_CALL: False}})
    assert not (await evaluate_persona(without_end_call, "asks_for_slots")).passed


async def test_the_billing_persona_is_routed_by_the_scripted_model_through_the_route_tool() -> None:
    agent = _demo_agent()
    verdict = await evaluate_persona(agent, "asks_for_billing")
    assert verdict.passed, verdict.reason
    assert "route_to_department" in verdict.tools_called
    said = [segment.text for segment in verdict.transcript if segment.speaker == "agent"]
    # Text mode has no phone line: the transfer fails and the evaluation department's message fallback applies.
    assert any("I've taken a message, and the billing team will get it." in line for line in said), said
    assert agent.departments == [], "the agent's own configuration is left as it was"
    route_off = agent.model_copy(update={"tools": {**agent.tools, AgentTool.ROUTE_TO_DEPARTMENT: False}})
    refused = await evaluate_persona(route_off, "asks_for_billing")
    assert not refused.passed and "route_to_department is switched off" in refused.reason


async def test_the_eval_bridge_decides_a_route_like_the_workflow_and_records_the_fallback() -> None:
    from schemas.departments import RouteAction, TransferReport, TransferResult
    from simulator.evaluation import EVAL_DEPARTMENT

    bridge = EvalBridge(clock=lambda: datetime(2026, 12, 2, 12, 0, tzinfo=UTC), routed_departments=[EVAL_DEPARTMENT])
    assert [d.name for d in await bridge.departments()] == ["billing"]
    answer = await bridge.route_to_department("billing", "wrong charge")
    assert answer.action == RouteAction.TRANSFER and answer.target == "sip:billing@eval.invalid"
    fallback = await bridge.report_department_transfer(
        TransferReport(route_id=answer.route_id, result=TransferResult.NO_ANSWER)
    )
    assert fallback.action == RouteAction.MESSAGE and "not answering right now" in fallback.say
    assert bridge.notes == ["[billing] message: wrong charge"]
    with pytest.raises(BridgeError, match="no evaluation reaches"):
        await bridge.route_to_department("sales", "a quote")


PERSONA_DISPOSITIONS = {
    "qualifies": "qualified",
    "callback": "callback_requested",
    "callback_tomorrow": "callback_requested",
    "not_interested": "not_interested",
    "do_not_call": "do_not_call",
}


async def test_the_disposition_counts_not_the_tool_that_recorded_it() -> None:
    """With record_disposition off, mark_not_interested / mark_do_not_call record the same dispositions."""
    demo = _demo_agent()
    shortcuts_only = demo.model_copy(update={"tools": {**demo.tools, AgentTool.RECORD_DISPOSITION: False}})
    verdicts = {v.persona: v for v in await evaluate_agent(shortcuts_only, ["not_interested", "do_not_call"])}
    assert verdicts["not_interested"].passed, verdicts["not_interested"].reason
    assert "mark_not_interested" in verdicts["not_interested"].tools_called
    assert verdicts["do_not_call"].passed, verdicts["do_not_call"].reason
    assert "mark_do_not_call" in verdicts["do_not_call"].tools_called
    assert [v.disposition for v in verdicts.values()] == ["not_interested", "do_not_call"]


async def test_an_agent_that_cannot_record_the_outcome_fails_with_reasons() -> None:
    demo = _demo_agent()
    crippled = demo.model_copy(
        update={
            "tools": {
                **demo.tools,
                AgentTool.SCHEDULE_CALLBACK: False,
                AgentTool.RECORD_DISPOSITION: False,
                AgentTool.MARK_NOT_INTERESTED: False,
            }
        }
    )
    personas = ["callback", "not_interested", "do_not_call", "qualifies", "hostile"]
    verdicts = {v.persona: v for v in await evaluate_agent(crippled, personas)}
    assert not verdicts["callback"].passed
    assert "schedule_callback is switched off" in verdicts["callback"].reason
    for persona in ("not_interested", "do_not_call"):
        assert not verdicts[persona].passed
        assert "record_disposition and mark_not_interested are switched off" in verdicts[persona].reason
    assert not verdicts["qualifies"].passed
    assert "record_disposition is switched off" in verdicts["qualifies"].reason
    assert verdicts["hostile"].passed, verdicts["hostile"].reason


async def test_an_agent_whose_dispositions_do_the_wrong_thing_fails_with_reasons() -> None:
    """The calls run and record the expected names, but this agent's table gives them the wrong effects."""
    demo = _demo_agent()
    miswired = demo.model_copy(
        update={
            "dispositions": with_defaults(
                [
                    Disposition(name="not_interested", description="They declined.", then=NextStep.RETRY),
                    Disposition(name="qualified", description="A good lead.", outcome=FinalOutcome.COMPLETED),
                ]
            )
        }
    )
    verdicts = {v.persona: v for v in await evaluate_agent(miswired, ["not_interested", "qualifies"])}
    assert (verdicts["not_interested"].passed, verdicts["not_interested"].disposition) == (False, "not_interested")
    assert verdicts["not_interested"].reason == (
        "the agent recorded not_interested, which retries the contact like an unanswered call; "
        "expected one that finishes the contact as not_interested"
    )
    assert (verdicts["qualifies"].passed, verdicts["qualifies"].disposition) == (False, "qualified")


def test_the_do_not_call_disposition_cannot_be_rewired_to_keep_calling() -> None:
    with pytest.raises(ValueError, match="opt-out must be honoured"):
        with_defaults([Disposition(name="do_not_call", description="Stop.", outcome=FinalOutcome.NOT_INTERESTED)])
    reworded = with_defaults(
        [Disposition(name="do_not_call", description="They said: never again.", then="do_not_call")]
    )
    assert [(d.description, d.outcome) for d in reworded if d.name == "do_not_call"] == [
        ("They said: never again.", FinalOutcome.DO_NOT_CALL)
    ]


async def test_unknown_persona_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown persona"):
        await evaluate_agent(_demo_agent(), ["answers", "nobody"])


async def test_eval_bridge_accepts_callbacks_inside_14_days_only() -> None:
    from voice_worker.bridge import BridgeError

    now = datetime(2030, 5, 6, 12, 0, tzinfo=UTC)
    bridge = EvalBridge(clock=lambda: now)
    confirmation = await bridge.schedule_callback(datetime(2030, 5, 19, 12, 0, tzinfo=UTC), "later")
    assert confirmation.scheduled_for == datetime(2030, 5, 19, 12, 0, tzinfo=UTC)
    with pytest.raises(BridgeError, match="14 days"):
        await bridge.schedule_callback(datetime(2030, 5, 21, 12, 0, tzinfo=UTC), "much later")
    with pytest.raises(BridgeError, match="passed"):
        await bridge.schedule_callback(datetime(2030, 5, 6, 11, 0, tzinfo=UTC), "yesterday")
    assert len(bridge.callbacks) == 1 and len(bridge.refused_callbacks) == 2


def test_agent_eval_command(store: Path) -> None:
    assert ringflow("agent", "import", str(DEMO_AGENT))[0] == 0
    code, out, err = ringflow("agent", "eval", "sam-onboarding", "--personas", "qualifies,hostile")
    assert code == 0, out + err
    assert "qualifies pass" in out and "hostile pass" in out
    assert re.search(r"qualifies pass \d+ \S+ qualified ", out), out  # the disposition column, after the tools
    assert "all 2 persona(s) passed" in out

    assert ringflow("agent", "create", "mute", "--instructions", "Hi.", "--disable-tool", "end_call")[0] == 0
    code, out, _ = ringflow("agent", "eval", "mute", "--personas", "answers")
    assert code == 1
    assert "answers FAIL" in out and "end_call is switched off" in out

    code, _, err = ringflow("agent", "eval", "sam-onboarding", "--personas", "answers,ghost")
    assert code == 2 and "unknown persona(s) ghost" in err
    code, _, err = ringflow("agent", "eval", "ghost")
    assert (code, err) == (1, "error: no agent named 'ghost'")
