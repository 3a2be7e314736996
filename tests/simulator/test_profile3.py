"""The simulator in security profile 3 against the real server over TLS on loopback:
asked by ExtendedTriggerMessage, it makes a key and sends SignCertificate, keeps the
certificate from CertificateSigned, and its next connection presents it and is admitted.
Fixtures (certificates made in the test, the TLS listener) come from the admission tests."""

from __future__ import annotations

import stat

import pytest
from cryptography import x509

from csms.certificate_authority import check_csr, pem, sign_csr, signed_by
from csms.security import set_security
from handlers.routes import make_app
from ocppj.timeutil import utcnow
from simulator import ChargePointSimulator
from simulator.certificates import ChargerCertificates
from tests.certificate_helpers import make_pki, tls_listener
from tests.conftest import COOKIE_SECRET
from tests.simulator.helpers import sim_config, started, wait_for


@pytest.fixture
def pki(tmp_path):
    return make_pki(tmp_path)


@pytest.fixture
def tls_port(io_loop, services, registry, pki):
    """A TLS listener of the application with the charger CA."""
    services.ca, services.registry = pki["ca"], registry
    app = make_app(services, registry, cookie_secret=COOKIE_SECRET, ping_interval=None,
                   ping_timeout=None, tls=True)  # fmt: skip
    server, port = tls_listener(app, pki, services)
    yield port
    server.stop()
    io_loop.run_sync(server.close_all_connections)


def profile3_sim(pki, port, folder, charger_id="SIM3"):
    config = sim_config(port, f"ocpp/{charger_id}/", auto_start=False, tls=True,
                        ca_file=pki["bundle"],
                        certificate_dir=str(folder) if folder else None)  # fmt: skip
    return ChargePointSimulator(config)


@pytest.mark.gen_test(timeout=60)
async def test_the_simulator_gets_a_certificate_and_reconnects_with_it(
    tls_port,
    pki,
    registry,
    services,
    db,
    tmp_path,
):
    await services.chargers.create("SIM3", {}, utcnow())
    folder = tmp_path / "sim3"
    files = ChargerCertificates(folder, "SIM3")
    async with started(profile3_sim(pki, tls_port, folder)):
        outcome = await registry.call(
            "SIM3", "ExtendedTriggerMessage", {"requestedMessage": "SignChargePointCertificate"}
        )
        assert (outcome.status, outcome.payload) == ("accepted", {"status": "Accepted"})
        assert await wait_for(files.client_files)
        signed = await wait_for(
            lambda: db.commands.find_one({"action": "CertificateSigned", "status": "accepted"})
        )
        assert signed["charger"] == "SIM3"
    assert stat.S_IMODE((folder / "SIM3" / "key.pem").stat().st_mode) == 0o600
    leaf = x509.load_pem_x509_certificates((folder / "SIM3" / "cert.pem").read_bytes())[0]
    assert signed_by(leaf, pki["ca"].certificate) and leaf.subject.rfc4514_string() == "CN=SIM3"
    await set_security(services, await services.chargers.get("SIM3"), 3, False, "hex", "admin",
                       utcnow())  # fmt: skip
    async with started(profile3_sim(pki, tls_port, folder)) as sim:  # admitted with it
        assert sim.state.status == "ready"
    kinds = [e["type"] for e in await db.security_events.find({"charger": "SIM3"}).to_list()]
    assert kinds == ["SecuritySettingsChanged"]


@pytest.mark.gen_test(timeout=60)
async def test_without_a_certificate_dir_the_simulator_rejects_a_csr_request(
    tls_port,
    pki,
    registry,
    services,
    tmp_path,
):
    async with started(profile3_sim(pki, tls_port, None, "SIM4")):
        outcome = await registry.call(
            "SIM4", "ExtendedTriggerMessage", {"requestedMessage": "SignChargePointCertificate"}
        )
        assert outcome.payload == {"status": "Rejected"}
        heartbeat = await registry.call(
            "SIM4", "ExtendedTriggerMessage", {"requestedMessage": "Heartbeat"}
        )
        assert heartbeat.payload == {"status": "Accepted"}


def test_a_chain_for_another_key_is_not_kept(tmp_path, pki):
    files = ChargerCertificates(tmp_path, "SIM5")
    files.new_csr()
    other = ChargerCertificates(tmp_path / "other", "SIM5")
    csr = check_csr(other.new_csr(), "SIM5")
    chain = pem(sign_csr(pki["ca"], csr, utcnow()))
    assert files.store(chain) is False and files.client_files() is None
    assert other.store(chain) is True and other.client_files() is not None


def test_simulate_passes_the_certificate_dir_to_every_simulator(tmp_path):
    from scripts import simulate

    parser = simulate.build_parser()
    args = parser.parse_args(["--url", "wss://127.0.0.1:8443/", "--count", "2",
                              "--certificate-dir", str(tmp_path)])  # fmt: skip
    fleet = simulate.make_fleet(args, parser)
    configs = [simulator.config for simulator in fleet.simulators]
    assert [(c.charger_id, c.certificate_dir, c.tls) for c in configs] == [
        ("SIM1", str(tmp_path), True), ("SIM2", str(tmp_path), True),
    ]  # fmt: skip
    folders = {ChargerCertificates(c.certificate_dir, c.charger_id).folder for c in configs}
    assert folders == {tmp_path / "SIM1", tmp_path / "SIM2"}  # one folder per charger
