"""The operator's view of profile 3 in a real browser: the security page shows the
built-in CA with the fingerprint of DATA_DIR/ca/ca-cert.pem, and a charger that got a
certificate (CSR over a raw WebSocket, made in the test) lists it on its security page,
where profile 3 can then be saved. Screenshots: profile3-N-*.png in tests/artifacts/."""

from __future__ import annotations

import json

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait
from websockets.sync.client import connect

from csms.certificate_authority import load_ca
from tests.browser.support import ARTIFACTS, PASSWORD, running_server
from tests.certificate_helpers import csr_pem

CHARGER = "PKI-1"


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("profile3-data")


@pytest.fixture(scope="module")
def server(data_dir):
    with running_server(data_dir) as url:
        yield url


def get_certificate(server: str) -> str:
    """Boot, send a CSR, answer CertificateSigned; the chain received."""
    url = server.replace("http://", "ws://") + f"/ocpp/{CHARGER}"
    with connect(url, subprotocols=["ocpp1.6"]) as ws:
        boot = {"chargePointVendor": "V", "chargePointModel": "M"}
        ws.send(json.dumps([2, "b", "BootNotification", boot]))
        assert json.loads(ws.recv(10))[2]["status"] == "Accepted"
        ws.send(json.dumps([2, "s", "SignCertificate", {"csr": csr_pem(CHARGER)[0]}]))
        assert json.loads(ws.recv(10)) == [3, "s", {"status": "Accepted"}]
        call = json.loads(ws.recv(10))
        assert call[2] == "CertificateSigned"
        ws.send(json.dumps([3, call[1], {"status": "Accepted"}]))
        return call[3]["certificateChain"]


def test_the_ca_fingerprint_and_a_charger_certificate(server, data_dir, browser):
    wait = WebDriverWait(browser, 15)
    ca = load_ca(data_dir / "ca" / "ca-cert.pem", data_dir / "ca" / "ca-key.pem")
    browser.get(server + "/ocpp/login")
    browser.find_element(By.NAME, "username").send_keys("admin")
    browser.find_element(By.NAME, "password").send_keys(PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    wait.until(lambda d: "/ocpp/login" not in d.current_url)

    browser.get(server + "/ocpp/admin/security/")
    shown = browser.find_element(By.ID, "ca-fingerprint").text
    assert shown == ca.fingerprint
    assert browser.find_element(By.ID, "ca-mode").text == "by this server, at once"
    browser.find_element(By.ID, "ca").location_once_scrolled_into_view  # noqa: B018
    browser.save_screenshot(str(ARTIFACTS / "profile3-1-security-ca.png"))

    get_certificate(server)
    browser.get(server + f"/ocpp/admin/chargers/{CHARGER}/security/")
    rows = browser.find_elements(By.CSS_SELECTOR, "#certificates tbody tr")
    assert len(rows) == 1 and "CN=PKI-1" in rows[0].text and "(current)" in rows[0].text
    browser.find_element(By.CSS_SELECTOR, 'input[name="profile"][value="3"]').click()
    browser.find_element(By.ID, "save").click()
    wait.until(expected_conditions.text_to_be_present_in_element((By.ID, "profile"), "3"))
    browser.find_element(By.ID, "certificates").location_once_scrolled_into_view  # noqa: B018
    browser.save_screenshot(str(ARTIFACTS / "profile3-2-charger-certificate.png"))
