"""The dashboard over HTTP: a member's login and its session cookie, the redirect of a visitor without one,
logout, and every page and vendored file being served. The pages' behaviour in a browser is
test_dashboard_browser.py."""

import re

import httpx
from api_stack import MEMBER_PASSWORD

from api.routers.dashboard import PLAIN_PAGES
from store.members import add_member

PAGES_WITH_IDS = ["/campaigns/c-123", "/calls/out_abc", "/agents/new", "/agents/ava"]
VENDORED = [
    "/static/vendor/alpinejs/cdn.min.js",
    "/static/vendor/chart.js/chart.umd.min.js",
    "/static/vendor/pico/pico.min.css",
    "/static/app.js",
    "/static/app.css",
]


async def log_in(
    http: httpx.AsyncClient, email: str, next_page: str = "/", password: str = MEMBER_PASSWORD
) -> httpx.Response:
    return await http.post("/login", data={"email": email, "password": password, "next": next_page})


def csrf_token(page: str) -> str:
    """The session's CSRF token, as a page carries it for app.js."""
    match = re.search(r'<meta name="csrf-token" content="([^"]+)">', page)
    assert match, "the page carries no CSRF token"
    return match.group(1)


# One stack per test, so each test walks every page itself rather than being parametrized per page.
PAGES = [*PLAIN_PAGES, *PAGES_WITH_IDS]


async def test_a_page_without_a_login_sends_the_visitor_to_log_in_and_back(api_stack):
    for path in PAGES:
        response = await api_stack.anonymous.get(path + "?tab=1")
        assert response.status_code == 303, path
        location = httpx.URL(response.headers["location"])
        assert location.path == "/login"
        assert location.params["next"] == path + "?tab=1"


async def test_a_wrong_password_or_an_unknown_email_is_refused_without_a_cookie(api_stack):
    for email, password in [(api_stack.org_a.email, "not the password"), ("nobody@example.com", MEMBER_PASSWORD)]:
        response = await log_in(api_stack.anonymous, email, password=password)
        assert response.status_code == 401
        assert "Wrong email or password." in response.text
        assert "set-cookie" not in response.headers


async def test_an_api_key_is_no_login(api_stack):
    response = await log_in(api_stack.anonymous, api_stack.org_a.key, password=api_stack.org_a.key)
    assert response.status_code == 401


async def test_logging_in_sets_an_http_only_strict_session_cookie_and_returns_to_the_page_asked_for(api_stack):
    response = await log_in(api_stack.anonymous, api_stack.org_a.email, "/calls?agent=ava")
    assert response.status_code == 303
    assert response.headers["location"] == "/calls?agent=ava"
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("ringflow_session=") and api_stack.org_a.key not in cookie
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie
    assert "Secure" not in cookie  # plain http, no trusted proxy saying otherwise


async def test_login_never_redirects_off_the_site(api_stack):
    for target in ["https://evil.example/", "//evil.example/", "/\\evil.example", "javascript:alert(1)"]:
        response = await log_in(api_stack.anonymous, api_stack.org_a.email, target)
        assert response.headers["location"] == "/", target


async def test_every_page_renders_for_a_logged_in_user_with_the_organization_name(api_stack):
    async with httpx.AsyncClient(base_url=api_stack.base_url) as http:
        await log_in(http, api_stack.org_b.email)
        for path in PAGES:
            response = await http.get(path)
            assert response.status_code == 200, (path, response.text)
            assert response.headers["content-type"].startswith("text/html")
            assert "Org B" in response.text and "Org A" not in response.text
            assert f'href="{api_stack.settings.temporal_ui_url}"' in response.text


