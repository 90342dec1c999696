"""The dashboard in a real browser: headless Chromium (Debian's ``chromium``) driven by Playwright,
against the whole stack (uvicorn, Temporal dev server, sim worker with the scripted agent, real DB).

Journeys, as users make them. A campaign: log in as a member (email and password), upload a CSV on the
new-campaign form and read the per-line import report, watch the campaign appear and complete on a
campaign list that was already open (only its server-sent events can tell it), open the campaign,
then a call, and read the transcript. The settings: an agent with a tool switched off, a number's
agent, the do-not-call list. Screenshots of every step go to ``test-artifacts/dashboard/`` (CI keeps them).
"""

import re
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import pytest_asyncio
from api_helpers import eventually, phone
from api_stack import MEMBER_PASSWORD
from browser_helpers import fresh_artifacts, headless_chromium
from cryptography.fernet import Fernet
from livekit_standin import API_KEY as LIVEKIT_KEY
from livekit_standin import API_SECRET as LIVEKIT_SECRET
from livekit_standin import LiveKitStandIn
from oauth_provider import OAuthProvider
from playwright.async_api import Browser, BrowserContext, Page, expect
from sqlalchemy import update
from tool_target import BookingService
from webhook_receiver import Answer, Receiver

from api.services import webhooks as webhooks_service
from schemas.providers import DEFAULT_VOICES
from schemas.webhooks import WebhookEventType
from store.models import ContactRow
from store.numbers import upsert_number

# Generous for a loaded CI machine; the whole journey takes a few seconds when the machine is idle.
STEP_TIMEOUT_MS = 20_000
expect.set_options(timeout=STEP_TIMEOUT_MS)

AGENT = {
    "name": "ava-renewals",
    "instructions": "You are Ava from Acme. Ask whether they want to renew; keep every reply short.",
    "greeting": "Hi, this is Ava from Acme. Do you have a minute?",
    "context": {"company": "Acme"},
}

CSV = (
    "external_id,name,phone,persona,company\n"
    f"c1,Ann Lee,{phone(101)},answers,Acme\n"
    f"c2,Bob Stone,{phone(102)},qualifies,Acme\n"
    "c3,Cat Wu,12345,answers,Acme\n"  # line 4: not a phone number
    f"c4,Dan Roe,{phone(104)},not_interested,Acme\n"
)


Snap = Callable[[Page, str], Awaitable[None]]


@pytest.fixture(scope="module")
def snap() -> Snap:
    """``await snap(page, name)``: a full-page screenshot in ``test-artifacts/dashboard/``, emptied once per run."""
    folder = fresh_artifacts("dashboard")

    async def take(page: Page, name: str) -> None:
        await page.screenshot(path=str(folder / f"{name}.png"), full_page=True)

    return take


@pytest_asyncio.fixture
async def browser() -> AsyncIterator[Browser]:
    async with headless_chromium() as browser:
        yield browser


def fail_on_page_errors(page: Page, errors: list[str]) -> None:
    """A script error on any page fails the test, even when the page still looks right; so does anything the
    Content-Security-Policy blocked (Chromium reports it on the console)."""
    page.on("pageerror", lambda error: errors.append(f"{page.url}: {error}"))
    page.on(
        "console",
        lambda message: (
            errors.append(f"{page.url}: {message.text}") if "Content Security Policy" in message.text else None
        ),
    )


async def log_in(page: Page, email: str, password: str = MEMBER_PASSWORD) -> None:
    await page.fill("#email", email)
    await page.fill("#password", password)
    await page.click("button[type=submit]")


