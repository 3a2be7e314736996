"""Roles in headless Chromium against the real server: an admin invites a viewer and an
operator, who set their passwords through the one-time links and are logged in; the
viewer's click on a charger operation is refused with the 403 page; the operator is
refused the users page, creates an API token in the UI, which the API accepts until it is
revoked in the UI (then 401); the API docs render from our OpenAPI document under the
Content-Security-Policy; the favicon answers.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request

from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

from tests.browser.support import ARTIFACTS, PASSWORD

CHARGER = "ROLES-1"


def log_in(browser, server: str, username: str, password: str) -> None:
    """Log in through the form and land on the dashboard."""
    browser.get(server + "/ocpp/login")
    browser.find_element(By.NAME, "username").send_keys(username)
    browser.find_element(By.NAME, "password").send_keys(password)
    browser.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    WebDriverWait(browser, 15).until(lambda d: d.current_url.rstrip("/").endswith("/ocpp"))


def log_out(browser) -> None:
    """The Log out button of the top bar."""
    browser.find_element(By.CSS_SELECTOR, "form.logout button").click()
    WebDriverWait(browser, 15).until(expected_conditions.url_contains("/ocpp/login"))


def invite(browser, server: str, username: str, role: str) -> str:
    """Invite a user on the users page; the set-password link it shows once."""
    browser.get(server + "/ocpp/admin/users/")
    browser.find_element(By.CSS_SELECTOR, "#invite-form input[name=username]").send_keys(username)
    browser.find_element(By.CSS_SELECTOR, f"#invite-form option[value={role}]").click()
    browser.find_element(By.ID, "invite").click()
    link = WebDriverWait(browser, 15).until(
        expected_conditions.presence_of_element_located((By.ID, "set-password-link"))
    )
    return link.get_attribute("value")


def set_password(browser, link: str, password: str) -> None:
    """Open a one-time link, choose the password, land on the dashboard logged in."""
    browser.get(link)
    browser.find_element(By.NAME, "password").send_keys(password)
    browser.find_element(By.NAME, "confirm").send_keys(password)
    browser.find_element(By.ID, "set-password").click()
    WebDriverWait(browser, 15).until(lambda d: d.current_url.rstrip("/").endswith("/ocpp"))


def api_status(server: str, path: str, token: str) -> int:
    """The status of a GET of the API with a Bearer token."""
    request = urllib.request.Request(server + path)
    request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            json.loads(response.read())
            return response.status
    except urllib.error.HTTPError as exc:
        assert exc.headers["Content-Type"].startswith("application/json")
        return exc.code


def test_roles_users_tokens_and_api_docs(server, browser):
    wait = WebDriverWait(browser, 15)
    log_in(browser, server, "admin", PASSWORD)
    browser.get(server + "/ocpp/admin/chargers/")
    browser.find_element(By.CSS_SELECTOR, "form.inline-form input[name=id]").send_keys(CHARGER)
    browser.find_element(By.ID, "add").click()
    wait.until(expected_conditions.url_contains(f"/ocpp/admin/chargers/{CHARGER}/"))
    viewer_link = invite(browser, server, "vera", "viewer")
    operator_link = invite(browser, server, "otto", "operator")
    row = browser.find_element(By.CSS_SELECTOR, '#users tr[data-user="otto"]')
    assert "invited" in row.text and "never" in row.text
    browser.save_screenshot(str(ARTIFACTS / "roles-users.png"))
    log_out(browser)

    # The viewer sets a password through the link, is logged in, and is refused an operation.
    set_password(browser, viewer_link, "vera-password")
    assert browser.find_element(By.CSS_SELECTOR, ".who").text == "vera"
    nav = browser.find_element(By.CSS_SELECTOR, "header nav").text
    assert "API tokens" in nav and "API docs" in nav and "Users" not in nav
    browser.get(f"{server}/ocpp/admin/chargers/{CHARGER}/operations/")
    send = browser.find_element(By.CSS_SELECTOR, 'form[action*="/operations/"] [type=submit]')
    browser.execute_script("arguments[0].closest('details') && (arguments[0].closest('details')"
                           ".open = true); arguments[0].scrollIntoView();", send)  # fmt: skip
    send.click()
    refusal = wait.until(expected_conditions.presence_of_element_located((By.CSS_SELECTOR,
                                                                          ".refused")))  # fmt: skip
    assert refusal.text == "Your role (viewer) may not make this change: it requires operator."
    assert browser.find_element(By.TAG_NAME, "h1").text == "403 Forbidden"
    browser.save_screenshot(str(ARTIFACTS / "roles-403.png"))
    log_out(browser)

    # The operator is refused the users page; a token made in the UI works until revoked.
    set_password(browser, operator_link, "otto-password")
    browser.get(server + "/ocpp/admin/users/")
    refusal = browser.find_element(By.CSS_SELECTOR, ".refused").text
    assert refusal == "Your role (operator) may not open this page: it requires admin."
    browser.get(server + "/ocpp/admin/tokens/")
    browser.find_element(By.CSS_SELECTOR, "#token-form input[name=label]").send_keys("script")
    browser.find_element(By.CSS_SELECTOR, "#token-form option[value=operator]").click()
    assert not browser.find_elements(By.CSS_SELECTOR, "#token-form option[value=admin]")
    browser.find_element(By.ID, "create-token").click()
    token = wait.until(expected_conditions.presence_of_element_located((By.ID, "token-value")))
    token = token.get_attribute("value")
    assert api_status(server, "/ocpp/api/rfid/", token) == 200
    assert api_status(server, "/ocpp/api/alert-channels/", token) == 403  # admin only
    browser.get(server + "/ocpp/admin/tokens/")
    row = browser.find_element(By.CSS_SELECTOR, "#tokens tbody tr")
    assert "script" in row.text and "otto" in row.text and "never" not in row.text.split()[-1]
    browser.save_screenshot(str(ARTIFACTS / "roles-tokens.png"))
    row.find_element(By.CSS_SELECTOR, "button.revoke").click()
    flash = wait.until(expected_conditions.presence_of_element_located((By.ID, "flash")))
    assert flash.text == "Token script revoked."
    assert api_status(server, "/ocpp/api/rfid/", token) == 401

    # The API docs: Swagger UI from the package renders our document, no CSP violation.
    browser.get_log("browser")  # forget earlier messages
    browser.get(server + "/ocpp/admin/api-docs/")
    wait.until(expected_conditions.presence_of_element_located(
        (By.CSS_SELECTOR, "#swagger-ui .opblock")))  # fmt: skip
    paths = [el.text for el in browser.find_elements(By.CSS_SELECTOR, ".opblock-summary-path")]
    assert "/ocpp/chargers/{cid}/action/" in paths
    errors = [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
    assert errors == [], errors
    browser.save_screenshot(str(ARTIFACTS / "roles-api-docs.png"))

    # The favicon: the pages link the SVG; /favicon.ico answers it too (no 404 in the log).
    icon = browser.find_element(By.CSS_SELECTOR, "link[rel=icon]").get_attribute("href")
    assert icon.startswith(server + "/static/favicon.svg")
    with urllib.request.urlopen(server + "/favicon.ico", timeout=10) as response:
        assert response.headers["Content-Type"] == "image/svg+xml"
