"""``ringflow numbers ...`` against a throwaway SQLite store and the local Twilio stand-in."""

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from twilio_standin import TwilioStandIn
from typer.testing import CliRunner

import cli.numbers
from cli.app import app
from schemas.settings import Settings, get_settings
from telephony.twilio_voice import TwilioVoice

runner = CliRunner()
BASE = "https://ringflow.example.com"
WEBHOOK = BASE + "/twilio/voice/incoming"
STATUS_CALLBACK = BASE + "/twilio/voice/status"
MAIN, SUPPORT = "+14155550100", "+442079460123"


def _flat(text: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"[│┃╭╮╰╯─━┏┓┗┛┡┩└┘┌┐╇┳┻╋┼├┤]", " ", text)).strip()


def ringflow(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, _flat(result.stdout), _flat(result.stderr)


@pytest.fixture(scope="module")
def standin() -> Iterator[TwilioStandIn]:
    with TwilioStandIn() as twilio:
        yield twilio


@pytest.fixture
def twilio(standin: TwilioStandIn, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[TwilioStandIn]:
    """A fresh SQLite store, Twilio settings in the environment, and the CLI's Twilio client on the stand-in."""
    with standin._lock:
        standin.numbers.clear()
        standin.requests.clear()
        standin.errors.clear()
    monkeypatch.delenv("RINGFLOW_DATABASE_URL", raising=False)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'numbers.db'}")
    monkeypatch.setenv("RINGFLOW_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("RINGFLOW_TWILIO_ACCOUNT_SID", standin.account_sid)
    monkeypatch.setenv("RINGFLOW_TWILIO_AUTH_TOKEN", standin.auth_token)
    monkeypatch.setenv("RINGFLOW_PUBLIC_BASE_URL", BASE + "/")

    def on_standin(settings: Settings) -> TwilioVoice:
        return TwilioVoice.from_settings(settings, api_base_url=standin.base_url)

    monkeypatch.setattr(cli.numbers, "twilio_voice", on_standin)
    get_settings.cache_clear()
    yield standin
    get_settings.cache_clear()


def _agent(name: str, *, inactive: bool = False) -> None:
    args = ["agent", "create", name, "--instructions", "Answer the phone."]
    assert ringflow(*args, *(["--inactive"] if inactive else []))[0] == 0


def _synced(twilio: TwilioStandIn) -> dict[str, str]:
    sids = {
        MAIN: twilio.add_number(MAIN, friendly_name="Main line"),
        SUPPORT: twilio.add_number(SUPPORT, friendly_name="Support UK"),
    }
    assert ringflow("numbers", "sync")[0] == 0
    return sids


def _voice_url(twilio: TwilioStandIn, sid: str) -> str:
    return twilio.numbers[sid]["voice_url"]


def test_sync_stores_the_account_numbers_and_keeps_bindings(twilio: TwilioStandIn) -> None:
    code, out, _ = ringflow("numbers", "list")
    assert code == 0 and "numbers sync" in out
    _synced(twilio)
    code, out, err = ringflow("numbers", "list")
    assert code == 0, err
    assert f"{MAIN} — Main line" in out and f"{SUPPORT} — Support UK" in out
    _agent("ana")
    assert ringflow("numbers", "assign", MAIN, "ana")[0] == 0
    # A renamed number on the account: the name is refreshed, the binding stays.
    sid = next(s for s, n in twilio.numbers.items() if n["phone_number"] == MAIN)
    twilio.numbers[sid]["friendly_name"] = "Sales"
    code, out, err = ringflow("numbers", "sync")
    assert code == 0, err
    assert "2 number(s) on the Twilio account" in out and f"{MAIN} ana Sales" in out
    assert "no longer" not in out


def test_sync_reports_numbers_gone_from_the_account(twilio: TwilioStandIn) -> None:
    sids = _synced(twilio)
    _agent("ana")
    assert ringflow("numbers", "assign", SUPPORT, "ana")[0] == 0
    del twilio.numbers[sids[SUPPORT]]
    code, out, err = ringflow("numbers", "sync")
    assert code == 0, err
    assert "1 number(s) on the Twilio account" in out
    assert "1 number(s) in the store but no longer on the account" in out and f"{SUPPORT} ana" in out
    # Reported, not deleted.
    assert SUPPORT in ringflow("numbers", "list")[1]


def test_assign_sets_the_webhook_and_the_binding(twilio: TwilioStandIn) -> None:
    sids = _synced(twilio)
    _agent("ana")
    code, out, err = ringflow("numbers", "assign", "+1 (415) 555-0100", "ana")
    assert code == 0, err
    assert f"{MAIN} now answered by ana" in out and WEBHOOK in out
    assert _voice_url(twilio, sids[MAIN]) == WEBHOOK
    update = twilio.requests_to("POST", sids[MAIN])[-1]
    assert update.one("VoiceUrl") == WEBHOOK and update.one("VoiceMethod") == "POST"
    assert update.one("StatusCallback") == STATUS_CALLBACK and update.one("StatusCallbackMethod") == "POST"
    assert twilio.numbers[sids[MAIN]]["status_callback"] == STATUS_CALLBACK and STATUS_CALLBACK in out
    assert _voice_url(twilio, sids[SUPPORT]) == ""
    out = ringflow("numbers", "list")[1]
    assert f"{MAIN} ana Main line" in out and f"{SUPPORT} — Support UK" in out


def test_sync_points_numbers_assigned_before_status_callbacks_at_them(twilio: TwilioStandIn) -> None:
    sids = _synced(twilio)
    _agent("ana")
    assert ringflow("numbers", "assign", MAIN, "ana")[0] == 0
    # As assigned by an older Ringflow: the voice URL only, no status callback.
    twilio.numbers[sids[MAIN]]["status_callback"] = ""
    twilio.requests.clear()
    code, out, err = ringflow("numbers", "sync")
    assert code == 0, err
    assert f"{MAIN}: Twilio webhooks pointed at {BASE}" in out
    [update] = twilio.requests_to("POST", "/IncomingPhoneNumbers/")
    assert update.path.endswith(f"/{sids[MAIN]}.json"), "only the bound number whose webhooks differ"
    assert (update.one("VoiceUrl"), update.one("StatusCallback")) == (WEBHOOK, STATUS_CALLBACK)
    twilio.requests.clear()
    code, out, _ = ringflow("numbers", "sync")
    assert code == 0 and "pointed at" not in out and not twilio.requests_to("POST", "/IncomingPhoneNumbers/")


def test_reassign_replaces_the_agent(twilio: TwilioStandIn) -> None:
    _synced(twilio)
    _agent("ana")
    _agent("bob")
    assert ringflow("numbers", "assign", MAIN, "ana")[0] == 0
    code, out, err = ringflow("numbers", "assign", MAIN, "bob")
    assert code == 0, err
    assert "now answered by bob (replaces ana)" in out
    assert f"{MAIN} bob Main line" in ringflow("numbers", "list")[1]
    code, out, _ = ringflow("numbers", "assign", MAIN, "bob")
    assert code == 0 and "already answered by bob" in out


def test_unassign(twilio: TwilioStandIn) -> None:
    _synced(twilio)
    _agent("ana")
    assert ringflow("numbers", "assign", MAIN, "ana")[0] == 0
    code, out, err = ringflow("numbers", "unassign", MAIN)
    assert code == 0, err
    assert f"{MAIN} no longer answered by ana" in out
    assert f"{MAIN} — Main line" in ringflow("numbers", "list")[1]
    code, out, _ = ringflow("numbers", "unassign", MAIN)
    assert code == 0 and "had no agent" in out
    code, _, err = ringflow("numbers", "unassign", "+14155550199")
    assert code == 1 and "unknown number +14155550199" in err


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (("+14155550199", "ana"), 1, "unknown number +14155550199: `ringflow numbers sync`"),
        ((MAIN, "nobody"), 1, "no agent named 'nobody'"),
        ((MAIN, "off"), 1, "agent 'off' is inactive"),
        (("12", "ana"), 2, "NUMBER: '12'"),
        (("not a number", "ana"), 2, "is not a phone number"),
    ],
)
def test_assign_refusals_change_nothing(twilio: TwilioStandIn, args: tuple[str, str], code: int, message: str) -> None:
    sids = _synced(twilio)
    _agent("ana")
    _agent("off", inactive=True)
    result, _, err = ringflow("numbers", "assign", *args)
    assert result == code and message in err
    assert err.count("error:") == 1
    assert not twilio.requests_to("POST", "/IncomingPhoneNumbers/")
    assert _voice_url(twilio, sids[MAIN]) == ""
    assert f"{MAIN} — Main line" in ringflow("numbers", "list")[1]


