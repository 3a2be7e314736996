"""The charger page in headless Chromium against the real server, with an independent
``ocpp`` charge point that records every CALL it receives (action and raw payload),
``tests.charge_points.RecordingChargePoint``:

a quick Reset (Soft) from the charger page reaching the charger; editing one configuration
key in the configuration table (exactly one ChangeConfiguration); building a TxProfile with
two periods in the profile form (the exact chargingProfile); sending the local list table.
Screenshots of the charger page, the configuration table, the profile form and the local
list table go to tests/artifacts/.
"""

from __future__ import annotations

import asyncio
import threading

import websockets
from ocpp.v16 import call
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

from tests.browser.support import ARTIFACTS, LoopThread, api_send, log_in
from tests.charge_points import RecordingChargePoint

CHARGER = "PAGE-1"
TAG = "TAG-PAGE"
CONFIG = [
    {"key": "HeartbeatInterval", "readonly": False, "value": "300"},
    {"key": "MeterValueSampleInterval", "readonly": False, "value": "60"},
    {"key": "NumberOfConnectors", "readonly": True, "value": "1"},
]


class ChargerThread(LoopThread):
    """Boots, reports connector 1, starts a transaction and sends a power reading; then
    sends a second reading when asked (the page shows it live), and waits to finish."""

    unblock = ("ready", "second_sent")

    def __init__(self, url: str):
        super().__init__()
        self.url = url
        self.ready = threading.Event()
        self.send_second = threading.Event()
        self.second_sent = threading.Event()
        self.finish = threading.Event()
        self.cp: RecordingChargePoint | None = None
        self.transaction: int | None = None

    async def _meter(self, watts: int, wh: int, ts: str) -> None:
        sampled = [
            {"value": str(watts), "measurand": "Power.Active.Import", "unit": "W"},
            {"value": str(wh), "measurand": "Energy.Active.Import.Register", "unit": "Wh"},
        ]
        await self.cp.call(call.MeterValues(
            connector_id=1, transaction_id=self.transaction,
            meter_value=[{"timestamp": ts, "sampled_value": sampled}],
        ))  # fmt: skip

    async def _main(self) -> None:
        async with websockets.connect(self.url, subprotocols=["ocpp1.6"]) as ws:
            self.cp = cp = RecordingChargePoint(CHARGER, ws)
            cp.replies["GetConfiguration"] = {"configurationKey": CONFIG}
            task = asyncio.create_task(cp.start())
            await cp.call(call.BootNotification(charge_point_model="M", charge_point_vendor="V"))
            await cp.call(
                call.StatusNotification(connector_id=1, error_code="NoError", status="Charging")
            )
            started = await cp.call(call.StartTransaction(
                connector_id=1, id_tag=TAG, meter_start=1000, timestamp="2026-01-05T10:00:00Z",
            ))  # fmt: skip
            self.transaction = started.transaction_id
            await self._meter(7200, 1500, "2026-01-05T10:05:00Z")
            self.ready.set()
            await asyncio.to_thread(self.send_second.wait, 30)
            await self._meter(11000, 2500, "2026-01-05T10:10:00Z")
            self.second_sent.set()
            await asyncio.to_thread(self.finish.wait, 60)
            task.cancel()


