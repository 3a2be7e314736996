"""Security headers on every response of the Application: pages, the API, static and
vendor files, 404s of unknown paths and error pages alike (an output transform, so no
handler class can forget them), and no ``Server`` version header."""

from __future__ import annotations

from functools import partial
from urllib.parse import urlsplit

from tornado import httputil
from tornado.web import OutputTransform

HSTS = "max-age=31536000"


def tile_source(tile_url: str) -> str:
    """The CSP source of a map tile URL template: its origin, ``{s}``-style placeholders in
    the host as ``*`` (``https://{s}.tile.example/`` -> ``https://*.tile.example``)."""
    parts = urlsplit(tile_url.replace("{s}", "TILESUBDOMAIN"))
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return ""
    netloc = parts.netloc.replace("TILESUBDOMAIN", "*")
    if "{" in netloc:  # another placeholder in the host: any host of that scheme
        return f"{parts.scheme}:"
    return f"{parts.scheme}://{netloc}"


def content_security_policy(tile_url: str) -> str:
    """Scripts, styles and connections only from this origin (no inline code); images
    also from the map tile server and data: URLs; never framed."""
    images = " ".join(part for part in ("'self'", "data:", tile_source(tile_url)) if part)
    return (
        "default-src 'self'; script-src 'self'; style-src 'self'; "
        f"img-src {images}; connect-src 'self'; font-src 'self'; object-src 'none'; "
        "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )


class SecurityHeaders(OutputTransform):
    """Adds the headers to the first chunk of each response (a handler's own values win)."""

    def __init__(self, request: httputil.HTTPServerRequest, *, policy: str):
        super().__init__(request)
        self.https = request.protocol == "https"
        self.policy = policy

    def transform_first_chunk(
        self, status_code: int, headers: httputil.HTTPHeaders, chunk: bytes, finishing: bool
    ) -> tuple[int, httputil.HTTPHeaders, bytes]:
        """Set the security headers; drop ``Server``."""
        headers.pop("Server", None)
        defaults = {
            "Content-Security-Policy": self.policy,
            "X-Content-Type-Options": "nosniff",
            "X-Frame-Options": "DENY",
            "Referrer-Policy": "same-origin",
        }
        if self.https:
            defaults["Strict-Transport-Security"] = HSTS
        for name, value in defaults.items():
            if name not in headers:
                headers[name] = value
        return status_code, headers, chunk


def security_transform(tile_url: str) -> partial[SecurityHeaders]:
    """The transform factory for ``Application(transforms=[...])``."""
    return partial(SecurityHeaders, policy=content_security_policy(tile_url))
