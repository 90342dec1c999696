"""Number hygiene (issue 13, item 4): hostile numbers are refused with their reason wherever numbers enter,
an organization's number rules allow vanity and toll-free numbers, an extension reaches the callee as DTMF,
and a CSV syntax error is reported as such on its line."""

import json
import re
from pathlib import Path

import pytest
from api_helpers import FAST, eventually, phone
from typer.testing import CliRunner
from workflow_helpers import new_campaign_id, settings, start_campaign

from cli.app import app
from schemas.agent import AgentConfig
from schemas.contact import Contact, NumberRules
from schemas.settings import get_settings
from store import contacts as store_contacts
from store import queries
from store.csv_import import parse_contacts_csv

GOOD = "+14155550123"
AGENT = {"name": "sam", "instructions": "You are Sam from Ringflow. Be brief and polite."}

HOSTILE = [
    ("+19005550107", "'+19005550107' is a premium-rate number"),
    ("+34901123456", "'+34901123456' is a shared-cost number"),
    ("+447012345678", "'+447012345678' is a personal forwarding number"),
    ("+447640123456", "'+447640123456' is a pager number"),
    ("+49177991234567", "'+49177991234567' is a voicemail access number"),
    ("+447700900123", "'+447700900123' is not a valid phone number"),  # phonenumbers knows no type for it
    ("+1415CALLNOW", "'+1415CALLNOW' is written with letters (a vanity number)"),
    ("+18005550100", "'+18005550100' is a toll-free number"),
    ("+14155550106 ext. twelve", "extension 'twelve' is not an extension"),
    ("+14155550106 ext", "has an extension mark but no extension after it"),
]


def one_row(number: str, rules: NumberRules | None = None, *, header: str = "phone,name") -> tuple[list[Contact], str]:
    """The contacts of a list holding ``number`` and a good one, and the one error on ``number``'s line."""
    report = parse_contacts_csv(f'{header}\n"{number}",Hostile\n{GOOD},Good\n', rules=rules)
    errors = {error.line: error.message for error in report.errors}
    assert set(errors) <= {2}, errors
    return report.contacts, errors.get(2, "")


@pytest.mark.parametrize(("number", "reason"), HOSTILE)
def test_each_hostile_number_is_refused_on_its_line_with_its_reason(number: str, reason: str) -> None:
    contacts, error = one_row(number)
    assert reason in error
    assert [contact.phone for contact in contacts] == [GOOD]  # the good row is not lost


def test_an_organizations_rules_never_open_premium_rate_or_shared_cost_numbers() -> None:
    everything = NumberRules(allow_vanity=True, allow_toll_free=True)
    for number, reason in HOSTILE[:5]:
        assert reason in one_row(number, everything)[1]


def test_vanity_numbers_are_refused_by_default_and_dialled_as_their_digits_when_the_organization_allows_them() -> None:
    assert "vanity" in one_row("+1415CALLNOW")[1]
    assert "vanity" in one_row("1-800-FLOWERS", NumberRules(allow_toll_free=True))[1]
    contacts, error = one_row("+1415CALLNOW", NumberRules(allow_vanity=True))
    assert error == ""
    assert [contact.phone for contact in contacts] == ["+14152255669", GOOD]


def test_toll_free_numbers_are_refused_by_default_and_accepted_when_the_organization_allows_them() -> None:
    assert "toll-free" in one_row("+1 800 555 0100")[1]
    contacts, error = one_row("+1 800 555 0100", NumberRules(allow_toll_free=True))
    assert error == ""
    assert [contact.phone for contact in contacts] == ["+18005550100", GOOD]


def test_a_contact_admitted_under_its_organizations_rules_reads_back_whatever_they_say_now() -> None:
    """A stored contact (or one in a workflow's history) was checked as it entered: reading it never refuses."""
    admitted = Contact.admit({"external_id": "t1", "phone": "+18005550100"}, NumberRules(allow_toll_free=True))
    assert Contact.model_validate(admitted.model_dump()) == admitted


@pytest.mark.parametrize(
    "written",
    [
        "+14155550106 ext. 12",
        "+1 415 555 0106 extension 12",
        "+14155550106 x12",
        "+14155550106 #12",
        "tel:+1-415-555-0106;ext=12",
        "+14155550106,,12",
    ],
)
def test_an_extension_is_kept_apart_from_the_number_however_it_is_written(written: str) -> None:
    contacts, error = one_row(written)
    assert error == ""
    assert [(contact.phone, contact.extension) for contact in contacts] == [("+14155550106", "12"), (GOOD, "")]


def test_a_transfer_number_with_an_extension_is_refused_rather_than_rung_at_the_main_line() -> None:
    with pytest.raises(ValueError, match="cannot have an extension"):
        AgentConfig(name="desk", instructions="Help.", transfer_number="+14155550106 ext. 12")
    assert AgentConfig(name="desk", instructions="Help.", transfer_number="+14155550106").transfer_number


def test_an_extension_column_is_read_and_must_agree_with_one_in_the_phone() -> None:
    report = parse_contacts_csv(
        "phone,extension\n+14155550106,0042\n+14155550107 ext. 1,2\n+14155550108,2a\n", rules=NumberRules()
    )
    assert [(c.phone, c.extension) for c in report.contacts] == [("+14155550106", "0042")]
    errors = {error.line: error.message for error in report.errors}
    assert "extension '1' differs from the extension '2'" in errors[3]
    assert "extension '2a' is not an extension" in errors[4]


