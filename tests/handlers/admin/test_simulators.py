"""Admin simulators over HTTP: create, list with the full URL and running state, start/stop
against the test server itself, edit with validation, passwords never shown, delete."""

from __future__ import annotations

import asyncio
import re
from datetime import datetime

import pytest
from bson import ObjectId

from handlers.routes import make_app
from simulator.manager import SimulatorManager
from tests.conftest import COOKIE_SECRET
from tests.handlers.admin.test_index import admin_browser, field_value, page_text
from tests.simulator.helpers import free_port, wait_for

LIST = "/ocpp/admin/simulators/"
NEW = "/ocpp/admin/simulators/new"


@pytest.fixture
def manager(schemas):
    """The simulator manager of the app under test."""
    return SimulatorManager(schemas, stop_timeout=5)


@pytest.fixture
def app(io_loop, services, registry, web_settings, manager):
    """The application with a simulator manager; its simulators stop afterwards."""
    yield make_app(
        services, registry, web=web_settings, cookie_secret=COOKIE_SECRET,
        ping_interval=None, ping_timeout=None, simulators=manager,
    )  # fmt: skip
    io_loop.run_sync(lambda: manager.stop_all(2))


def sim_form(port, **changes) -> dict:
    """A valid submission: a quick simulator aimed at the test server."""
    form = {
        "name": "Bay <1>", "cp_path": "site/SIMA/", "host": "127.0.0.1", "ws_port": str(port),
        "rfid": "", "interval": "0.2", "kwh_min": "1.5", "kwh_max": "1.5", "duration": "1",
        "pre_charge_delay": "0", "repeat": "on", "connectors": "1", "username": "",
        "password": "",
    }  # fmt: skip
    form.update(changes)
    return form


async def create(browser, services, form) -> str:
    """Create an entry through the form; return its id."""
    response = await browser.post(NEW, form)
    assert response.code == 302, page_text(response)
    assert response.headers["Location"] == LIST
    entry = await services.db.simulators.find_one({"name": form["name"]})
    return str(entry["_id"])


def row_of(page: str, entry_id: str) -> str:
    """The list row of an entry."""
    return page.split(f'data-simulator="{entry_id}"')[1].split("</tr>")[0]


@pytest.mark.gen_test
async def test_new_form_points_at_this_server(http_url, http_port, admin_user):
    browser = await admin_browser(http_url, admin_user)
    response = await browser.get(NEW)
    assert response.code == 200
    page = page_text(response)
    assert field_value(page, "host") == "127.0.0.1"
    assert field_value(page, "ws_port") == ""
    assert f'placeholder="{http_port}"' in page
    assert (field_value(page, "interval"), field_value(page, "connectors")) == ("5", "1")
    assert 'action="/ocpp/admin/simulators/new"' in page


@pytest.mark.gen_test
async def test_create_stores_the_entry_and_lists_it(http_url, http_port, services, admin_user):
    browser = await admin_browser(http_url, admin_user)
    entry_id = await create(
        browser, services, sim_form("", rfid="TAG-1", username="SIMA", password=" key 0123456789 ")
    )
    entry = await services.db.simulators.find_one({"_id": ObjectId(entry_id)})
    created, updated = entry.pop("created"), entry.pop("updated")
    assert isinstance(created, datetime) and created == updated
    assert entry == {
        "_id": ObjectId(entry_id), "name": "Bay <1>", "cp_path": "site/SIMA/",
        "host": "127.0.0.1", "ws_port": None, "rfid": "TAG-1", "interval": 0.2,
        "kwh_min": 1.5, "kwh_max": 1.5, "duration": 1.0, "pre_charge_delay": 0.0,
        "repeat": True, "connectors": 1, "username": "SIMA", "password": " key 0123456789 ",
    }  # fmt: skip
    page = page_text(await browser.get(LIST))
    assert 'id="flash">Simulator Bay &lt;1&gt; added.</p>' in page
    row = row_of(page, entry_id)
    assert f'<a href="/ocpp/admin/simulators/{entry_id}/">Bay &lt;1&gt;</a>' in row
    # No port stored: the URL uses this server's port.
    assert f'<code class="ws-url">ws://127.0.0.1:{http_port}/site/SIMA/</code>' in row
    assert '<td class="num">0.2</td>' in row and '<td class="num">1.5</td>' in row
    assert '<span class="status">not started</span>' in row
    assert f'action="/ocpp/admin/simulators/{entry_id}/start"' in row
    assert "key 0123456789" not in page


