"""The web UI in headless Chromium against the real gateway, worker and cognitive-services.

Every test goes through the browser the way a user does (labels, buttons, the keyboard) and
checks what the user sees; each page is saved as a screenshot under build/ui/.
"""

from __future__ import annotations

import re
import time
import uuid

import httpx
import pytest
from playwright.sync_api import Page, expect

from aiwfe.core import auth
from ci.paths import REPO
from tests.ui.support import ADMIN_PASSWORD, ADMIN_USER, PHONE, Platform, screenshot

pytestmark = pytest.mark.slow


def login(page: Page, password: str = ADMIN_PASSWORD) -> None:
    page.goto("/")
    expect(page.get_by_role("heading", name="Log in to AIWFE")).to_be_visible()
    page.get_by_label("User name").fill(ADMIN_USER)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Workflows", exact=True)).to_be_visible()


def create_workflow(page: Page, name: str, template: str, steps: str | None = None):
    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_label("Template").select_option(template)
    if steps is not None:
        page.get_by_label("Steps (JSON list)").fill(steps)
    page.get_by_role("button", name="Create workflow").click()
    return page.locator("li.run", has=page.locator(".run-name", has_text=re.compile(f"^{name}$")))


def no_horizontal_overflow(page: Page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")


def test_gateway_serves_the_spa_with_caching_headers(platform: Platform) -> None:
    with httpx.Client(base_url=platform.gateway, timeout=10) as client:
        index = client.get("/")
        assert index.status_code == 200
        assert index.headers["cache-control"] == "no-cache"
        assert '<div id="root">' in index.text
        asset = re.search(r'src="(/assets/[^"]+\.js)"', index.text)
        assert asset, index.text
        js = client.get(asset[1])
        assert js.status_code == 200
        assert "immutable" in js.headers["cache-control"]
        assert "javascript" in js.headers["content-type"]
        deep = client.get("/decisions")  # SPA fallback: a client-side route gets index.html
        assert deep.status_code == 200
        assert deep.text == index.text
        missing_api = client.get("/api/v1/no-such-route")
        assert missing_api.status_code == 404
        assert missing_api.headers["content-type"].startswith("application/json")


def test_login_error_in_words_then_login_and_health(page: Page) -> None:
    page.goto("/")
    expect(page.get_by_role("heading", name="Log in to AIWFE")).to_be_visible()
    screenshot(page, "login")
    page.get_by_label("User name").fill(ADMIN_USER)
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Log in").click()
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("invalid username or password")
    expect(alert).to_contain_text("Request ID:")
    screenshot(page, "login-error")

    page.get_by_label("Password").fill(ADMIN_PASSWORD)
    page.get_by_label("Password").press("Enter")
    expect(page.get_by_role("heading", name="Workflows", exact=True)).to_be_visible()
    expect(page).to_have_url(re.compile(r"/workflows$"))
    expect(page.get_by_test_id("user-name")).to_have_text("admin (admin)")
    health = page.get_by_role("list", name="Component health")
    for component in ("database", "redis", "cognitive"):
        expect(health.locator(f'[data-component="{component}"]')).to_have_class(
            re.compile("badge-ok")
        )
    assert page.console_errors == []  # type: ignore[attr-defined]

    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_text("You are logged out.")).to_be_visible()
    assert page.evaluate("sessionStorage.length") == 0


def test_workflow_progress_arrives_live_over_sse_until_it_completes(page: Page) -> None:
    sse_requests = []
    page.on("request", lambda r: sse_requests.append(r) if r.url.endswith("/events") else None)
    login(page)
    name = f"slow-{uuid.uuid4().hex[:6]}"
    run = create_workflow(page, name, "slow")
    expect(run).to_be_visible()
    # The page never polls: every change below arrives as a server-sent event.
    expect(run).to_have_attribute("data-status", "running", timeout=20_000)
    expect(run.get_by_text(re.compile(r"^[12]/3 steps$"))).to_be_visible(timeout=20_000)
    screenshot(page, "workflows-running")
    expect(run).to_have_attribute("data-status", "succeeded", timeout=60_000)
    expect(run.get_by_text("3/3 steps")).to_be_visible()
    expect(run.get_by_role("button", name=re.compile("^Cancel"))).to_have_count(0)

    assert sse_requests, "the page opened no event stream"
    first = sse_requests[0]
    assert first.headers.get("authorization", "").startswith("Bearer ")
    assert "access_token" not in first.url

    # A run through the cognitive modules: perceive -> remember -> recall.
    run2 = create_workflow(page, f"remember-{uuid.uuid4().hex[:6]}", "remember")
    expect(run2).to_have_attribute("data-status", "succeeded", timeout=60_000)
    run2.get_by_role("button", name="Details").click()
    expect(run2.locator("pre.result")).to_contain_text('"steps": 3')
    screenshot(page, "workflows")


