"""The dashboard in a real browser: headless Chromium (Debian's ``chromium``) driven by Playwright,
against the whole stack (uvicorn, Temporal dev server, sim worker with the scripted agent, real DB).

One journey, as a user makes it: log in with an API key, upload a CSV on the new-campaign form and
read the per-line import report, watch the campaign appear and complete on a campaign list that was
already open (only its server-sent events can tell it), open the campaign, then a call, and read the
transcript. Screenshots of every step go to ``test-artifacts/dashboard/`` (CI keeps them).
"""

import os
import re
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from api_helpers import phone
from playwright.async_api import Browser, Page, async_playwright, expect

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "dashboard"
# Generous for a loaded CI machine; the whole journey takes a few seconds when the machine is idle.
STEP_TIMEOUT_MS = 20_000

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


@pytest.fixture(scope="module")
def chromium_path() -> Path:
    """Skipped only on a developer machine without Chromium; CI must have it (``.ci/run`` installs it)."""
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing on CI: .ci/run should have installed Debian's chromium")
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium); CI runs this test")
    return CHROMIUM


@pytest_asyncio.fixture
async def browser(chromium_path: Path) -> AsyncIterator[Browser]:
    shutil.rmtree(ARTIFACTS, ignore_errors=True)
    ARTIFACTS.mkdir(parents=True)
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(chromium_path), args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield browser
        finally:
            await browser.close()


async def snap(page: Page, name: str) -> None:
    await page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def fail_on_page_errors(page: Page, errors: list[str]) -> None:
    """A script error on any page fails the test, even when the page still looks right."""
    page.on("pageerror", lambda error: errors.append(f"{page.url}: {error}"))


async def test_a_user_uploads_a_csv_watches_the_campaign_complete_live_and_reads_a_transcript(api_stack, browser):
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
    await page.fill("#api_key", "rf_not-a-real-key")
    await page.click("button[type=submit]")
    await expect(page.locator("#login-error")).to_have_text("That API key is not valid.")
    await snap(page, "01-login-refused")
    await page.fill("#api_key", api_stack.org_a.key)
    await page.click("button[type=submit]")
    await expect(page.locator(".org-name")).to_have_text("Org A")
    cookie = next(c for c in await context.cookies() if c["name"] == "ringflow_api_key")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"

    # A second tab keeps the campaign list open: the new campaign can only reach it through its event stream.
    campaign_list = await context.new_page()
    fail_on_page_errors(campaign_list, errors)
    await campaign_list.goto("/")
    await expect(campaign_list.locator(".empty h3")).to_have_text("No campaigns yet")
    await expect(campaign_list.locator(".subtitle .badge")).to_have_text("Live")
    await snap(campaign_list, "02-campaign-list-empty")

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
    await snap(page, "03-new-campaign-form")
    await page.click("#new-campaign-form button[type=submit]")

    report = page.locator("#import-report")
    await expect(report.locator(".report-summary")).to_contain_text("3 imported")
    await expect(report.locator("#import-errors tbody tr")).to_have_count(1)
    await expect(report.locator("#import-errors tbody tr td").first).to_have_text("4")
    await expect(report.locator("#import-errors tbody")).to_contain_text("not a phone number")
    await snap(page, "04-import-report")

    # The list that was open all along shows the campaign, then its completion.
    row = campaign_list.locator("#campaign-table tbody tr", has_text="Spring renewals")
    await expect(row).to_have_count(1)
    await expect(row.locator(".campaign-status")).to_have_text("Completed")
    await expect(row.locator("[role=progressbar]")).to_have_attribute("aria-valuenow", "100")
    await expect(row).to_contain_text("3 of 3 done")
    await snap(campaign_list, "05-campaign-list-completed")

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
    await snap(page, "06-campaign-page")

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
    await snap(page, "07-call-transcript")

    assert errors == []
    await context.close()