@pytest.mark.gen_test(timeout=40)
async def test_start_charges_against_the_server_then_stop(
    http_url, http_port, services, db, admin_user, manager
):
    browser = await admin_browser(http_url, admin_user)
    entry_id = await create(browser, services, sim_form(http_port))

    response = await browser.post(f"{LIST}{entry_id}/start")
    assert (response.code, response.headers["Location"]) == (302, LIST)
    tx = await wait_for(lambda: db.transactions.find_one({"charger": "SIMA"}), 15)
    assert tx is not None and tx["connector"] == 1 and tx["id_tag"] == "SIMULATOR"
    assert await wait_for(lambda: manager.state(entry_id).energy_wh > 0, 10)

    page = page_text(await browser.get(LIST))
    assert 'id="flash">Simulator Bay &lt;1&gt; started.</p>' in page
    row = row_of(page, entry_id)
    assert '<span class="online">running</span>' in row
    assert re.search(r'class="status status-(Charging">charging|Available">ready)</span>', row)
    energy = re.search(r'<td class="num sim-energy">(\d+\.\d{3})</td>', row)
    assert energy is not None and float(energy[1]) > 0
    assert f'action="/ocpp/admin/simulators/{entry_id}/stop"' in row
    assert '<td class="sim-error"></td>' in row
    if manager.state(entry_id).current_session is not None:
        assert re.search(r'<td class="sim-session">connector 1 · transaction \d+ · ', row), row

    page = page_text(await browser.get(f"{LIST}{entry_id}/"))
    assert f'<form method="post" action="/ocpp/admin/simulators/{entry_id}/stop">' in page
    assert 'id="stop"' in page and "Changes apply at the next start." in page

    # A second start does not start a second simulator.
    response = await browser.post(f"{LIST}{entry_id}/start")
    assert response.code == 302
    page = page_text(await browser.get(LIST))
    assert "Simulator Bay &lt;1&gt; is already running." in page
    tasks = [t for t in asyncio.all_tasks() if t.get_name() == "simulator SIMA" and not t.done()]
    assert len(tasks) == 1

    response = await browser.post(f"{LIST}{entry_id}/stop")
    assert (response.code, response.headers["Location"]) == (302, LIST)
    assert not manager.is_running(entry_id)
    page = page_text(await browser.get(LIST))
    assert 'id="flash">Simulator Bay &lt;1&gt; stopped.</p>' in page
    row = row_of(page, entry_id)
    assert '<span class="status status-Unknown">stopped</span>' in row
    assert "running</span>" not in row
    assert f'action="/ocpp/admin/simulators/{entry_id}/start"' in row
    await services.flush()
    assert await db.transactions.count_documents({"charger": "SIMA", "open": True}) == 0

    await browser.post(f"{LIST}{entry_id}/stop")
    assert "Simulator Bay &lt;1&gt; was not running." in page_text(await browser.get(LIST))


@pytest.mark.gen_test(timeout=30)
async def test_refused_port_shows_the_error_on_the_list(http_url, services, admin_user, manager):
    manager.allow_any_target = True  # --allow-simulator-targets: another port may be aimed at
    browser = await admin_browser(http_url, admin_user)
    port = free_port()
    entry_id = await create(browser, services, sim_form(port, repeat=""))
    assert (await browser.post(f"{LIST}{entry_id}/start")).code == 302
    assert await wait_for(lambda: manager.state(entry_id).status == "error", 10)
    row = row_of(page_text(await browser.get(LIST)), entry_id)
    assert '<span class="status status-Faulted">error</span>' in row
    message = f"connection refused by 127.0.0.1:{port} (is the Central System running?)"
    assert f'<td class="sim-error">{message}</td>' in row
    assert f'action="/ocpp/admin/simulators/{entry_id}/start"' in row
    page = page_text(await browser.get(f"{LIST}{entry_id}/"))
    assert f'<span class="error">{message}</span>' in page
    assert f'<form method="post" action="/ocpp/admin/simulators/{entry_id}/start">' in page