def test_twilio_settings_are_required(twilio: TwilioStandIn, monkeypatch: pytest.MonkeyPatch) -> None:
    _synced(twilio)
    _agent("ana")
    monkeypatch.delenv("RINGFLOW_PUBLIC_BASE_URL")
    get_settings.cache_clear()
    code, _, err = ringflow("numbers", "assign", MAIN, "ana")
    assert code == 1 and "set RINGFLOW_PUBLIC_BASE_URL" in err
    monkeypatch.delenv("RINGFLOW_TWILIO_AUTH_TOKEN")
    get_settings.cache_clear()
    code, _, err = ringflow("numbers", "sync")
    assert code == 1 and "Twilio is not configured: set RINGFLOW_TWILIO_AUTH_TOKEN" in err
    code, _, err = ringflow("numbers", "assign", MAIN, "ana")
    assert code == 1 and "RINGFLOW_TWILIO_AUTH_TOKEN, RINGFLOW_PUBLIC_BASE_URL" in err
    assert not twilio.requests_to("POST", "/IncomingPhoneNumbers/")
    assert f"{MAIN} — Main line" in ringflow("numbers", "list")[1]


def test_twilio_refusing_the_webhook_leaves_the_store_alone(twilio: TwilioStandIn) -> None:
    _synced(twilio)
    _agent("ana")
    twilio.fail_next(403, 20003, "Permission denied", method="POST", path_contains="/IncomingPhoneNumbers/")
    code, _, err = ringflow("numbers", "assign", MAIN, "ana")
    assert code == 1 and f"Twilio refused to set the webhooks of {MAIN}" in err
    assert "Permission denied (error 20003)" in err
    assert f"{MAIN} — Main line" in ringflow("numbers", "list")[1]
