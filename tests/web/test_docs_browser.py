"""The docs page in a real headless Chromium against the real web server (gunicorn, as tests/support.py
starts it): Swagger UI loads from our own origin under a strict Content-Security-Policy, lists the
operations, and "Try it out" → Execute gets a real answer from the running app.

Chromium and its driver come from Debian (`make install` installs them): without them this test fails.
"""

from __future__ import annotations

import json

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as seen
from selenium.webdriver.support.ui import WebDriverWait

from tests.conftest import TEST_ENV
from tests.support import WebServer, first_pass_only, register

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
# Runs in the page before its own scripts (DevTools scripts are not subject to the page's CSP).
RECORD_CSP_VIOLATIONS = """
window.cspViolations = [];
document.addEventListener("securitypolicyviolation",
    e => window.cspViolations.push(e.violatedDirective + " " + e.blockedURI));
"""


@pytest.fixture
def server():
    web = WebServer(TEST_ENV, workers=1)
    yield web
    web.stop()


@pytest.fixture
def browser():
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                 "--window-size=1280,2000"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": RECORD_CSP_VIOLATIONS})
    yield driver
    driver.quit()


@first_pass_only
def test_docs_page_lists_operations_and_try_it_out_calls_the_app(client, server, browser):
    register(client, "docs@example.com")
    wait = WebDriverWait(browser, 15)
    browser.get(f"{server.url}/api/docs")

    login = wait.until(seen.element_to_be_clickable((By.ID, "operations-auth-post_api_v1_auth_login")))
    paths = [e.text for e in browser.find_elements(By.CSS_SELECTOR, ".opblock-summary-path")]
    assert {"/api/v1/jobs", "/api/v1/auth/login", "/api/v1/wallet"} <= set(paths)

    login.find_element(By.CSS_SELECTOR, ".opblock-summary").click()
    wait.until(seen.element_to_be_clickable((By.CSS_SELECTOR, "#operations-auth-post_api_v1_auth_login .try-out__btn"))).click()
    body = wait.until(seen.visibility_of_element_located(
        (By.CSS_SELECTOR, "#operations-auth-post_api_v1_auth_login textarea.body-param__text")))
    body.clear()
    body.send_keys(json.dumps({"email": "docs@example.com", "password": "password123"}))
    browser.find_element(By.CSS_SELECTOR, "#operations-auth-post_api_v1_auth_login .execute").click()
    status = wait.until(seen.visibility_of_element_located(
        (By.CSS_SELECTOR, "#operations-auth-post_api_v1_auth_login .live-responses-table tr.response .response-col_status")))
    answer = browser.find_element(
        By.CSS_SELECTOR, "#operations-auth-post_api_v1_auth_login .live-responses-table tr.response .response-col_description")
    assert status.text.strip() == "200", answer.text
    assert '"access_token"' in answer.text and '"token_type": "Bearer"' in answer.text

    assert browser.execute_script("return window.cspViolations") == []
    logged = [entry["message"] for entry in browser.get_log("browser")]
    assert not [m for m in logged if "Content Security Policy" in m or "Refused" in m], logged


def test_docs_page_is_served_from_our_origin_under_a_strict_policy(client):
    page = client.get("/api/docs")
    html = page.get_data(as_text=True)
    policy = page.headers["Content-Security-Policy"]
    assert page.status_code == 200 and page.headers["X-Content-Type-Options"] == "nosniff"
    assert "script-src 'self';" in policy and "frame-ancestors 'none'" in policy and "unsafe" not in policy
    assert "http" not in html and "<script>" not in html  # no CDN, no inline script
    bundle = client.get("/api/docs/static/swagger-ui-bundle.js")
    assert bundle.status_code == 200 and bundle.headers["X-Content-Type-Options"] == "nosniff"
    assert client.get("/api/docs/static/index.html").status_code == 404  # the bundle's petstore demo
    assert client.get("/api/docs/assets/init.js").status_code == 200