@pytest.mark.gen_test
@pytest.mark.parametrize(
    ("changes", "field", "error"),
    [
        ({"name": " "}, "name", "required"),
        ({"cp_path": ""}, "cp_path", "required"),
        ({"cp_path": "site/a:b/"}, "cp_path", "the charger id must not contain &#x27;:&#x27;"),
        ({"cp_path": "Bay 1/"}, "cp_path", "percent-encode spaces and special characters"),
        ({"cp_path": "C" * 49}, "cp_path", "the charger id is longer than 48 characters"),
        ({"host": "ws://x"}, "host", "a host name or address only (no scheme, port or path)"),
        ({"ws_port": "0"}, "ws_port", "must be at least 1"),
        ({"ws_port": "70000"}, "ws_port", "must be at most 65535"),
        ({"rfid": "R" * 21}, "rfid", "at most 20 characters (21 given)"),
        ({"interval": "abc"}, "interval", "must be a number"),
        ({"interval": "0"}, "interval", "must be greater than 0"),
        ({"interval": "nan"}, "interval", "must be a finite number"),
        ({"kwh_min": "-1"}, "kwh_min", "must be between 0 and 1000"),
        ({"kwh_min": "3", "kwh_max": "2"}, "kwh_max", "must be at least kwh_min (3)"),
        ({"duration": "0"}, "duration", "must be greater than 0"),
        ({"pre_charge_delay": "-1"}, "pre_charge_delay", "must be between 0 and 3600"),
        ({"connectors": "0"}, "connectors", "must be at least 1"),
        ({"connectors": "1.5"}, "connectors", "must be a whole number"),
        ({"password": "a\tb"}, "password", "must not contain control characters"),
    ],
)  # fmt: skip
async def test_create_validation_keeps_what_was_typed(
    http_url, http_port, services, admin_user, changes, field, error
):
    browser = await admin_browser(http_url, admin_user)
    form = sim_form(http_port, **changes)
    response = await browser.post(NEW, form)
    assert response.code == 400
    page = page_text(response)
    assert f'id="{field}-error" role="alert">{field}: {error}' in page
    assert 'aria-invalid="true"' in page
    for name in ("cp_path", "host", "ws_port", "interval", "kwh_min", "kwh_max", "connectors"):
        assert field_value(page, name) == form[name].replace("<", "&lt;").replace(">", "&gt;")
    assert field_value(page, "name") == form["name"].strip().replace("<", "&lt;").replace(
        ">", "&gt;"
    ) or field_value(page, "name") == form["name"].replace("<", "&lt;").replace(">", "&gt;")
    assert field_value(page, "password") == ""
    assert await services.db.simulators.count_documents({}) == 0


@pytest.mark.gen_test
async def test_names_are_unique(http_url, http_port, services, admin_user):
    browser = await admin_browser(http_url, admin_user)
    await create(browser, services, sim_form(http_port))
    response = await browser.post(NEW, sim_form(http_port, cp_path="SIMB/"))
    assert response.code == 400
    assert "name: another simulator has this name" in page_text(response)


@pytest.mark.gen_test
async def test_invalid_edit_is_400_keeps_what_was_typed_and_saves_nothing(
    http_url, http_port, services, admin_user
):
    browser = await admin_browser(http_url, admin_user)
    entry_id = await create(browser, services, sim_form(http_port))
    before = await services.db.simulators.find_one({"_id": ObjectId(entry_id)})
    path = f"{LIST}{entry_id}/"
    typed = sim_form(
        http_port, name="Renamed", interval="fast", kwh_min="5", kwh_max="4", ws_port="-3",
        cp_path="x/:/", connectors="99",
    )  # fmt: skip
    response = await browser.post(path, typed)
    assert response.code == 400
    page = page_text(response)
    assert "Nothing was saved: please correct the fields marked below." in page
    assert 'id="interval-error" role="alert">interval: must be a number' in page
    assert 'id="kwh_max-error" role="alert">kwh_max: must be at least kwh_min (5)' in page
    assert 'id="ws_port-error" role="alert">ws_port: must be at least 1' in page
    assert 'id="cp_path-error" role="alert">cp_path: the charger id must not contain' in page
    assert 'id="connectors-error" role="alert">connectors: must be at most 20' in page
    assert "name-error" not in page
    values = {name: field_value(page, name) for name in ("name", "interval", "kwh_min", "ws_port")}
    assert values == {"name": "Renamed", "interval": "fast", "kwh_min": "5", "ws_port": "-3"}
    assert field_value(page, "cp_path") == "x/:/"
    assert f'action="{path}"' in page
    assert await services.db.simulators.find_one({"_id": ObjectId(entry_id)}) == before


