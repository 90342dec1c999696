"""The dashboard over HTTP: login and its cookie, the redirect of a visitor without one, logout, and
every page and vendored file being served. The pages' behaviour in a browser is test_dashboard_browser.py."""

import httpx

from api.routers.dashboard import PLAIN_PAGES

PAGES_WITH_IDS = ["/campaigns/c-123", "/calls/out_abc", "/agents/new", "/agents/ava"]
VENDORED = [
    "/static/vendor/alpinejs/cdn.min.js",
    "/static/vendor/chart.js/chart.umd.min.js",
    "/static/vendor/pico/pico.min.css",
    "/static/app.js",
    "/static/app.css",
]


async def log_in(http: httpx.AsyncClient, key: str, next_page: str = "/") -> httpx.Response:
    return await http.post("/login", data={"api_key": key, "next": next_page})


# One stack per test, so each test walks every page itself rather than being parametrized per page.
PAGES = [*PLAIN_PAGES, *PAGES_WITH_IDS]


async def test_a_page_without_a_login_sends_the_visitor_to_log_in_and_back(api_stack):
    for path in PAGES:
        response = await api_stack.anonymous.get(path + "?tab=1")
        assert response.status_code == 303, path
        location = httpx.URL(response.headers["location"])
        assert location.path == "/login"
        assert location.params["next"] == path + "?tab=1"


async def test_a_wrong_key_is_refused_on_the_login_form_without_a_cookie(api_stack):
    response = await log_in(api_stack.anonymous, "rf_wrong")
    assert response.status_code == 401
    assert "That API key is not valid." in response.text
    assert "set-cookie" not in response.headers


async def test_logging_in_sets_an_http_only_strict_cookie_and_returns_to_the_page_asked_for(api_stack):
    response = await log_in(api_stack.anonymous, api_stack.org_a.key, "/calls?agent=ava")
    assert response.status_code == 303
    assert response.headers["location"] == "/calls?agent=ava"
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"ringflow_api_key={api_stack.org_a.key};")
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie


async def test_login_never_redirects_off_the_site(api_stack):
    for target in ["https://evil.example/", "//evil.example/", "/\\evil.example", "javascript:alert(1)"]:
        response = await log_in(api_stack.anonymous, api_stack.org_a.key, target)
        assert response.headers["location"] == "/", target


async def test_every_page_renders_for_a_logged_in_user_with_the_organization_name(api_stack):
    async with httpx.AsyncClient(base_url=api_stack.base_url) as http:
        await log_in(http, api_stack.org_b.key)
        for path in PAGES:
            response = await http.get(path)
            assert response.status_code == 200, (path, response.text)
            assert response.headers["content-type"].startswith("text/html")
            assert "Org B" in response.text and "Org A" not in response.text
            assert f'href="{api_stack.settings.temporal_ui_url}"' in response.text


async def test_logout_forgets_the_key(api_stack):
    async with httpx.AsyncClient(base_url=api_stack.base_url) as http:
        await log_in(http, api_stack.org_a.key)
        assert (await http.get("/")).status_code == 200
        response = await http.post("/logout")
        assert response.status_code == 303 and response.headers["location"] == "/login"
        assert (await http.get("/")).status_code == 303


async def test_the_cookie_authenticates_the_json_api_the_pages_call(api_stack):
    async with httpx.AsyncClient(base_url=api_stack.base_url) as http:
        await log_in(http, api_stack.org_a.key)
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
        await log_in(http, api_stack.org_a.key)
        response = await http.get("/login?next=/agents")
    assert response.status_code == 303 and response.headers["location"] == "/agents"