def test_charger_page_quick_reset_configuration_profile_and_local_list(server, browser):
    wait = WebDriverWait(browser, 15)
    api_send(server, "POST", "/ocpp/api/rfid/", {"id_tag": TAG, "label": "Page test"})
    api_send(server, "POST", "/ocpp/api/rfid/", {"id_tag": "TAG-BLOCKED", "status": "blocked"})
    port = server.rsplit(":", 1)[1]
    charger = ChargerThread(f"ws://127.0.0.1:{port}/{CHARGER}")
    charger.start()
    page = f"/ocpp/admin/chargers/{CHARGER}/"
    try:
        assert charger.ready.wait(15) and charger.error is None, charger.error
        tx = charger.transaction

        # The charger page: status, connector, the open session with its power, live.
        log_in(browser, server, page)
        wait.until(expected_conditions.text_to_be_present_in_element(
            (By.ID, "connection"), "connected"))  # fmt: skip
        connector = '#connectors [data-connector="1"] .status'
        assert browser.find_element(By.CSS_SELECTOR, connector).text == "Charging"
        power = f'#open-sessions [data-session="{tx}"] .power'
        assert browser.find_element(By.CSS_SELECTOR, power).text == "7.2 kW"
        tags = [o.get_attribute("value")
                for o in browser.find_elements(By.CSS_SELECTOR, "#known-tags option")]  # fmt: skip
        assert tags == ["TAG-BLOCKED", TAG]
        charger.send_second.set()
        assert charger.second_sent.wait(15) and charger.error is None, charger.error
        wait.until(expected_conditions.text_to_be_present_in_element(
            (By.CSS_SELECTOR, power), "11.0 kW"))  # fmt: skip
        energy = f'#open-sessions [data-session="{tx}"] .energy'
        assert browser.find_element(By.CSS_SELECTOR, energy).text == "1.500 kWh"  # 2500 - 1000
        browser.save_screenshot(str(ARTIFACTS / "charger-page.png"))
        browser.set_window_size(390, 844)  # a phone
        browser.save_screenshot(str(ARTIFACTS / "charger-page-phone.png"))
        browser.set_window_size(1280, 900)

        # A quick Reset (Soft) reaches the charger; the page shows the typed outcome.
        browser.find_element(By.ID, "quick-reset-soft").click()
        outcome = wait.until(expected_conditions.presence_of_element_located(
            (By.ID, "reset-status")))  # fmt: skip
        assert outcome.text == "accepted"
        assert charger.cp.received("Reset") == [{"type": "Soft"}]
        browser.save_screenshot(str(ARTIFACTS / "charger-page-reset.png"))

        # Every other operation, grouped by purpose with human names.
        browser.get(server + page + "operations/")
        groups = [h.text for h in browser.find_elements(By.CSS_SELECTOR, "h2.op-group")]
        assert groups == ["Core", "Configuration", "Smart charging", "Firmware & diagnostics",
                          "Local list", "Reservations", "Security", "Triggers"]  # fmt: skip
        browser.save_screenshot(str(ARTIFACTS / "charger-operations.png"))

        # The configuration table: read the keys, edit one, save: one ChangeConfiguration.
        browser.get(server + page + "configuration")
        browser.find_element(By.ID, "read-config").click()
        wait.until(expected_conditions.presence_of_element_located((By.ID, "config-table")))
        assert charger.cp.received("GetConfiguration") == [{}]
        readonly = browser.find_element(
            By.CSS_SELECTOR, '[data-key="NumberOfConnectors"] input')  # fmt: skip
        assert readonly.get_attribute("disabled") is not None
        assert not readonly.get_attribute("name")  # not sent with the form
        field = browser.find_element(By.NAME, "key:HeartbeatInterval")
        assert field.get_attribute("value") == "300"
        field.clear()
        field.send_keys("120")
        browser.save_screenshot(str(ARTIFACTS / "charger-configuration.png"))
        browser.find_element(By.ID, "save-config").click()
        cell = '#change-results [data-key="HeartbeatInterval"] .key-result'
        answer = wait.until(
            expected_conditions.presence_of_element_located((By.CSS_SELECTOR, cell))
        )
        assert answer.text == "Accepted"
        assert len(browser.find_elements(By.CSS_SELECTOR, "#change-results tr[data-key]")) == 1
        assert charger.cp.received("ChangeConfiguration") == [
            {"key": "HeartbeatInterval", "value": "120"}
        ]
        assert browser.find_element(By.NAME, "key:HeartbeatInterval").get_attribute(
            "value") == "120"  # fmt: skip
        browser.save_screenshot(str(ARTIFACTS / "charger-configuration-saved.png"))

        # The profile form: a TxProfile for the open transaction with two periods.
        browser.get(server + page + "profile")
        assert browser.find_element(By.ID, "profile-transaction_id").get_attribute(
            "value") == str(tx)  # fmt: skip
        assert browser.find_element(By.ID, "profile-purpose").get_attribute("value") == "TxProfile"
        for name, value in (("profile_id", "5"), ("stack_level", "2")):
            box = browser.find_element(By.ID, f"profile-{name}")
            box.clear()
            box.send_keys(value)
        rows = browser.find_elements(By.CSS_SELECTOR, "#periods tbody tr")
        assert len(rows) == 2
        for row, values in zip(rows, (("0", "16", ""), ("1800", "10.5", "3")), strict=True):
            for box, value in zip(row.find_elements(By.TAG_NAME, "input"), values, strict=True):
                box.clear()
                box.send_keys(value)
        browser.find_element(By.ID, "periods-add").click()
        assert len(browser.find_elements(By.CSS_SELECTOR, "#periods tbody tr")) == 3
        browser.save_screenshot(str(ARTIFACTS / "charger-profile-form.png"))
        browser.find_element(By.ID, "send-profile").click()
        status = wait.until(expected_conditions.presence_of_element_located(
            (By.ID, "profile-status")))  # fmt: skip
        assert status.text == "accepted"
        assert browser.find_element(By.ID, "profile-answer").text == "Accepted"
        assert charger.cp.received("SetChargingProfile") == [{
            "connectorId": 1,
            "csChargingProfiles": {
                "chargingProfileId": 5, "transactionId": tx, "stackLevel": 2,
                "chargingProfilePurpose": "TxProfile", "chargingProfileKind": "Relative",
                "chargingSchedule": {"chargingRateUnit": "A", "chargingSchedulePeriod": [
                    {"startPeriod": 0, "limit": 16.0},
                    {"startPeriod": 1800, "limit": 10.5, "numberPhases": 3},
                ]},
            },
        }]  # fmt: skip

        # The local list table, prefilled from the known tags, sent as a Full list.
        browser.get(server + page + "local-list")
        ids = [box.get_attribute("value")
               for box in browser.find_elements(By.NAME, "tag-id_tag")]  # fmt: skip
        assert ids == ["TAG-BLOCKED", TAG, ""]
        browser.save_screenshot(str(ARTIFACTS / "charger-local-list.png"))
        browser.find_element(By.ID, "send-local-list").click()
        status = wait.until(expected_conditions.presence_of_element_located(
            (By.ID, "local-list-status")))  # fmt: skip
        assert status.text == "accepted"
        assert charger.cp.received("SendLocalList") == [{
            "listVersion": 1, "updateType": "Full", "localAuthorizationList": [
                {"idTag": "TAG-BLOCKED", "idTagInfo": {"status": "Blocked"}},
                {"idTag": TAG, "idTagInfo": {"status": "Accepted"}},
            ],
        }]  # fmt: skip
        refused = [entry["message"] for entry in browser.get_log("browser")
                   if "Content Security Policy" in entry["message"]]  # fmt: skip
        assert refused == []
        assert charger.error is None, charger.error
    finally:
        charger.finish.set()
        charger.join(10)