@pytest.mark.gen_test
async def test_edit_saves_and_the_password_is_never_shown(
    http_url, http_port, services, admin_user
):
    browser = await admin_browser(http_url, admin_user)
    entry_id = await create(browser, services, sim_form(http_port, password="first-secret-123"))
    path = f"{LIST}{entry_id}/"
    page = page_text(await browser.get(path))
    assert (field_value(page, "name"), field_value(page, "interval")) == ("Bay &lt;1&gt;", "0.2")
    assert (field_value(page, "duration"), field_value(page, "ws_port")) == ("1", str(http_port))
    assert field_value(page, "password") == "" and "first-secret-123" not in page
    assert "set; leave empty to keep it" in page and 'name="clear_password"' in page
    assert re.search(r'name="repeat" value="on"\s+checked', page)

    # Blank password: unchanged.
    form = sim_form("", name="Bay 2", interval="0.5", repeat="", password="")
    assert (await browser.post(path, form)).code == 302
    entry = await services.db.simulators.find_one({"_id": ObjectId(entry_id)})
    assert (entry["name"], entry["interval"], entry["repeat"], entry["ws_port"]) == (
        "Bay 2", 0.5, False, None,
    )  # fmt: skip
    assert entry["password"] == "first-secret-123" and entry["updated"] > entry["created"]
    assert "Simulator Bay 2 saved." in page_text(await browser.get(LIST))

    # A new password replaces it; "remove" clears it.
    await browser.post(path, form | {"password": "second-secret-45"})
    assert (await services.db.simulators.find_one())["password"] == "second-secret-45"
    await browser.post(path, form | {"clear_password": "on"})
    assert (await services.db.simulators.find_one())["password"] is None
    page = page_text(await browser.get(path))
    assert "empty: no HTTP Basic" in page and 'name="clear_password"' not in page


@pytest.mark.gen_test(timeout=30)
async def test_delete_stops_the_simulator_first(
    http_url, http_port, services, db, admin_user, manager
):
    browser = await admin_browser(http_url, admin_user)
    entry_id = await create(browser, services, sim_form(http_port))
    await browser.post(f"{LIST}{entry_id}/start")
    assert await wait_for(lambda: db.transactions.find_one({"charger": "SIMA"}), 15)
    response = await browser.post(f"{LIST}{entry_id}/delete")
    assert (response.code, response.headers["Location"]) == (302, LIST)
    assert entry_id not in manager and [e for e in manager if manager.is_running(e)] == []
    assert await services.db.simulators.count_documents({}) == 0
    page = page_text(await browser.get(LIST))
    assert 'id="flash">Simulator Bay &lt;1&gt; deleted.</p>' in page
    assert "No simulator yet." in page
    assert (await browser.get(f"{LIST}{entry_id}/")).code == 404
    await services.flush()
    assert await db.transactions.count_documents({"charger": "SIMA", "open": True}) == 0


@pytest.mark.gen_test
async def test_a_broken_stored_entry_cannot_start(http_url, http_port, services, admin_user):
    browser = await admin_browser(http_url, admin_user)
    entry_id = await create(browser, services, sim_form(http_port))
    await services.db.simulators.update_one({}, {"$set": {"interval": None}})
    assert (await browser.post(f"{LIST}{entry_id}/start")).code == 302
    page = page_text(await browser.get(LIST))
    assert "Simulator Bay &lt;1&gt; cannot start: missing interval" in page


