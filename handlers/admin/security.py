"""Admin pages of charger security: security events, unknown chargers (accept or dismiss),
and a charger's security profile and key (set or rotated; the key is shown once).

A new key is shown in the response to the POST that created it, never in a redirect, a
flash cookie or a log: reloading the page cannot show it again (``Cache-Control:
no-store``), only its hash is stored.
"""

from __future__ import annotations

import logging
from typing import Any

import tornado.web

from auth.charger_keys import HEX_FORM, TEXT_FORM, NewKey
from auth.roles import ADMIN
from csms.security import PROFILES, profile_problem, set_security
from handlers import forms
from handlers.admin.base import ADMIN_PATH, AdminHandler, charger_url, path_segment
from handlers.chargepoint.gate import GateDependency
from handlers.chargepoint.limits import LimitSettings
from models.unknown_chargers import UnknownChargerRepo
from ocppj.timeutil import utcnow

log = logging.getLogger("csms.admin")

SECURITY_PATH = ADMIN_PATH + "security/"
UNKNOWN_PATH = SECURITY_PATH + "unknown/"
EVENTS_SHOWN = 200
CHARGER_EVENTS_SHOWN = 20
SOURCES = ("", "csms", "charger")
KEY_FORMS = (HEX_FORM, TEXT_FORM)


def unknown_url(charger_id: str, action: str) -> str:
    """The URL of an action on an unknown charger."""
    return f"{UNKNOWN_PATH}{path_segment(charger_id)}/{action}"


class SecurityAdminHandler(GateDependency, AdminHandler):
    """What the security pages share."""

    read_role = ADMIN
    write_role = ADMIN

    @property
    def unknown(self) -> UnknownChargerRepo:
        """The unknown-charger list."""
        return self.services.unknown_chargers

    @property
    def limits(self) -> LimitSettings:
        """The connection limits in effect."""
        return self.gate.limits

    @property
    def allow_unknown(self) -> bool:
        """Whether unknown charger ids are registered when they connect."""
        return self.gate.allow_unknown

    @property
    def tls_available(self) -> bool:
        """Whether chargers can reach us over TLS (our own or a trusted proxy's)."""
        return self.gate.tls or self.gate.trust_proxy_headers

    def get_template_namespace(self) -> dict[str, Any]:
        """Security templates also get the unknown-charger action URLs."""
        namespace = super().get_template_namespace()
        namespace.update(unknown_url=unknown_url, security_path=SECURITY_PATH)
        return namespace


class SecurityEventsHandler(SecurityAdminHandler):
    """``GET /ocpp/admin/security/``: recent security events and the settings in effect."""

    @tornado.web.authenticated
    async def get(self) -> None:
        """The newest events, filtered by charger and source."""
        filters = self.query_fields("charger", "source")
        source = filters["source"] if filters["source"] in SOURCES else ""
        charger = filters["charger"].strip() or None
        events = await self.services.security_events.recent(charger, EVENTS_SHOWN)
        if source:
            events = [event for event in events if event.get("source") == source]
        limits = self.limits
        heartbeat = self.services.settings.heartbeat_interval
        self.render(
            "admin/security.html", events=events, filters=filters, sources=SOURCES,
            limits=limits, idle=limits.idle_seconds(heartbeat),
            allow_unknown=self.allow_unknown, tls=self.tls_available,
            unknown_count=await self.unknown.count(), shown=EVENTS_SHOWN,
            default_profile=self.services.settings.default_security_profile,
            ca=self.services.ca, external_ca=self.services.settings.external_ca,
            csrs=await self.services.certificates.pending_csrs(),
        )  # fmt: skip


class UnknownChargersHandler(SecurityAdminHandler):
    """``GET /ocpp/admin/security/unknown/``: ids refused because they were unknown."""

    @tornado.web.authenticated
    async def get(self) -> None:
        """The list, most recently seen first."""
        entries = await self.unknown.list()
        self.render(
            "admin/security_unknown.html", entries=entries, allow_unknown=self.allow_unknown
        )


class UnknownAcceptHandler(SecurityAdminHandler):
    """``POST /ocpp/admin/security/unknown/<cid>/accept``: create the charger document."""

    @tornado.web.authenticated
    async def post(self, charger_id: str) -> None:
        """Create the charger (its next connection is let in) and drop it from the list."""
        if await self.unknown.get(charger_id) is None:
            raise tornado.web.HTTPError(404, log_message="not in the unknown-charger list")
        created = await self.services.chargers.create(charger_id, {}, utcnow())
        await self.unknown.forget(charger_id)
        user = self.current_user["username"]
        log.info("unknown charger %r accepted by %s", charger_id, user)
        if created:
            self.flash(f"Charger {charger_id} accepted: it can connect now. "
                       "Set a security profile and key below if it needs one.")  # fmt: skip
        else:
            self.flash(f"Charger {charger_id} existed already.")
        self.redirect(charger_url(charger_id, "security/"))