def test_cancel_a_running_workflow(page: Page) -> None:
    login(page)
    name = f"cancel-{uuid.uuid4().hex[:6]}"
    run = create_workflow(page, name, "slow")
    expect(run).to_have_attribute("data-status", re.compile("queued|running"))
    run.get_by_role("button", name=re.compile("^Cancel")).click()
    expect(run).to_have_attribute("data-status", "cancelled", timeout=20_000)
    expect(run.get_by_role("button", name=re.compile("^Cancel"))).to_have_count(0)
    # Still cancelled after a reload (the gateway stored it; the worker did not finish it).
    time.sleep(1)
    page.reload()
    reloaded = page.locator(
        "li.run", has=page.locator(".run-name", has_text=re.compile(f"^{name}$"))
    )
    expect(reloaded).to_have_attribute("data-status", "cancelled")


def test_api_validation_error_is_shown_in_words(page: Page) -> None:
    login(page)
    create_workflow(
        page, "invalid", "perceive", '[{"type": "wait", "timeout_s": 0, "params": {"seconds": 1}}]'
    )
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text(
        "Some fields are not valid: steps.0.timeout_s: Input should be greater than 0."
    )
    screenshot(page, "error")


def test_a_step_that_fails_shows_the_worker_error(page: Page) -> None:
    login(page)
    name = f"fails-{uuid.uuid4().hex[:6]}"
    # recall needs a query: neither the step's params nor the run input give one.
    run = create_workflow(page, name, "perceive", '[{"type": "perceive"}, {"type": "recall"}]')
    expect(run).to_have_attribute("data-status", "failed", timeout=60_000)
    expect(run.locator(".alert-error")).to_contain_text("Error: step 1 (recall)")
    expect(run.locator(".alert-error")).to_contain_text("query")
    expect(run.get_by_text("1/2 steps")).to_be_visible()


def test_session_rejected_by_the_gateway_logs_out_with_a_reason(
    page: Page, platform: Platform
) -> None:
    # A well-formed admin token, signed by a key that is not the gateway's.
    who = auth.Principal(uuid.uuid4(), "admin", True)
    forged = auth.issue_token(who, auth.SigningKey.generate(), 600, "aiwfe")
    page.goto("/")
    page.evaluate("t => sessionStorage.setItem('aiwfe.token', t)", forged)
    page.goto("/workflows")
    expect(page.get_by_role("status")).to_contain_text(
        "You were logged out: token signed by an unknown key"
    )
    expect(page.get_by_label("User name")).to_be_visible()


def test_memory_ingest_and_semantic_search(page: Page) -> None:
    login(page)
    page.get_by_role("link", name="Memory").click()
    expect(page.get_by_role("heading", name="Memory", exact=True)).to_be_visible()
    namespace = f"ui-e2e-{uuid.uuid4().hex[:8]}"
    page.get_by_label("Namespace").fill(namespace)
    page.get_by_label("Text to remember").fill(
        "The staging cluster falcon-seven is upgraded every Tuesday at ten UTC. "
        "Penguins live in the southern hemisphere."
    )
    page.get_by_label("Tags (comma separated)").fill("ops, e2e")
    page.get_by_role("button", name="Ingest").click()
    result = page.get_by_test_id("ingest-result")
    expect(result).to_contain_text(re.compile(r"Extracted [1-9]\d* facts?, [1-9]\d* new\."))

    page.get_by_label("Query").fill("when is the staging cluster upgraded?")
    page.get_by_label("Results").fill("1")
    page.get_by_role("button", name="Search").click()
    hits = page.get_by_test_id("search-results").locator("li")
    expect(hits).to_have_count(1)
    expect(hits.first).to_contain_text("falcon-seven")
    expect(hits.first).to_contain_text(re.compile(r"similarity \d\.\d{3}"))
    expect(hits.first).to_contain_text("tags: ops, e2e")
    screenshot(page, "memory")

    # A namespace the API refuses is explained before anything is sent.
    page.get_by_label("Namespace").fill("has spaces")
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_role("alert")).to_contain_text("no spaces")