async def logged_in(browser: Browser, base_url: str, email: str, errors: list[str]) -> tuple[BrowserContext, Page]:
    context = await browser.new_context(base_url=base_url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(STEP_TIMEOUT_MS)
    page = await context.new_page()
    fail_on_page_errors(page, errors)
    await page.goto("/login")
    await log_in(page, email)
    await expect(page.locator(".org-name")).to_be_visible()
    return context, page


async def test_a_user_uploads_a_csv_watches_the_campaign_complete_live_and_reads_a_transcript(api_stack, browser, snap):
    created = await api_stack.org_a.http.post("/v1/agents", json=AGENT)
    assert created.status_code == 201, created.text

    context = await browser.new_context(base_url=api_stack.base_url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(STEP_TIMEOUT_MS)
    errors: list[str] = []
    page = await context.new_page()
    fail_on_page_errors(page, errors)

    # Log in: any page without the cookie leads to the login form, and back after it.
    await page.goto("/")
    await expect(page).to_have_url(f"{api_stack.base_url}/login?next=%2F")
    await log_in(page, api_stack.org_a.email, "not the password")
    await expect(page.locator("#login-error")).to_have_text("Wrong email or password.")
    await snap(page, "journey-01-login-refused")
    await log_in(page, api_stack.org_a.email)
    await expect(page).to_have_url(f"{api_stack.base_url}/")
    await expect(page.locator(".org-name")).to_have_text("Org A")
    cookie = next(c for c in await context.cookies() if c["name"] == "ringflow_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and api_stack.org_a.key not in cookie["value"]

    # A second tab keeps the campaign list open: the new campaign can only reach it through its event stream.
    campaign_list = await context.new_page()
    fail_on_page_errors(campaign_list, errors)
    await campaign_list.goto("/")
    await expect(campaign_list.locator(".empty h3")).to_have_text("No campaigns yet")
    await expect(campaign_list.locator(".subtitle .badge")).to_have_text("Live")
    await snap(campaign_list, "journey-02-campaign-list-empty")

    # The new-campaign form: the CSV, an agent, any hour of any day, one attempt each.
    await page.goto("/campaigns/new")
    await page.set_input_files(
        "#new-campaign-form input[type=file]",
        {"name": "spring-renewals.csv", "mimeType": "text/csv", "buffer": CSV.encode()},
    )
    await page.fill("#new-campaign-form input[name=name]", "Spring renewals")
    await page.select_option("#new-campaign-form select[name=agent_name]", AGENT["name"])
    await page.fill("#new-campaign-form input[x-model=callsPerSecond]", "20")
    await page.fill("#new-campaign-form input[x-model=maxAttempts]", "1")
    await page.check("#new-campaign-form input[name=all_day]")
    await snap(page, "journey-03-new-campaign-form")
    await page.click("#new-campaign-form button[type=submit]")

    report = page.locator("#import-report")
    await expect(report.locator(".report-summary")).to_contain_text("3 imported")
    await expect(report.locator("#import-errors tbody tr")).to_have_count(1)
    await expect(report.locator("#import-errors tbody tr td").first).to_have_text("4")
    await expect(report.locator("#import-errors tbody")).to_contain_text("not a phone number")
    await snap(page, "journey-04-import-report")

    # The list that was open all along shows the campaign, then its completion.
    row = campaign_list.locator("#campaign-table tbody tr", has_text="Spring renewals")
    await expect(row).to_have_count(1)
    await expect(row.locator(".campaign-status")).to_have_text("Completed")
    await expect(row.locator("[role=progressbar]")).to_have_attribute("aria-valuenow", "100")
    await expect(row).to_contain_text("3 of 3 done")
    await snap(campaign_list, "journey-05-campaign-list-completed")

    # The campaign page: status, outcome chart, stats, contacts, the workflow's Web UI link.
    await page.click("#open-campaign")
    await expect(page.locator("#campaign-status")).to_have_text("Completed")
    await expect(page.locator("#campaign-workflow-link")).to_have_attribute(
        "href",
        f"{api_stack.settings.temporal_ui_url}/namespaces/default/workflows/campaign-" + page.url.rsplit("/", 1)[1],
    )
    await expect(page.locator("#contact-table tbody tr")).to_have_count(3)
    await expect(page.locator("#outcome-chart")).to_be_visible()
    assert (
        await page.evaluate("() => Chart.getChart('outcome-chart').data.datasets[0].data.reduce((a, b) => a + b)") == 3
    )
    await page.select_option("#outcome-filter", "not_interested")
    await expect(page.locator("#contact-table tbody tr")).to_have_count(1)
    await expect(page.locator("#contact-table tbody tr")).to_contain_text("Dan Roe")
    await page.select_option("#outcome-filter", "")
    await expect(page.locator("#contact-table tbody tr")).to_have_count(3)
    await snap(page, "journey-06-campaign-page")

    # A call: its transcript as a chat, agent first.
    await page.locator("#contact-table tbody tr", has_text="Ann Lee").locator("a.call-link").click()
    await expect(page.locator("h1")).to_contain_text("Ann Lee")
    bubbles = page.locator("#transcript .bubble")
    await expect(bubbles.first).to_have_class("bubble agent")
    await expect(bubbles.first).to_contain_text(AGENT["greeting"])
    assert await page.locator("#transcript .bubble.callee").count() >= 1
    workflows_ui = f"{api_stack.settings.temporal_ui_url}/namespaces/default/workflows/"
    await expect(page.locator("#call-workflow-link")).to_have_attribute(
        "href", re.compile(f"^{re.escape(workflows_ui)}.")
    )
    await snap(page, "journey-07-call-transcript")
    # Why it was dialled: the rule that applied (the stack's audited any-hour override) and the local time.
    why = page.locator("section", has_text="Why it was dialled")
    await expect(why).to_contain_text("* 00:00-00:00")
    await expect(why).to_contain_text("tests: simulated callees")
    await expect(why.locator(".badge").first).to_have_text("dial")
    # Analysing the call again shows what it found (the default config: a summary, success by the outcome).
    analysis = page.locator("#call-analysis")
    await analysis.get_by_role("button", name="Analyse again").click()
    await expect(page.get_by_text("Analysed again.")).to_be_visible()
    await expect(analysis).to_contain_text("The callee said: Hello?")
    await expect(analysis).to_contain_text("Pass: the call's outcome is completed")
    await expect(analysis).to_contain_text("offline")

    # The audit log names who created the campaign: the member, not a key.
    await page.click("a[href='/audit']")
    created = page.locator("#audit-table tbody tr", has_text="campaign.create")
    await expect(created).to_contain_text(api_stack.org_a.email)
    await snap(page, "journey-08-audit-log")

    # Logging out ends the session: the pages ask for a login again.
    await page.click("text=Log out")
    await expect(page).to_have_url(re.compile(r"/login$"))
    await page.goto("/calls")
    await expect(page).to_have_url(f"{api_stack.base_url}/login?next=%2Fcalls")

    assert errors == []
    await context.close()


async def test_an_operator_sets_up_an_agent_with_its_tools_a_number_and_the_do_not_call_list(api_stack, browser, snap):
    async with api_stack.sessions() as session:
        await upsert_number(session, "+14155550100", "PN-main", "Main line", org_id=api_stack.org_a.id)
        await session.commit()
    errors: list[str] = []
    context, page = await logged_in(browser, api_stack.base_url, api_stack.org_a.email, errors)
    http = api_stack.org_a.http

    # An agent, with one tool switched off.
    await page.goto("/agents")
    await expect(page.locator(".empty h3")).to_have_text("No agents yet")
    await page.click("text=Create an agent")
    form = page.locator("#agent-form")
    await form.locator("input[name=name]").fill("ava-support")
    await form.locator("input[name=greeting]").fill("Hi, Ava from Acme support here.")
    await form.locator("input[name=disclosure]").fill("I'm an AI assistant and this call is recorded.")
    await form.locator("textarea[name=instructions]").fill("Help the caller with their order.")
    await form.locator("textarea[name=context]").fill('{"company": "Acme"}')
    await form.locator("input[name=tool_take_note]").uncheck()
    await snap(page, "settings-01-new-agent")
    await form.locator("button[type=submit]").click()
    await expect(page).to_have_url(f"{api_stack.base_url}/agents/ava-support")
    await page.reload()
    await expect(form.locator("input[name=tool_take_note]")).not_to_be_checked()
    await expect(form.locator("input[name=tool_end_call]")).to_be_checked()
    await form.locator("input[name=tool_end_call]").uncheck()
    await form.locator("button[type=submit]").click()
    await expect(page.locator(".toast.success")).to_contain_text("Agent saved")
    agent = (await http.get("/v1/agents/ava-support")).json()
    assert agent["context"] == {"company": "Acme"}
    assert agent["disclosure"] == "I'm an AI assistant and this call is recorded."
    await expect(form.locator("input[name=disclosure]")).to_have_value(agent["disclosure"])
    assert agent["tools"]["take_note"] is False and agent["tools"]["end_call"] is False
    assert agent["tools"]["schedule_callback"] is True
    await snap(page, "settings-02-agent-saved")

    # Its models: another vendor speaks, so the voice becomes one of that vendor's; the LLM gets a temperature.
    await form.locator("select[name=tts_provider]").select_option("cartesia")
    await expect(form.locator("input[name=voice]")).to_have_value(DEFAULT_VOICES[("tts", "cartesia")])
    await form.locator("select[name=llm_provider]").select_option("groq")
    await form.locator("input[name=llm_model]").fill("llama-3.1-8b-instant")
    await form.locator("input[name=llm_temperature]").fill("0.3")
    await expect(form.locator("select[name=realtime_provider]")).to_be_hidden()
    await form.locator("button[type=submit]").click()

    def agent_page() -> Awaitable[httpx.Response]:
        return http.get("/v1/agents/ava-support")

    agent = await eventually(agent_page, lambda body: body["tts"]["provider"] == "cartesia")
    assert agent["voice"] == DEFAULT_VOICES[("tts", "cartesia")]
    assert agent["llm"] == {"provider": "groq", "model": "llama-3.1-8b-instant", "temperature": 0.3}
    await form.locator("select[name=model_mode]").select_option("realtime")
    await form.locator("select[name=realtime_provider]").select_option("google")
    await expect(form.locator("input[name=voice]")).to_have_value("Puck")
    await form.locator("input[name=realtime_temperature]").fill("")
    await form.locator("button[type=submit]").click()
    agent = await eventually(agent_page, lambda body: body["model_mode"] == "realtime")
    assert (agent["realtime"]["provider"], agent["voice"], agent["realtime"]["temperature"]) == ("google", "Puck", None)

    # The number answered by that agent.
    await page.goto("/numbers")
    await page.select_option("select[aria-label='Agent for +14155550100']", "ava-support")
    await expect(page.locator(".toast.success")).to_contain_text("+14155550100 now rings ava-support")
    assert (await http.get("/v1/numbers")).json()["items"][0]["agent_name"] == "ava-support"
    # Its caller-ID pool and the organization's lines show below the numbers.
    created = await http.post("/v1/caller-id-pools", json={"name": "west"})
    assert created.status_code == 201, created.text
    added = await http.post("/v1/caller-id-pools/west/numbers", json={"number": "+14155550100", "daily_cap": 40})
    assert added.status_code == 200, added.text
    assert (await http.put("/v1/capacity", json={"max_concurrent_calls": 6, "inbound_reserve": 2})).status_code == 200
    await page.reload()
    await expect(page.locator("#caller-id-pools")).to_contain_text("west")
    await expect(page.locator("#caller-id-pools")).to_contain_text("0 / 40")
    await expect(page.locator("#org-capacity")).to_contain_text("0 outbound · 0 inbound")
    await snap(page, "settings-03-numbers")

    # The do-not-call list: one number by hand, two by CSV (one line rejected), one removed again.
    await page.goto("/do-not-call")
    await page.fill("#dnc-add-form input[name=phone]", phone(301))
    await page.fill("#dnc-add-form input[name=reason]", "Asked on the phone")
    await page.click("#dnc-add-form button[type=submit]")
    await expect(page.locator("#dnc-table tbody tr")).to_have_count(1)
    dnc_csv = f"phone,reason\n{phone(302)},complaint\nnot-a-number,oops\n{phone(303)},\n"
    await page.set_input_files(
        "input[aria-label='Do-not-call CSV']", {"name": "dnc.csv", "mimeType": "text/csv", "buffer": dnc_csv.encode()}
    )
    await expect(page.locator("#dnc-table tbody tr")).to_have_count(3)
    await expect(page.locator("text=Line 3:")).to_be_visible()
    page.once("dialog", lambda dialog: dialog.accept())
    await page.locator("#dnc-table tbody tr", has_text=phone(301)).locator("button").click()
    await expect(page.locator("#dnc-table tbody tr")).to_have_count(2)
    listed = {entry["phone"] for entry in (await http.get("/v1/dnc")).json()["items"]}
    assert listed == {phone(302), phone(303)}
    await snap(page, "settings-04-do-not-call")

    assert errors == []
    await context.close()


async def open_deliveries_until(page: Page, status: str) -> None:
    """Open the endpoint's delivery log (the page shows it as read) until its latest delivery has ``status``."""
    for _ in range(100):
        await page.locator("#webhooks-table tbody tr a").first.click()
        row = page.locator("#deliveries-table tbody tr").first
        if await row.count() and status in (await row.locator("td").nth(1).inner_text()):
            return
        await page.wait_for_timeout(200)
    raise AssertionError(f"no delivery became {status}")


async def test_an_operator_adds_a_webhook_sees_its_secret_once_and_redelivers_a_refused_event(api_stack, browser, snap):
    receiver = Receiver(plan=[Answer(410)])
    await receiver.start()
    errors: list[str] = []
    context, page = await logged_in(browser, api_stack.base_url, api_stack.org_a.email, errors)
    try:
        await page.goto("/webhooks")
        await expect(page.locator(".empty h3")).to_have_text("No endpoints yet")
        await page.fill("#webhook-create-form input[name=url]", receiver.url)
        await page.fill("#webhook-create-form input[name=events]", "campaign.started, call.ended")
        await page.click("#webhook-create-form button[type=submit]")
        await expect(page.locator("#webhooks-table tbody tr")).to_have_count(1)
        secret = page.locator("#webhook-secret .mono")
        await expect(secret).to_contain_text("whsec_")
        receiver.secret = await secret.inner_text()
        [endpoint] = (await api_stack.org_a.http.get("/v1/webhooks")).json()
        assert endpoint["events"] == ["call.ended", "campaign.started"] and "secret" not in endpoint
        await snap(page, "webhooks-01-endpoint-and-secret")

        async with api_stack.sessions() as session:
            await webhooks_service.emit(
                session,
                api_stack.client,
                api_stack.settings,
                org_id=api_stack.org_a.id,
                event_type=WebhookEventType.CAMPAIGN_STARTED,
                key="c-browser",
                ordering_key="campaign:c-browser",
                data={"campaign_id": "c-browser"},
            )
        rows = page.locator("#deliveries-table tbody tr")
        await open_deliveries_until(page, "failed")
        await expect(rows.first).to_contain_text("410 planned 410")
        await snap(page, "webhooks-02-refused")
        await rows.first.locator("button").click()
        await expect(page.locator(".toast.success", has_text="queued again")).to_contain_text("campaign.started")
        await open_deliveries_until(page, "delivered")
        await expect(rows).to_have_count(1)
        assert [event["type"] for event in receiver.processed] == ["campaign.started"]
        await snap(page, "webhooks-03-redelivered")
    finally:
        await receiver.stop()
    assert errors == []
    await context.close()


async def test_an_operator_adds_an_http_tool_tests_it_and_switches_it_on_for_an_agent(api_stack, browser, snap):
    service = BookingService()
    await service.start()
    errors: list[str] = []
    context, page = await logged_in(browser, api_stack.base_url, api_stack.org_a.email, errors)
    try:
        await page.goto("/tools")
        await expect(page.locator(".empty h3")).to_have_text("No tools yet")
        definition = await page.input_value("#tool-create-form textarea[name=definition]")
        definition = definition.replace("https://booking.example.com", service.base_url)
        definition = definition.replace('"kind": "api_key"', '"kind": "none"').replace('"slots"', '"data.slots"')
        await page.fill("#tool-create-form textarea[name=definition]", definition)
        await page.click("#tool-create-form button[type=submit]")
        await expect(page.locator("#tools-table tbody tr")).to_have_count(1)
        await page.fill("#tool-test textarea[name=arguments]", '{"day": "2026-12-01"}')
        await page.click("#tool-test button[type=submit]")
        await expect(page.locator("#tool-test-result .badge")).to_have_text("ok 200")
        await expect(page.locator("#tool-test-result pre").first).to_have_text('{"data.slots":["10:00","14:30"]}')
        assert service.requests[-1]["path"] == "/slots/2026-12-01"
        await snap(page, "tools-01-tested")

        await api_stack.org_a.http.post("/v1/agents", json=AGENT)
        await page.goto(f"/agents/{AGENT['name']}")
        toggle = page.locator("input[name=http_tool_find_slots]")
        await expect(toggle).not_to_be_checked()
        await toggle.check()
        await page.click("#agent-form button[type=submit]")
        await expect(page.locator(".toast.success", has_text="Agent saved")).to_be_visible()
        saved = (await api_stack.org_a.http.get(f"/v1/agents/{AGENT['name']}")).json()
        assert saved["http_tools"] == ["find_slots"]
        await snap(page, "tools-02-switched-on")
    finally:
        await service.stop()
    assert errors == []
    await context.close()


async def test_an_admin_connects_an_oauth_provider_through_its_consent_and_revokes_it(api_stack, browser, snap):
    api_stack.settings.oauth_token_key = Fernet.generate_key().decode()
    api_stack.settings.public_base_url = api_stack.base_url  # the provider sends the browser back here
    provider = OAuthProvider()
    await provider.start()
    errors: list[str] = []
    context, page = await logged_in(browser, api_stack.base_url, api_stack.org_a.email, errors)
    try:
        await page.goto("/connections")
        await expect(page.locator(".empty h3")).to_have_text("No connections yet")
        endpoints = provider.connection("calendar")
        form = page.locator("#connection-create-form")
        await form.locator("input[name=name]").fill("calendar")
        await form.locator("select[name=provider]").select_option("generic")
        for field in ("client_id", "client_secret", "authorize_url", "token_url", "revoke_url"):
            await form.locator(f"input[name={field}]").fill(str(endpoints[field]))
        await form.locator("button[type=submit]").click()
        await page.wait_for_url(f"{api_stack.base_url}/connections")  # there and back, through the consent
        row = page.locator("#connections-table tbody tr", has_text="calendar")
        await expect(row.locator(".status")).to_have_text("connected")
        await snap(page, "connections-01-connected")

        page.once("dialog", lambda dialog: dialog.accept())
        await row.locator("button").click()
        await expect(row.locator(".status")).to_have_text("revoked")
        assert provider.revoked and not provider.access_tokens
        assert errors == []
    finally:
        await context.close()
        await provider.stop()


async def test_an_admin_adds_edits_and_deletes_a_department(api_stack, browser, snap):
    errors: list[str] = []
    context, page = await logged_in(browser, api_stack.base_url, api_stack.org_a.email, errors)
    try:
        await page.goto("/departments")
        await expect(page.locator(".empty h3")).to_have_text("No departments yet")
        form = page.locator("#department-form")
        await form.locator("input[name=name]").fill("billing")
        await form.locator("input[name=description]").fill("Invoices, payments and refunds")
        await form.locator("input[name=timezone]").fill("Europe/London")
        await form.locator("input[name=hours]").fill("mon-fri 09:00-17:30; sat 10:00-13:00")
        await form.locator("input[name=transfer_target]").fill("+44 20 7183 8750")
        await form.locator("button[type=submit]").click()
        row = page.locator("#departments-table tbody tr", has_text="billing")
        await expect(row).to_contain_text("mon-fri 09:00-17:30; sat 10:00-13:00")
        await expect(row).to_contain_text("+442071838750 (30 s)")
        await snap(page, "departments-01-added")

        await row.get_by_role("button", name="Edit").click()
        await expect(form.locator("input[name=name]")).not_to_be_editable()
        await expect(form.locator("input[name=hours]")).to_have_value("mon-fri 09:00-17:30; sat 10:00-13:00")
        await form.locator("select[name=fallback]").select_option("message")
        await form.locator("input[name=ring_timeout_seconds]").fill("20")
        await form.locator("button[type=submit]").click()
        await expect(row.locator("td").nth(3)).to_have_text("message")
        saved = (await api_stack.org_a.http.get("/v1/departments/billing")).json()
        assert (saved["fallback"], saved["ring_timeout_seconds"]) == ("message", 20)
        assert [window["weekdays"] for window in saved["hours"]] == [[0, 1, 2, 3, 4], [5]]

        await row.get_by_role("button", name="Edit").click()
        await form.locator("input[name=hours]").fill("someday 09:00-10:00")
        await form.locator("button[type=submit]").click()
        await expect(page.locator(".toast.error", has_text="someday is not a weekday")).to_be_visible()
        await form.get_by_role("button", name="Cancel").click()
        await expect(form.locator("input[name=name]")).to_be_editable()

        # The agent editor offers the department, and saving sends the agent's choice.
        created = await api_stack.org_a.http.post("/v1/agents", json=AGENT)
        assert created.status_code == 201, created.text
        await page.goto(f"/agents/{AGENT['name']}")
        await page.locator("#agent-departments input[name=department_billing]").check()
        await page.click("#agent-form button[type=submit]")
        await expect(page.locator(".toast", has_text="Agent saved")).to_be_visible()
        agent = (await api_stack.org_a.http.get(f"/v1/agents/{AGENT['name']}")).json()
        assert agent["departments"] == ["billing"]
        assert (await api_stack.org_a.http.put(f"/v1/agents/{AGENT['name']}", json={"departments": []})).is_success

        await page.goto("/departments")
        page.once("dialog", lambda dialog: dialog.accept())
        await row.get_by_role("button", name="Delete").click()
        await expect(page.locator(".empty h3")).to_have_text("No departments yet")
        assert (await api_stack.org_a.http.get("/v1/departments/billing")).status_code == 404
    finally:
        await context.close()
    assert errors == []


RETURNS = (
    "# Returns\n\n## Refunds\n\nRefunds reach your card within 5 business days of the return arriving.\n\n"
    "## Exchanges\n\nExchange an item for another size within 30 days.\n"
)


async def test_an_admin_uploads_searches_and_deletes_an_agents_documents(api_stack, browser, snap):
    created = await api_stack.org_a.http.post("/v1/agents", json=AGENT)
    assert created.status_code == 201, created.text
    errors: list[str] = []
    context, page = await logged_in(browser, api_stack.base_url, api_stack.org_a.email, errors)
    try:
        await page.goto(f"/agents/{AGENT['name']}")
        documents = page.locator("#agent-documents")
        await expect(documents.get_by_text("No documents yet.")).to_be_visible()
        await documents.locator("input[type=file]").set_input_files(
            {"name": "returns.md", "mimeType": "text/markdown", "buffer": RETURNS.encode()}
        )
        row = documents.locator("#documents-table tbody tr", has_text="returns.md")
        await expect(row.locator("td").nth(1)).to_have_text("2")  # a section per heading with text

        await documents.locator("input[name=query]").fill("When will my refund arrive?")
        await documents.locator("#knowledge-search-form button[type=submit]").click()
        first = documents.locator("#knowledge-passages li").first
        await expect(first.locator(".passage-source")).to_have_text("returns.md, Refunds")
        await expect(first).to_contain_text("within 5 business days")
        await snap(page, "documents-01-searched")

        page.once("dialog", lambda dialog: dialog.accept())
        await row.get_by_role("button", name="Delete").click()
        await expect(documents.get_by_text("No documents yet.")).to_be_visible()
        listed = (await api_stack.org_a.http.get(f"/v1/agents/{AGENT['name']}/documents")).json()
        assert listed["items"] == []
    finally:
        await context.close()
    assert errors == []


async def test_an_operator_chats_with_an_agent_on_its_page_and_finds_the_chat_among_its_calls(api_stack, browser, snap):
    created = await api_stack.org_a.http.post(
        "/v1/agents", json={"name": "ava-chat", "instructions": "Qualify leads.", "greeting": "Hi, Ava from Acme."}
    )
    assert created.status_code == 201, created.text
    errors: list[str] = []
    context, page = await logged_in(browser, api_stack.base_url, api_stack.org_a.email, errors)
    try:
        await page.goto("/agents/ava-chat")
        talk = page.locator("#talk")
        await expect(talk.locator("#web-call")).to_have_text("Talk to this agent")
        await talk.locator("input[name=talk_phone]").fill("+14155550123")
        await talk.locator("#start-chat").click()
        log = talk.locator(".chat-log")
        await expect(log.locator(".chat-line.agent").first).to_contain_text("Hi, Ava from Acme.")
        message = talk.locator("input[name=chat_message]")
        await message.fill("Hi, yes, speaking.")
        await message.press("Enter")
        await expect(log.locator(".chat-line.you")).to_have_count(1)
        await expect(message).to_be_enabled()
        await message.fill("We have 40 employees and a budget of around 5,000 a month, and I'm interested.")
        await message.press("Enter")
        # The agent records the qualification, takes a note, records what the call came to and ends the chat.
        await expect(talk.locator("#chat-call")).to_be_visible()
        for tool in ("Share information", "Take note", "Record disposition", "End call"):
            await expect(log.locator(".chat-line.tool", has_text=tool)).to_have_count(1)
        await snap(page, "talk-01-chat")

        await page.click("a[href='/calls']")
        row = page.locator("#call-table tbody tr", has_text="ava-chat")
        await expect(row).to_contain_text("Test")
        await expect(row).to_contain_text("Qualified")
        await row.locator("a").first.click()
        await expect(page.locator("h1")).to_contain_text("Qualified")
        await expect(page.locator("body")).to_contain_text("We have 40 employees")
        calls = (await api_stack.org_a.http.get("/v1/calls", params={"agent": "ava-chat"})).json()["items"]
        [chat] = calls
        detail = (await api_stack.org_a.http.get(f"/v1/calls/{chat['id']}")).json()
        assert (detail["kind"], detail["disposition"]) == ("test", "qualified")
        for note in detail["notes"]:
            await expect(page.locator("body")).to_contain_text(note["note"])
        assert detail["notes"]
        await snap(page, "talk-02-the-chat-among-the-calls")
        assert errors == []
    finally:
        await context.close()


async def test_the_talk_button_starts_a_web_call_whose_failed_connection_ends_it(api_stack, browser, snap):
    """The page loads the vendored LiveKit client, may reach the LiveKit server (its CSP), starts a web call and,
    when the browser cannot join the room (the stand-in speaks no WebRTC signalling), ends the call it started."""
    created = await api_stack.org_a.http.post("/v1/agents", json={"name": "ava-web", "instructions": "Help callers."})
    assert created.status_code == 201, created.text
    errors: list[str] = []
    async with LiveKitStandIn() as standin:
        api_stack.settings.livekit_url = standin.url  # the API and the worker share these settings
        api_stack.settings.livekit_api_key, api_stack.settings.livekit_api_secret = LIVEKIT_KEY, LIVEKIT_SECRET
        context, page = await logged_in(browser, api_stack.base_url, api_stack.org_a.email, errors)
        try:
            await page.goto("/agents/ava-web")
            talk = page.locator("#talk")
            await talk.locator("input[name=talk_phone]").fill("+14155550123")
            await talk.locator("#web-call").click()
            await expect(page.locator(".toast.error")).to_contain_text("The call could not connect")
            await expect(talk.locator("#web-call")).to_be_visible()
            [dispatch] = standin.calls("CreateDispatch")
            assert dispatch.message.agent_name == api_stack.settings.agent_name
            await snap(page, "talk-03-web-call-not-connected")

            await eventually(
                lambda: api_stack.org_a.http.get("/v1/calls", params={"agent": "ava-web"}),
                lambda body: [(call["kind"], call["state"]) for call in body["items"]] == [("web", "completed")],
            )
            assert errors == []
        finally:
            await context.close()


async def test_the_campaign_pages_its_contacts_by_cursor_forward_and_back_without_counting_them(api_stack, browser):
    contacts = [
        {"external_id": f"p{index:03d}", "name": f"Person {index:03d}", "phone": phone(index)} for index in range(120)
    ]
    created = await api_stack.org_a.http.post(
        "/v1/campaigns", json={"name": "big", "start": False, "contacts": contacts}
    )
    assert created.status_code == 201, created.text
    campaign_id = created.json()["campaign"]["id"]
    newest = datetime.now(UTC)
    async with api_stack.sessions() as session:  # Person 000 changed last: the table's first row
        for index in range(120):
            await session.execute(
                update(ContactRow)
                .where(ContactRow.campaign_id == campaign_id, ContactRow.external_id == f"p{index:03d}")
                .values(updated_at=newest - timedelta(seconds=index))
            )
        await session.commit()

    errors: list[str] = []
    context, page = await logged_in(browser, api_stack.base_url, api_stack.org_a.email, errors)
    asked: list[httpx.URL] = []
    page.on("request", lambda request: asked.append(httpx.URL(request.url)) if "/v1/contacts" in request.url else None)
    rows = page.locator("#contact-table tbody tr")

    async def shows(first: int, count: int, number: int) -> None:
        await expect(rows).to_have_count(count)
        await expect(rows.first).to_contain_text(f"Person {first:03d}")
        await expect(rows.last).to_contain_text(f"Person {first + count - 1:03d}")
        await expect(page.locator("#contacts-page")).to_have_text(f"Page {number}")

    await page.goto(f"/campaigns/{campaign_id}")
    await shows(0, 50, 1)
    await expect(page.locator("#contacts-previous")).to_be_disabled()
    await page.click("#contacts-next")
    await shows(50, 50, 2)
    await page.click("#contacts-next")
    await shows(100, 20, 3)
    await expect(page.locator("#contacts-next")).to_be_disabled()
    await page.click("#contacts-previous")
    await shows(50, 50, 2)
    await page.click("#contacts-previous")
    await shows(0, 50, 1)
    await expect(page.locator("#contacts-previous")).to_be_disabled()

    assert len(asked) >= 5
    for url in asked:  # every page by cursor, and the first asks for no total
        assert "cursor" in url.params or url.params.get("with_total") == "false", url
    await context.close()
    assert errors == []
