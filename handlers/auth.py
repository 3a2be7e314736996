"""Log in and out (pages)."""

from __future__ import annotations

from urllib.parse import urlparse

from auth.passwords import MIN_PASSWORD
from auth.roles import VIEWER
from handlers.base import BaseHandler

DASHBOARD = "/ocpp/"


def safe_next(target: str | None) -> str:
    """Only local paths are followed after login (no open redirect): one leading "/", no
    "//", no backslash (browsers read "/\\host" as "//host"), no control characters, no
    scheme or host; anything else is the dashboard."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return DASHBOARD
    if "\\" in target or any(ord(char) < 32 or ord(char) == 127 for char in target):
        return DASHBOARD
    parsed = urlparse(target)
    if parsed.scheme or parsed.netloc:
        return DASHBOARD
    return target


class LoginHandler(BaseHandler):
    """``GET/POST /ocpp/login``."""

    write_role = VIEWER  # logging in again changes nothing of others

    def get(self) -> None:
        """The login form."""
        self.render(
            "login.html", error=None, username="", next=safe_next(self.get_argument("next", None))
        )

    async def post(self) -> None:
        """Check the credentials; re-render with the error and the typed name when wrong."""
        username = self.get_body_argument("username", "").strip()
        password = self.get_body_argument("password", "")
        target = safe_next(self.get_body_argument("next", None))
        ip = self.request.remote_ip or ""
        retry = self.login_throttle.retry_after(ip, username)
        if retry is not None:
            self.set_status(429)
            self.set_header("Retry-After", str(retry))
            error = f"Too many failed logins. Try again in {retry} seconds."
            self.render("login.html", error=error, username=username, next=target)
            return
        user = await self.services.users.authenticate(username, password) if username else None
        if user is None:
            self.login_throttle.failure(ip, username)
            self.set_status(400)
            self.render(
                "login.html", error="Wrong username or password.", username=username, next=target
            )
            return
        await self.services.users.record_login(user["username"])
        self.login(user)
        self.redirect(target)


class SetPasswordHandler(BaseHandler):
    """``GET/POST /ocpp/set-password/<token>``: the one-time link of an invite or a password
    reset; no login needed (the token is the credential), and it logs the user in."""

    write_role = VIEWER

    async def get(self, token: str) -> None:
        """The form, or why the link no longer works (404)."""
        user = await self.services.users.by_invite(token)
        self.set_header("Cache-Control", "no-store")
        self.set_status(200 if user else 404)
        self.render("set_password.html", user=user, error=None, min_password=MIN_PASSWORD)

    async def post(self, token: str) -> None:
        """Set the password (the link is spent), log in, go to the dashboard."""
        user = await self.services.users.by_invite(token)
        password = self.get_body_argument("password", "")
        error = None
        if len(password) < MIN_PASSWORD:
            error = f"The password needs at least {MIN_PASSWORD} characters."
        elif password != self.get_body_argument("confirm", ""):
            error = "The two passwords differ."
        if user is None or error:
            self.set_status(404 if user is None else 400)
            self.render("set_password.html", user=user, error=error, min_password=MIN_PASSWORD)
            return
        user = await self.services.users.redeem(token, password)
        if user is None:  # spent or expired meanwhile
            self.set_status(404)
            self.render("set_password.html", user=None, error=None, min_password=MIN_PASSWORD)
            return
        self.login(user)
        self.redirect(DASHBOARD)


class LogoutHandler(BaseHandler):
    """``POST /ocpp/logout``."""

    write_role = VIEWER

    async def post(self) -> None:
        """End every login session of the user (the session version goes up, so a copy of
        the cookie is worthless too) and forget the cookie."""
        if self.current_user is not None:
            await self.services.users.end_sessions(self.current_user["username"])
        self.forget_login()
        self.redirect("/ocpp/login")


default_handlers = [
    (r"/ocpp/login", LoginHandler),
    (r"/ocpp/logout", LogoutHandler),
    (r"/ocpp/set-password/([A-Za-z0-9_-]+)", SetPasswordHandler),
]