def test_decision_analysis_scores_options_with_rationale(page: Page) -> None:
    login(page)
    page.get_by_role("link", name="Decisions").click()
    expect(page.get_by_role("heading", name="Decision analysis")).to_be_visible()
    page.get_by_label("What do you need to decide?").fill("Which database for the new service?")
    page.get_by_label("Criterion 1 name").fill("cost")
    page.get_by_label("Weight of criterion 1").fill("2")
    page.get_by_label("Goal of criterion 1").select_option("min")
    page.get_by_role("button", name="Add criterion").click()
    page.get_by_label("Criterion 2 name").fill("performance")
    page.get_by_role("button", name="Add option").click()
    values = {"Postgres": ("3", "8"), "SQLite": ("1", "3"), "Oracle": ("9", "9")}
    for index, (option, (cost, perf)) in enumerate(values.items()):
        page.get_by_label(f"Option {index + 1} name").fill(option)
        page.get_by_label(f"cost of option {index + 1}").fill(cost)
        page.get_by_label(f"performance of option {index + 1}").fill(perf)
    page.get_by_role("button", name="Analyse").click()

    result = page.get_by_test_id("decision-result")
    # cost (weight 2, lower is better) and performance (weight 1), min-max normalised:
    # Postgres 2/3*0.75 + 1/3*5/6 = 0.778, SQLite 0.667, Oracle 0.333.
    expect(page.get_by_test_id("recommendation")).to_have_text("Postgres")
    rows = result.locator("tbody tr")
    expect(rows).to_have_count(3)
    expect(rows.nth(0)).to_contain_text("Postgres")
    expect(rows.nth(0)).to_contain_text("0.778")
    expect(rows.nth(1)).to_contain_text("SQLite")
    expect(rows.nth(2)).to_contain_text("Oracle")
    rationale = page.get_by_test_id("rationale")
    expect(rationale).not_to_be_empty()
    expect(rationale).not_to_have_text("No rationale given.")
    screenshot(page, "decisions")

    # The form's own checks speak in words too.
    page.get_by_label("Option 2 name").fill("Postgres")
    page.get_by_role("button", name="Analyse").click()
    expect(page.get_by_role("alert")).to_have_text("Each option must have its own name.")


def test_feature_flags_for_admins(page: Page, platform: Platform) -> None:
    spec = httpx.get(platform.gateway + "/api/openapi.json", timeout=10).json()
    if "/api/v1/flags" not in spec.get("paths", {}):
        pytest.skip("the gateway has no /api/v1/flags route yet (forward to config-manager)")
    login(page)
    page.get_by_role("link", name="Feature flags").click()
    table = page.get_by_test_id("flags-table")
    row = table.locator("tr", has=page.locator("code", has_text=re.compile("^beta_reasoning$")))
    expect(row).to_contain_text("off")
    screenshot(page, "flags")
    row.get_by_role("button", name=re.compile("^Turn on")).click()
    expect(row).to_contain_text("on")
    page.reload()
    expect(
        page.get_by_test_id("flags-table").locator(
            "tr", has=page.locator("code", has_text=re.compile("^beta_reasoning$"))
        )
    ).to_contain_text("on")


