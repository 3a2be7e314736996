"""The users page (admins only): list, invite, change role, reset password, disable.

An invite or a reset gives a one-time set-password link, shown once on the page that
answers the form (only its digest is stored), valid for ``INVITE_HOURS``.
"""

from __future__ import annotations

import re
from typing import Any

import tornado.web

from auth.roles import ADMIN, OPERATOR, ROLES
from handlers import forms
from handlers.admin.base import ADMIN_PATH, AdminHandler, path_segment
from models.users import INVITE_HOURS, LastAdmin, UserExists

USERS_PATH = ADMIN_PATH + "users/"
SET_PASSWORD_PATH = "/ocpp/set-password/"
MAX_USERNAME = 64
USERNAME = re.compile(r"[A-Za-z0-9._@-]+")
LAST_ADMIN = "{name} is the last enabled admin: make another user admin first."


def username(value: str) -> str:
    """A user name: 1 to 64 letters, digits and . _ @ -."""
    value = value.strip()
    if not value:
        raise forms.FieldError("required")
    if len(value) > MAX_USERNAME:
        raise forms.FieldError(f"at most {MAX_USERNAME} characters ({len(value)} given)")
    if not USERNAME.fullmatch(value):
        raise forms.FieldError("only letters A-Z a-z, digits and . _ @ -")
    return value


def user_url(name: str, action: str) -> str:
    """The URL of a form acting on one user."""
    return f"{USERS_PATH}{path_segment(name)}/{action}"


class UsersAdminHandler(AdminHandler):
    """Base of the users pages: admins only, for reading and writing."""

    read_role = ADMIN
    write_role = ADMIN

    def link(self, token: str) -> str:
        """The absolute set-password link of a token."""
        return f"{self.web.public_url.rstrip('/')}{SET_PASSWORD_PATH}{token}"

    async def show(
        self, form: forms.Form | None = None, status: int = 200, *, error: str | None = None,
        link: tuple[str, str] | None = None,
    ) -> None:  # fmt: skip
        """Render the list with the invite form (as typed), an error, or a new link shown
        once as (username, URL)."""
        users = await self.services.users.list()
        self.set_status(status)
        self.render(
            "admin/users.html", users=users, roles=ROLES, user_url=user_url,
            form=form or forms.Form({"username": "", "role": OPERATOR}), error=error,
            link=link, invite_hours=INVITE_HOURS,
        )  # fmt: skip

    async def load(self, name: str) -> dict[str, Any]:
        """The user, or 404."""
        user = await self.services.users.get(name)
        if user is None:
            raise tornado.web.HTTPError(404, log_message="unknown user")
        return user


class UsersHandler(UsersAdminHandler):
    """``GET/POST /ocpp/admin/users/``: every user, and the invite form."""

    @tornado.web.authenticated
    async def get(self) -> None:
        """The list."""
        await self.show()

    @tornado.web.authenticated
    async def post(self) -> None:
        """Invite: create the user without a password and show their link once."""
        form = forms.Form(self.body_fields("username", "role"))
        name = form.field("username", username)
        role = form.field("role", forms.choice, ROLES)
        if not form.ok:
            await self.show(form, 400)
            return
        try:
            token = await self.services.users.invite(name, role, by=self.current_user["username"])
        except UserExists:
            form.error("username", "a user with this name exists already")
            await self.show(form, 400)
            return
        await self.show(link=(name, self.link(token)), status=201)


class UserRoleHandler(UsersAdminHandler):
    """``POST /ocpp/admin/users/<name>/role``: change the role (at their next request)."""

    @tornado.web.authenticated
    async def post(self, name: str) -> None:
        """Set the role; the last enabled admin keeps theirs (400 with the reason)."""
        user = await self.load(name)
        form = forms.Form(self.body_fields("role"))
        role = form.field("role", forms.choice, ROLES)
        if not form.ok:
            await self.show(status=400, error=f"Role of {name}: {form.errors['role']}")
            return
        try:
            await self.services.users.set_role(user["username"], role)
        except LastAdmin:
            await self.show(status=400, error=LAST_ADMIN.format(name=name))
            return
        self.flash(f"{name} is now {role}.")
        self.redirect(USERS_PATH)


class UserResetHandler(UsersAdminHandler):
    """``POST /ocpp/admin/users/<name>/reset``: a new one-time link; sessions end."""

    @tornado.web.authenticated
    async def post(self, name: str) -> None:
        """Clear the password, end the user's sessions and show the new link once."""
        user = await self.load(name)
        token = await self.services.users.reset_link(user["username"])
        await self.show(link=(name, self.link(token)))


class UserDisableHandler(UsersAdminHandler):
    """``POST /ocpp/admin/users/<name>/disable``: disable (``disabled=1``) or enable."""

    @tornado.web.authenticated
    async def post(self, name: str) -> None:
        """Disabled: login refused, sessions ended, API tokens refused."""
        user = await self.load(name)
        disabled = forms.checkbox(self.get_body_argument("disabled", ""))
        try:
            await self.services.users.set_disabled(user["username"], disabled)
        except LastAdmin:
            await self.show(status=400, error=LAST_ADMIN.format(name=name))
            return
        self.flash(f"{name} is {'disabled' if disabled else 'enabled'}.")
        self.redirect(USERS_PATH)


default_handlers = [
    (USERS_PATH, UsersHandler),
    (USERS_PATH + r"([^/]+)/role", UserRoleHandler),
    (USERS_PATH + r"([^/]+)/reset", UserResetHandler),
    (USERS_PATH + r"([^/]+)/disable", UserDisableHandler),
]