@pytest.mark.gen_test(timeout=30)
async def test_two_entries_for_one_charger_do_not_run_at_once(
    http_url, http_port, services, admin_user, manager
):
    browser = await admin_browser(http_url, admin_user)
    first = await create(browser, services, sim_form(http_port))
    second = await create(browser, services, sim_form(http_port, name="Other", cp_path="SIMA"))
    await browser.post(f"{LIST}{first}/start")
    await browser.post(f"{LIST}{second}/start")
    page = page_text(await browser.get(LIST))
    assert "Simulator Other was not started: charger SIMA is already simulated" in page
    assert [e for e in manager if manager.is_running(e)] == [first]


@pytest.mark.gen_test
@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "nope/"), ("POST", "nope/"), ("POST", "nope/start"), ("POST", "nope/stop"),
     ("POST", "nope/delete"), ("GET", "0123456789abcdef01234567/"),
     ("POST", "0123456789abcdef01234567/start")],
)  # fmt: skip
async def test_unknown_entry_is_404(http_url, admin_user, method, path):
    browser = await admin_browser(http_url, admin_user)
    if method == "GET":
        response = await browser.get(LIST + path)
    else:
        response = await browser.post(LIST + path, {"name": "x"})
    assert response.code == 404


@pytest.mark.gen_test
@pytest.mark.parametrize("path", [LIST, NEW, f"{LIST}0123456789abcdef01234567/"])
async def test_pages_need_a_login(http_url, path):
    from tornado.httpclient import AsyncHTTPClient

    response = await AsyncHTTPClient().fetch(
        http_url(path), follow_redirects=False, raise_error=False
    )
    assert response.code == 302
    assert response.headers["Location"].startswith("/ocpp/login?next=")


@pytest.mark.gen_test
async def test_actions_need_the_xsrf_token(http_url, http_port, services, admin_user, manager):
    browser = await admin_browser(http_url, admin_user)
    entry_id = await create(browser, services, sim_form(http_port))
    for action in ("start", "delete"):
        response = await browser.post(f"{LIST}{entry_id}/{action}", xsrf=False)
        assert response.code == 403
    assert manager.state(entry_id) is None
    assert await services.db.simulators.count_documents({}) == 1


@pytest.mark.gen_test
@pytest.mark.parametrize(
    ("changes", "field"),
    [({"host": "evil.example"}, "host"), ({"host": "169.254.169.254"}, "host"),
     ({"host": "10.0.0.1"}, "host"), ({"ws_port": "6379"}, "ws_port")],
)  # fmt: skip
async def test_only_this_server_is_a_target_by_default(
    http_url, http_port, services, admin_user, changes, field
):  # fmt: skip
    browser = await admin_browser(http_url, admin_user)
    form = sim_form(http_port, **changes)
    response = await browser.post(NEW, form)
    assert response.code == 400
    page = page_text(response)
    assert f'id="{field}-error" role="alert">{field}: only this server' in page
    assert "--allow-simulator-targets" in page
    assert field_value(page, field) == form[field]  # kept as typed
    assert field_value(page, "name") == "Bay &lt;1&gt;"  # escaped in the page
    assert await services.db.simulators.count_documents({}) == 0


@pytest.mark.gen_test
async def test_loopback_names_and_this_port_are_allowed(http_url, http_port, services, admin_user):
    browser = await admin_browser(http_url, admin_user)
    for number, host in enumerate(("localhost", "127.0.0.2", "::1")):
        await create(browser, services, sim_form(http_port, host=host, name=f"S{number}"))


@pytest.mark.gen_test
async def test_a_stored_foreign_target_does_not_start(http_url, http_port, services, admin_user,
                                                      manager):  # fmt: skip
    browser = await admin_browser(http_url, admin_user)
    entry_id = await create(browser, services, sim_form(http_port))
    await services.db.simulators.update_one({}, {"$set": {"host": "evil.example"}})
    assert (await browser.post(f"{LIST}{entry_id}/start")).code == 302
    assert manager.state(entry_id) is None
    page = page_text(await browser.get(LIST))
    assert "cannot start: host: only this server" in page


@pytest.mark.gen_test
async def test_the_flag_allows_other_targets(http_url, http_port, services, admin_user, manager):
    manager.allow_any_target = True
    browser = await admin_browser(http_url, admin_user)
    await create(browser, services, sim_form(6379, host="other.example"))
