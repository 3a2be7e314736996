"""The API tokens page: list, create (the plain token shown once), revoke.

Everyone manages their own tokens; an admin sees and revokes everyone's. A token's role
is at most its creator's, and its owner's current role caps it at every request.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import tornado.web

from auth.roles import ADMIN, ROLES, VIEWER, allows
from handlers import forms
from handlers.admin.base import ADMIN_PATH, AdminHandler
from ocppj.timeutil import utcnow

TOKENS_PATH = ADMIN_PATH + "tokens/"
MAX_EXPIRY_DAYS = 3650
NEW_TOKEN = {"label": "", "role": VIEWER, "expires_days": "90"}


def parse_token(form: forms.Form, creator_role: str) -> None:
    """Validate label, role (at most the creator's) and expiry in days (empty: never)."""
    form.field("label", forms.text, forms.MAX_LABEL, required=True)
    role = form.field("role", forms.choice, ROLES)
    if role is not None and not allows(creator_role, role):
        form.error("role", f"at most your own role ({creator_role})")
    form.field("expires_days", forms.optional_integer, 1, MAX_EXPIRY_DAYS)


class TokensHandler(AdminHandler):
    """``GET/POST /ocpp/admin/tokens/``: the tokens one may manage, and the create form."""

    read_role = VIEWER
    write_role = VIEWER  # everyone manages their own; the role check is per token

    @property
    def sees_all(self) -> bool:
        """Admins manage every user's tokens."""
        return self.may(ADMIN)

    async def show(
        self, form: forms.Form | None = None, status: int = 200, created: str | None = None
    ) -> None:
        """Render the list, the form as typed, and a new plain token shown once."""
        owner = None if self.sees_all else self.current_user["username"]
        tokens = await self.services.tokens.list(owner)
        self.set_status(status)
        self.set_header("Cache-Control", "no-store")
        self.render(
            "admin/tokens.html", tokens=tokens, form=form or forms.Form(NEW_TOKEN),
            roles=[role for role in ROLES if self.may(role)], created=created,
            sees_all=self.sees_all, now=utcnow(),
        )  # fmt: skip

    @tornado.web.authenticated
    async def get(self) -> None:
        """The list."""
        await self.show()

    @tornado.web.authenticated
    async def post(self) -> None:
        """Create a token of the current user; show it once (201)."""
        form = forms.Form(self.body_fields(*NEW_TOKEN))
        parse_token(form, self.current_role or VIEWER)
        if not form.ok:
            await self.show(form, 400)
            return
        days = form.values["expires_days"]
        now = utcnow()
        token = await self.services.tokens.create(
            self.current_user["username"], form.values["label"], form.values["role"],
            expires=None if days is None else now + timedelta(days=days), now=now,
        )  # fmt: skip
        await self.show(status=201, created=token)


class TokenRevokeHandler(AdminHandler):
    """``POST /ocpp/admin/tokens/<id>/revoke``: one's own token, or any for an admin."""

    write_role = VIEWER

    async def load(self, token_id: str) -> dict[str, Any]:
        """The token if the current user may manage it, else 404 (others' are not shown)."""
        token = await self.services.tokens.get(token_id)
        mine = token is not None and token["username"] == self.current_user["username"]
        if token is None or not (mine or self.may(ADMIN)):
            raise tornado.web.HTTPError(404, log_message="unknown token")
        return token

    @tornado.web.authenticated
    async def post(self, token_id: str) -> None:
        """Revoke; the API answers 401 for it from the next request on."""
        token = await self.load(token_id)
        await self.services.tokens.revoke(token_id)
        self.flash(f"Token {token.get('label') or token_id} revoked.")
        self.redirect(TOKENS_PATH)


default_handlers = [
    (TOKENS_PATH, TokensHandler),
    (TOKENS_PATH + r"([^/]+)/revoke", TokenRevokeHandler),
]