def test_keyboard_only_login_and_navigation(page: Page) -> None:
    page.goto("/")
    # Focus starts on the page heading; the next Tab reaches the first field.
    expect(page.get_by_role("heading", name="Log in to AIWFE")).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.get_by_label("User name")).to_be_focused()
    page.keyboard.press("Shift+Tab")
    expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.get_by_label("User name")).to_be_focused()
    page.keyboard.type(ADMIN_USER)
    page.keyboard.press("Tab")
    expect(page.get_by_label("Password")).to_be_focused()
    page.keyboard.type(ADMIN_PASSWORD)
    page.keyboard.press("Enter")
    heading = page.get_by_role("heading", name="Workflows", exact=True)
    expect(heading).to_be_focused()  # focus moves to the page heading

    page.get_by_role("link", name="Memory").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Memory", exact=True)).to_be_focused()
    expect(page).to_have_url(re.compile(r"/memory$"))
    page.go_back()
    expect(page.get_by_role("heading", name="Workflows", exact=True)).to_be_visible()


def test_phone_width_layout(phone_page: Page) -> None:
    page = phone_page
    assert page.viewport_size == PHONE
    page.goto("/")
    expect(page.get_by_label("User name")).to_be_visible()
    assert no_horizontal_overflow(page)
    screenshot(page, "login-phone")
    login(page)
    for link, heading, shot in (
        ("Workflows", "Workflows", "workflows-phone"),
        ("Memory", "Memory", "memory-phone"),
        ("Decisions", "Decision analysis", "decisions-phone"),
    ):
        page.get_by_role("link", name=link).click()
        expect(page.get_by_role("heading", name=heading, exact=True)).to_be_visible()
        assert no_horizontal_overflow(page), f"{link} scrolls sideways at {PHONE}"
        screenshot(page, shot)
    # The form and the run list stack in one column.
    page.get_by_role("link", name="Workflows").click()
    form = page.locator("form.card").bounding_box()
    runs = page.get_by_role("heading", name="Runs").bounding_box()
    assert form and runs and runs["y"] > form["y"] + form["height"] - 1


def test_deep_link_reload_keeps_the_page_and_session(page: Page) -> None:
    login(page)
    page.goto("/decisions")
    expect(page.get_by_role("heading", name="Decision analysis")).to_be_visible()
    expect(page.get_by_role("link", name="Decisions")).to_have_attribute("aria-current", "page")
    assert page.console_errors == []  # type: ignore[attr-defined]


AXE = REPO / "ui" / "node_modules" / "axe-core" / "axe.min.js"


def axe_violations(page: Page) -> list[str]:
    """WCAG 2.x A/AA violations axe-core finds on the page as it is now."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        # Evaluated by the test driver, not added as an inline <script>: the gateway's CSP
        # (script-src 'self') rightly refuses inline scripts, and the pages are checked under it.
        page.evaluate("() => {\n" + AXE.read_text() + "\n}")
    result = page.evaluate(
        """() => axe.run(document, {runOnly: {type: 'tag',
             values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}})"""
    )
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at "
        + ", ".join(str(n["target"]) for n in v["nodes"][:3])
        for v in result["violations"]
    ]


def test_axe_check_itself_catches_an_unlabelled_field(page: Page) -> None:
    page.set_content("<!doctype html><html lang=en><title>t</title><main><input></main></html>")
    assert any(v.startswith("label ") for v in axe_violations(page))


@pytest.mark.parametrize("viewport", ["desktop", "phone"])
def test_pages_pass_axe_wcag_checks(page: Page, phone_page: Page, viewport: str) -> None:
    assert AXE.is_file(), f"{AXE} missing: npm ci in ui/ (python -m ci.ui build)"
    page = page if viewport == "desktop" else phone_page
    page.goto("/")
    expect(page.get_by_label("User name")).to_be_visible()
    problems = {"login": axe_violations(page)}
    login(page)
    for link, heading in (
        ("Workflows", "Workflows"),
        ("Memory", "Memory"),
        ("Decisions", "Decision analysis"),
        ("Feature flags", "Feature flags"),
    ):
        page.get_by_role("link", name=link).click()
        expect(page.get_by_role("heading", name=heading, exact=True)).to_be_visible()
        page.wait_for_load_state("networkidle")
        problems[link] = axe_violations(page)
    assert {k: v for k, v in problems.items() if v} == {}