class UnknownDismissHandler(SecurityAdminHandler):
    """``POST /ocpp/admin/security/unknown/<cid>/dismiss``: remove an entry from the list."""

    @tornado.web.authenticated
    async def post(self, charger_id: str) -> None:
        """Forget the id (it is listed again if it comes back)."""
        if not await self.unknown.forget(charger_id):
            raise tornado.web.HTTPError(404, log_message="not in the unknown-charger list")
        self.flash(f"Removed {charger_id} from the list.")
        self.redirect(UNKNOWN_PATH)


def security_fields(charger: dict[str, Any]) -> dict[str, str]:
    """The security form filled from the stored charger."""
    security = charger.get("security") or {}
    return {
        "profile": str(security.get("profile") or 0),
        "key_form": security.get("key_form") or HEX_FORM,
        "rotate": "",
        "confirm_downgrade": "",
    }


def parse_profile(value: str) -> int:
    """A security profile number: 0, 1, 2 or 3."""
    if value.strip() not in {str(profile) for profile in PROFILES}:
        raise forms.FieldError("choose profile 0, 1, 2 or 3")
    return int(value)


def parse_key_form(value: str) -> str:
    """How a new key is made: hex (20 random bytes) or text (20 characters)."""
    if value not in KEY_FORMS:
        raise forms.FieldError("choose hex or text")
    return value


class ChargerSecurityHandler(SecurityAdminHandler):
    """``GET/POST /ocpp/admin/chargers/<cid>/security/``: profile and key of a charger."""

    read_role = write_role = "admin"  # a charger's key and security profile

    async def load(self, charger_id: str) -> dict[str, Any]:
        """The charger, or 404."""
        return await self.load_charger(charger_id)

    async def show(
        self, charger: dict[str, Any], form: forms.Form, status: int = 200,
        new_key: NewKey | None = None,
    ) -> None:  # fmt: skip
        """Render the page (with a new key only right after it was made)."""
        charger_id = charger["_id"]
        events = await self.services.security_events.recent(charger_id, CHARGER_EVENTS_SHOWN)
        issued = await self.services.certificates.for_charger(charger_id)
        if new_key is not None:
            self.set_header("Cache-Control", "no-store")
        self.set_status(status)
        self.render(
            "admin/security_charger.html", cid=charger_id, charger=charger,
            security=charger.get("security") or {}, form=form, new_key=new_key,
            events=events, tls=self.tls_available, key_forms=KEY_FORMS,
            connected=charger_id in self.registry, certificates=issued,
        )  # fmt: skip

    @tornado.web.authenticated
    async def get(self, charger_id: str) -> None:
        """The form filled with the stored values."""
        charger = await self.load(charger_id)
        await self.show(charger, forms.Form(security_fields(charger)))

    @tornado.web.authenticated
    async def post(self, charger_id: str) -> None:
        """Change the profile and/or make a new key; lowering the profile needs a tick."""
        charger = await self.load(charger_id)
        form = forms.Form(self.body_fields(*security_fields(charger)))
        profile = form.field("profile", parse_profile)
        key_form = form.field("key_form", parse_key_form)
        rotate = form.field("rotate", forms.checkbox)
        confirm = form.field("confirm_downgrade", forms.checkbox)
        old = (charger.get("security") or {}).get("profile") or 0
        if form.ok and profile < old and not confirm:
            form.error("confirm_downgrade",
                       f"lowering the profile from {old} to {profile} weakens this charger's "
                       "security: tick the box to confirm")  # fmt: skip
        if form.ok and profile != old:
            problem = await profile_problem(self.services, charger_id, profile)
            if problem:
                form.error("profile", problem)
        if not form.ok:
            await self.show(charger, form, 400)
            return
        user = self.current_user["username"]
        try:
            key = await set_security(
                self.services, charger, profile, rotate, key_form, user, utcnow()
            )
        except LookupError:
            raise tornado.web.HTTPError(404, log_message="charger deleted meanwhile") from None
        except ValueError as exc:  # its certificate went meanwhile (profile_problem)
            form.error("profile", str(exc))
            await self.show(charger, form, 400)
            return
        log.info("charger %r security set to profile %d by %s%s", charger_id, profile, user,
                 " with a new key" if key else "")  # fmt: skip
        if key is None:
            self.flash("Saved.")
            self.redirect(charger_url(charger_id, "security/"))
            return
        charger = await self.load(charger_id)
        await self.show(charger, forms.Form(security_fields(charger)), new_key=key)


default_handlers = [
    (SECURITY_PATH, SecurityEventsHandler),
    (UNKNOWN_PATH, UnknownChargersHandler),
    (UNKNOWN_PATH + r"([^/]+)/accept", UnknownAcceptHandler),
    (UNKNOWN_PATH + r"([^/]+)/dismiss", UnknownDismissHandler),
    (ADMIN_PATH + r"chargers/([^/]+)/security/", ChargerSecurityHandler),
]