async def test_logout_ends_the_session_in_the_store_so_its_cookie_no_longer_works(api_stack):
    async with httpx.AsyncClient(base_url=api_stack.base_url) as http:
        await log_in(http, api_stack.org_a.email)
        page = await http.get("/")
        assert page.status_code == 200
        stolen = http.cookies["ringflow_session"]
        token = csrf_token(page.text)
        response = await http.post("/logout", data={"csrf_token": token})
        assert response.status_code == 303 and response.headers["location"] == "/login"
        assert (await http.get("/")).status_code == 303
    async with httpx.AsyncClient(base_url=api_stack.base_url, cookies={"ringflow_session": stolen}) as replay:
        assert (await replay.get("/v1/me")).status_code == 401
        assert (await replay.get("/")).status_code == 303


async def test_logout_without_the_csrf_token_is_refused_and_the_session_lives_on(api_stack):
    async with httpx.AsyncClient(base_url=api_stack.base_url) as http:
        await log_in(http, api_stack.org_a.email)
        assert (await http.post("/logout")).status_code == 403
        assert (await http.get("/")).status_code == 200


async def test_the_cookie_authenticates_the_json_api_the_pages_call(api_stack):
    async with httpx.AsyncClient(base_url=api_stack.base_url) as http:
        await log_in(http, api_stack.org_a.email)
        response = await http.get("/v1/me")
    assert response.json()["name"] == "Org A"


async def test_the_front_end_files_are_served_without_a_login(api_stack):
    for path in VENDORED:
        response = await api_stack.anonymous.get(path)
        assert response.status_code == 200, path
        assert len(response.content) > 1000, path


async def test_the_login_page_lets_a_visitor_with_a_working_cookie_straight_through(api_stack):
    async with httpx.AsyncClient(base_url=api_stack.base_url) as http:
        assert (await http.get("/login?next=/agents")).status_code == 200
        await log_in(http, api_stack.org_a.email)
        response = await http.get("/login?next=/agents")
    assert response.status_code == 303 and response.headers["location"] == "/agents"


async def test_the_departments_page_and_an_agents_documents_section_carry_their_components(api_stack):
    async with httpx.AsyncClient(base_url=api_stack.base_url, timeout=30) as http:
        await log_in(http, api_stack.org_a.email)
        departments = await http.get("/departments")
        assert 'x-data="departmentsPage()"' in departments.text and 'id="department-form"' in departments.text
        assert '<a href="/departments" aria-current="page">Departments</a>' in departments.text
        agent = await http.get("/agents/ava")
        assert 'x-data="agentDocuments(&#34;ava&#34;)"' in agent.text and 'id="knowledge-search-form"' in agent.text
        new_agent = await http.get("/agents/new")
        assert "agentDocuments" not in new_agent.text, "a new agent has no documents to manage yet"


async def test_the_department_writes_a_page_makes_need_the_csrf_token_and_an_admins_role(api_stack):
    department = {
        "name": "billing",
        "description": "Invoices and refunds",
        "timezone": "Europe/London",
        "hours": [{"start": "09:00", "end": "17:00", "weekdays": [0, 1, 2, 3, 4]}],
        "transfer_target": "+442071838750",
    }
    viewer = f"viewer@{api_stack.org_a.id}.example.com"
    async with api_stack.sessions() as session:
        await add_member(session, api_stack.org_a.id, viewer, MEMBER_PASSWORD, "viewer")
        await session.commit()
    async with httpx.AsyncClient(base_url=api_stack.base_url, timeout=30) as http:
        await log_in(http, viewer)
        token = csrf_token((await http.get("/departments")).text)
        assert (await http.get("/v1/departments")).status_code == 200
        refused = await http.post("/v1/departments", json=department, headers={"X-CSRF-Token": token})
        assert refused.status_code == 403
    async with httpx.AsyncClient(base_url=api_stack.base_url, timeout=30) as http:
        await log_in(http, api_stack.org_a.email)
        token = csrf_token((await http.get("/departments")).text)
        assert (await http.post("/v1/departments", json=department)).status_code == 403
        created = await http.post("/v1/departments", json=department, headers={"X-CSRF-Token": token})
        assert created.status_code == 201, created.text
        deleted = await http.delete("/v1/departments/billing", headers={"X-CSRF-Token": token})
        assert deleted.status_code == 204