def test_an_unterminated_quote_is_reported_as_a_csv_syntax_error_on_its_line() -> None:
    report = parse_contacts_csv(f'phone,name\n{GOOD},Ann\n+14155550124,"Bob\n+14155550125,Cy\n+14155550126,Di\n')
    assert [contact.phone for contact in report.contacts] == [GOOD]
    [error] = report.errors
    assert error.line == 3
    assert error.message == (
        "CSV syntax error: unterminated quoted field "
        "(a quote opened on this line is never closed; lines 3-5 were not imported)"
    )


def test_a_stray_quote_is_a_syntax_error_on_its_line_and_the_lines_after_it_are_read() -> None:
    report = parse_contacts_csv(f'phone,name\n+14155550124,"Bob"by\n{GOOD},Ann\n')
    assert [contact.phone for contact in report.contacts] == [GOOD]
    [error] = report.errors
    assert error.line == 2 and error.message.startswith("CSV syntax error: ")


async def test_an_extension_travels_from_the_store_to_the_sim_carriers_dial(
    time_env, run_worker, sim, session_factory
) -> None:
    """The contact workflow loads the stored contact, as for a live carrier: the sim records the digits."""
    campaign_id = new_campaign_id()
    campaign = settings(max_attempts=1)
    report = parse_contacts_csv("id,phone,persona\np1,+14155550106 ext. 12,answers\n", rules=NumberRules())
    async with session_factory() as session:
        await queries.create_campaign(session, campaign_id, "extension", campaign)
        await store_contacts.add_contacts(session, campaign_id, report.contacts)
        await session.commit()
        stored = await queries.load_contact(session, campaign_id, "p1")
    assert stored is not None and stored.extension == "12"
    async with run_worker(sim) as tq:
        await (await start_campaign(time_env.client, tq, campaign_id, campaign)).result()
    assert [(dial.phone, dial.dtmf) for dial in sim.dials] == [("+14155550106", "12")]


async def test_call_now_refuses_hostile_numbers_and_follows_its_organizations_number_rules(api_stack) -> None:
    http, other = api_stack.org_a.http, api_stack.org_b.http
    assert (await http.post("/v1/agents", json=AGENT)).status_code == 201
    premium = await http.post("/v1/agents/sam/calls", json={"phone": "+19005550107"})
    assert premium.status_code == 422 and "premium-rate" in premium.json()["detail"]
    toll_free = {"phone": "+18005550100", "persona": "answers"}
    refused = await http.post("/v1/agents/sam/calls", json=toll_free)
    assert refused.status_code == 422 and "toll-free" in refused.json()["detail"]

    policy = (await http.get("/v1/policy")).json()["policy"]
    assert policy["numbers"] == {"allow_vanity": False, "allow_toll_free": False}
    changed = await http.put("/v1/policy", json={**policy, "numbers": {"allow_toll_free": True}})
    assert changed.status_code == 200 and changed.json()["policy"]["numbers"]["allow_toll_free"] is True
    assert (await http.post("/v1/agents/sam/calls", json=toll_free)).status_code == 201
    assert (await other.post("/v1/agents", json=AGENT)).status_code == 201
    assert (await other.post("/v1/agents/sam/calls", json=toll_free)).status_code == 422  # org A's rules only

    extended = await http.post("/v1/agents/sam/calls", json={"phone": f"{phone(7)} ext. 12", "persona": "answers"})
    assert extended.status_code == 201, extended.text
    campaign_id = extended.json()["campaign"]["id"]
    await eventually(
        lambda: http.get(f"/v1/campaigns/{campaign_id}"), lambda campaign: campaign["status"] == "completed"
    )
    dialled = {dial.phone: dial.dtmf for dial in api_stack.carrier.dials}
    assert dialled == {"+18005550100": "", phone(7): "12"}
    [listed] = (await http.get("/v1/contacts", params={"campaign_id": campaign_id})).json()["items"]
    assert (listed["phone"], listed["extension"]) == (phone(7), "12")


async def test_a_csv_upload_reports_hostile_numbers_and_syntax_errors_by_line(api_stack) -> None:
    http = api_stack.org_a.http
    upload = (
        "phone,persona\n"
        f"{phone(1)},answers\n"
        "+19005550107,answers\n"
        "+1415CALLNOW,answers\n"
        f"{phone(2)} ext. 7,answers\n"
        '+14155550106,"answers\n'
        f"{phone(3)},answers\n"
    )
    response = await http.post(
        "/v1/campaigns/upload",
        files={"file": ("hygiene.csv", upload.encode(), "text/csv")},
        data={"settings": json.dumps(FAST), "start": "false"},
    )
    assert response.status_code == 201, response.text
    report = response.json()["import_report"]
    assert report["imported"] == 2
    errors = {error["line"]: error["message"] for error in report["errors"]}
    assert set(errors) == {3, 4, 6}
    assert "premium-rate" in errors[3]
    assert "vanity" in errors[4]
    assert errors[6].startswith("CSV syntax error: unterminated quoted field") and "lines 6-7" in errors[6]


def test_the_org_policy_command_sets_and_shows_the_number_rules(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("RINGFLOW_DATABASE_URL", raising=False)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'rules.db'}")
    monkeypatch.setenv("RINGFLOW_DATA_DIR", str(tmp_path / "data"))
    get_settings.cache_clear()
    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps({"numbers": {"allow_toll_free": True}}), encoding="utf-8")
    try:
        result = CliRunner().invoke(app, ["org", "policy", "--set", str(policy)])
        shown = CliRunner().invoke(app, ["org", "policy", "--json"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.stderr
    assert "numbers: vanity refused, toll-free allowed" in re.sub(r"\s+", " ", result.stdout)
    assert json.loads(shown.stdout)["policy"]["numbers"] == {"allow_vanity": False, "allow_toll_free": True}
