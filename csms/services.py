"""The dependencies the domain needs, built once and passed through Application settings."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from csms.alert_rules import AlertSettings
from csms.certificate_authority import CertificateAuthority
from csms.events import EventBus
from csms.fleet import Fleet
from csms.logfiles import FrameLog
from csms.metrics import Metrics
from csms.registers import LastRegisters
from csms.registry import ConnectionRegistry
from models.anomalies import AnomalyRepo
from models.batch import BatchInserter, StateUpdater
from models.certificates import CertificateRepo
from models.chargers import ChargerRepo
from models.charging_profiles import ChargingProfileRepo
from models.commands import CommandRepo
from models.counters import Counters
from models.local_list import LocalListRepo
from models.messages import MessageLog
from models.meter_values import MeterValueRepo
from models.reservations import ReservationRepo
from models.rfid import RfidRepo
from models.security_events import SecurityEventRepo
from models.simulators import SimulatorRepo
from models.sites import AllocationRepo, SiteRepo
from models.tariffs import TariffRepo
from models.transactions import TransactionRepo
from models.unknown_chargers import UnknownChargerRepo
from models.users import TokenRepo, UserRepo
from ocppj.validation import SchemaStore

log = logging.getLogger("csms.services")


@dataclass(slots=True)
class CsmsSettings:
    """Tunables of the OCPP side."""

    heartbeat_interval: int = 300
    call_timeout: float = 30.0
    flush_interval: float = 0.1
    observed_flush_interval: float = 2.0
    message_log_max_per_charger: int = 10_000
    prune_interval: float = 600.0
    # require_rfid of chargers created from now on (auto-registered or added by hand).
    require_rfid_default: bool = False
    # Security profile (0-2) of chargers created from now on (--default-security-profile).
    default_security_profile: int = 0
    # The most a connector can deliver (W): energy beyond it over a session's time is
    # implausible and never used (set by --max-connector-kw).
    max_connector_power_w: float = 400_000.0
    # A charger timestamp more than this ahead of the server's clock is out of the
    # plausible window: such a reading is stored but never used for energy, and a start
    # or stop time beyond it does not widen the plausible energy (--max-clock-skew-hours).
    max_clock_skew_s: float = 24 * 3600.0
    # Charger certificates (security profile 3): kept for an external CA instead of
    # signed (--external-ca); days a certificate we sign is valid; renewal is asked for
    # this many days before expiry, checked every renewal_check_interval seconds.
    external_ca: bool = False
    certificate_days: int = 365
    renewal_days: int = 30
    renewal_check_interval: float = 3600.0
    # Alert rules' sweep and delivery (csms.alerts); per-charger metric series (off: a
    # large network would make one series per charger).
    alerts: AlertSettings = field(default_factory=AlertSettings)
    metrics_per_charger: bool = False
    # Seconds between full reloads of the fleet overview (csms.fleet; live events and
    # the repository's changed chargers keep it current in between).
    fleet_max_age: float = 60.0


@dataclass
class Services:
    """Repositories, writers, schemas and the event bus."""

    db: AsyncDatabase
    settings: CsmsSettings
    schemas: SchemaStore
    bus: EventBus
    chargers: ChargerRepo
    transactions: TransactionRepo
    meter_values: MeterValueRepo
    rfid: RfidRepo
    messages: MessageLog
    security_events: SecurityEventRepo
    anomalies: AnomalyRepo
    counters: Counters
    users: UserRepo
    tokens: TokenRepo
    commands: CommandRepo
    reservations: ReservationRepo
    charging_profiles: ChargingProfileRepo
    local_lists: LocalListRepo
    unknown_chargers: UnknownChargerRepo
    simulators: SimulatorRepo
    tariffs: TariffRepo
    certificates: CertificateRepo
    sites: SiteRepo
    allocations: AllocationRepo
    registers: LastRegisters = field(default_factory=LastRegisters)
    metrics: Metrics = field(default_factory=Metrics)
    # The alerts (csms.alerts.AlertService), attached by the composition root with
    # csms.alerts.attach before start (it needs these services: built after them).
    alerts: Any = None
    frame_log: FrameLog | None = None
    sink_log: FrameLog | None = None  # the sink's frames (handlers.chargepoint.sink)
    # The CA of charger certificates (profile 3; without its key under --external-ca) and
    # the live connections, for the calls that follow a charger's CALL (set by server.py).
    ca: CertificateAuthority | None = None
    registry: ConnectionRegistry | None = None
    # Load management (csms.load_management.LoadManager), attached by handlers.routes.make_app.
    load: Any = None
    # The fleet overview (csms.fleet.Fleet): counts, pages by attention, map markers.
    fleet: Fleet | None = None
    _tasks: list[asyncio.Task] = field(default_factory=list)
    _spawned: set[asyncio.Task] = field(default_factory=set)

    @classmethod
    def build(
        cls,
        db: AsyncDatabase,
        settings: CsmsSettings | None = None,
        schemas: SchemaStore | None = None,
    ) -> Services:
        """Wire every repository to ``db``."""
        settings = settings or CsmsSettings()
        every = settings.flush_interval
        counters = Counters(db)
        built = cls(
            db=db,
            settings=settings,
            schemas=schemas or SchemaStore(),
            bus=EventBus(),
            chargers=ChargerRepo(
                db,
                StateUpdater(db.chargers, interval=every),
                StateUpdater(db.chargers, interval=settings.observed_flush_interval),
                require_rfid_default=settings.require_rfid_default,
                default_security_profile=settings.default_security_profile,
            ),
            transactions=TransactionRepo(db, counters),
            meter_values=MeterValueRepo(db, BatchInserter(db.meter_values, interval=every)),
            rfid=RfidRepo(db),
            messages=MessageLog(
                db,
                BatchInserter(db.messages, interval=every),
                max_per_charger=settings.message_log_max_per_charger,
            ),
            security_events=SecurityEventRepo(db),
            anomalies=AnomalyRepo(db),
            counters=counters,
            users=UserRepo(db),
            tokens=TokenRepo(db),
            commands=CommandRepo(db),
            reservations=ReservationRepo(db, counters),
            charging_profiles=ChargingProfileRepo(db),
            local_lists=LocalListRepo(db),
            unknown_chargers=UnknownChargerRepo(db),
            simulators=SimulatorRepo(db),
            tariffs=TariffRepo(db),
            certificates=CertificateRepo(db),
            sites=SiteRepo(db),
            allocations=AllocationRepo(db),
            metrics=Metrics(per_charger=settings.metrics_per_charger),
        )
        built.fleet = Fleet(
            built.chargers, built.transactions, built.sites, built.bus, settings.fleet_max_age
        )
        return built

    @property
    def writers(self) -> list:
        """Every batch writer, in the order they are flushed at shutdown."""
        chargers = self.chargers
        observed = [chargers.observed] if chargers.observed is not chargers.state else []
        boots = [self.alerts.boots.writer] if self.alerts is not None else []
        return [self.meter_values.writer, self.messages.writer, chargers.state, *observed, *boots]

    def start(self) -> None:
        """Start the batch writers and the message-log pruning."""
        for writer in self.writers:
            writer.start()
        loop = asyncio.get_running_loop()
        self._tasks.append(loop.create_task(self._prune_loop()))
        self.metrics.start()
        if self.fleet is not None:
            self._tasks.append(loop.create_task(self.fleet.run()))
        if self.alerts is not None:
            self._tasks.append(loop.create_task(self.alerts.run()))

    def keep(self, coro: Coroutine[Any, Any, Any]) -> None:
        """Run a background loop until ``stop`` cancels it (e.g. certificate renewal)."""
        self._tasks.append(asyncio.get_running_loop().create_task(coro))

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task:
        """Run follow-up work as a task that is kept alive, logged if it fails, and
        awaited at shutdown."""
        task = asyncio.get_running_loop().create_task(coro)
        self._spawned.add(task)
        task.add_done_callback(self._spawn_done)
        return task

    def load_event(self, charger_id: str, reason: str, **data: Any) -> None:
        """Tell load management that something about a charger changed (never waits)."""
        if self.load is not None:
            self.load.event(charger_id, reason, **data)

    def _spawn_done(self, task: asyncio.Task) -> None:
        self._spawned.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("background task failed", exc_info=task.exception())

    async def _prune_loop(self) -> None:
        while True:
            await asyncio.sleep(self.settings.prune_interval)
            try:
                await self.messages.prune()
            except Exception:
                log.exception("message log pruning failed")

    async def flush(self) -> None:
        """Write every buffered document now."""
        for writer in self.writers:
            await writer.flush()

    async def stop(self) -> None:
        """Finish follow-up tasks, stop background work and flush every buffer."""
        if self.load is not None:
            self.load.close()
        if self._spawned:
            await asyncio.wait(list(self._spawned), timeout=5)
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        await self.metrics.stop()
        for writer in self.writers:
            await writer.stop()
