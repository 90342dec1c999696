"""Ops read sealed payloads in the Temporal Web UI, through the API's codec server, in a real browser.

A dev server with its Web UI pointed at the API's ``/codec`` (as ``ringflow dev`` starts it) holds a
contact workflow whose input is sealed. In headless Chromium, an operator logs in to the dashboard
(the session cookie), opens the workflow in the Web UI and sees ciphertext: the UI does not send the
cookie until "Include cross-origin credentials" is on in its codec server settings. With it on, the
Web UI shows the contact's name and number. Screenshots go to ``test-artifacts/codec``.
"""

import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest_asyncio
from browser_helpers import chromium_or_skip, fresh_artifacts, headless_chromium
from codec_test_keys import suite_data_converter
from playwright.async_api import Page, Response, expect
from temporalio.testing import WorkflowEnvironment
from workflow_helpers import new_campaign_id, settings, start_contact

from api.main import create_app
from schemas.contact import Contact
from schemas.settings import Settings
from store.members import add_member
from store.orgs import create_org
from worker.http_server import serving

STEP_TIMEOUT_MS = 20_000
PERSON = Contact(external_id="w1", name="Genevieve Okonkwo", phone="+442079460417")
OPERATOR_EMAIL = "ops@example.com"
OPERATOR_PASSWORD = "a long enough password"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest_asyncio.fixture
async def web_ui_with_codec(session_factory, db_url) -> AsyncIterator[tuple[str, str, str]]:
    """The Web UI's URL, the API's URL and a member's email: a dev server whose UI decodes through the API."""
    chromium_or_skip()  # before starting a server the test could not use
    api_port, ui_port = free_port(), free_port()
    env = await WorkflowEnvironment.start_local(
        data_converter=suite_data_converter(),
        dev_server_existing_path=str(Path(sys.executable).parent / "temporal"),
        dev_server_log_level="error",
        ui=True,
        ui_port=ui_port,
        dev_server_extra_args=["--ui-codec-endpoint", f"http://127.0.0.1:{api_port}/codec"],
    )
    ui_url = f"http://127.0.0.1:{ui_port}"
    async with session_factory() as session:
        org, _ = await create_org(session, "ops")
        await add_member(session, org.id, OPERATOR_EMAIL, OPERATOR_PASSWORD, "admin")
        await session.commit()
    api_settings = Settings(_env_file=None, database_url=db_url, temporal_ui_url=ui_url)  # type: ignore[call-arg]
    try:
        async with serving(create_app(api_settings, env.client, session_factory), "127.0.0.1", api_port):
            campaign_id = new_campaign_id()
            # No worker polls this queue: the workflow only needs to exist, with its sealed input.
            handle = await start_contact(env.client, "nobody-polls", campaign_id, PERSON, settings())
            yield f"{ui_url}/namespaces/default/workflows/{handle.id}", f"http://127.0.0.1:{api_port}", OPERATOR_EMAIL
    finally:
        await env.shutdown()


def is_a_decode(response: Response) -> bool:
    return response.url.split("?")[0].endswith("/codec/decode") and response.request.method == "POST"


async def test_ops_read_a_sealed_workflow_input_in_the_web_ui_once_it_sends_their_login(
    web_ui_with_codec: tuple[str, str, str],
):
    workflow_page, api_url, email = web_ui_with_codec
    artifacts = fresh_artifacts("codec")

    async def snap(page: Page, name: str) -> None:
        await page.screenshot(path=str(artifacts / f"{name}.png"), full_page=True)

    async with headless_chromium() as browser:
        context = await browser.new_context(viewport={"width": 1280, "height": 1000})
        context.set_default_timeout(STEP_TIMEOUT_MS)
        page = await context.new_page()

        await page.goto(f"{api_url}/login")
        await page.fill("#email", email)
        await page.fill("#password", OPERATOR_PASSWORD)
        await page.click("button[type=submit]")
        await expect(page.locator(".org-name")).to_be_visible()

        async with page.expect_response(is_a_decode) as refused:
            await page.goto(workflow_page)
        assert (await refused.value).status == 401, "the Web UI sends no cookie until told to"
        await expect(page.get_by_role("heading", name="Input")).to_be_visible()
        await snap(page, "01-sealed-without-credentials")
        assert PERSON.phone not in await page.content()

        await page.get_by_test_id("data-encoder-status-error").click()
        await page.get_by_text("Use my browser setting and ignore Cluster-level setting.").click()
        await page.get_by_placeholder("Paste your endpoint here").fill(f"{api_url}/codec")
        await page.get_by_text("Include cross-origin credentials").click()
        await snap(page, "02-codec-settings")
        await page.get_by_role("button", name="Apply").click()

        async with page.expect_response(is_a_decode) as decoded:
            await page.reload()
        assert (await decoded.value).status == 200
        await expect(page.get_by_text(PERSON.phone).first).to_be_visible()
        await expect(page.get_by_text(PERSON.name).first).to_be_visible()
        await snap(page, "03-decoded-through-the-api")
