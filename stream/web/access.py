"""Who may use the live pages: the Host header, the key, and the Origin of a snooze.

- **Host** (every request): must name this server — a loopback name or address, one of this machine's
  own addresses (checked by binding to it, so a new Wi-Fi address is known at once), this machine's
  host name (also `.local`), or a name in the settings (`[web] hosts`, for a reverse proxy); with this
  server's port where the Host names an address or loopback. A DNS-rebinding page (evil.example resolving
  to 127.0.0.1) sends its own name and gets 421.
- **Key** (every route but /healthz, only when bound beyond loopback): a random `secrets.token_urlsafe`
  made at start, printed inside the page addresses and their QR code (`?key=...`). A request carrying a
  correct `key` gets it back as a cookie, which the browser then sends with everything the page loads:
  the EventSource feed (which cannot set headers), the snooze `fetch`, the static files. The cookie is
  HttpOnly (no script on the page ever holds the key), SameSite=Strict (no other site's page can make
  the browser send it), and named with the port (cookies are shared across a host's ports). No page
  script handles the key at all. Wrong or missing: 403 with one line saying where the key comes from.
- **Origin** (every request that changes something: the snooze POST): when present it must be this
  server's own origin (`http://` + Host). Browsers send Origin on every cross-site POST, so a missing
  Origin means a non-browser client (curl), which cannot ride on a victim's cookie.
"""

from __future__ import annotations

import hmac
import socket
import urllib.parse
from collections.abc import Iterable

from aiohttp import web

from strideguard.stream.web.reach import LOOPBACK_NAMES, is_loopback_host, is_own_address

KEY_PARAM = "key"
KEY_MAX_AGE_S = 24 * 3600  # the key is new at every start anyway
OPEN_PATHS = frozenset({"/healthz"})  # for monitors: counts only, nothing about runners


class AccessPolicy:
    """The checks above for one server (`port` known once bound; `key` None on loopback)."""

    def __init__(self, *, key: str | None, extra_hosts: Iterable[str] = ()) -> None:
        self.key = key
        self.port = 0
        hostname = socket.gethostname().lower()
        self.names = {*LOOPBACK_NAMES, hostname, f"{hostname}.local", *(h.lower() for h in extra_hosts)}
        self.extra = {h.lower() for h in extra_hosts}
        self._own: set[str] = set()  # addresses already found to be this machine's
        self.rejected = {"host": 0, "key": 0, "origin": 0}

    @property
    def cookie_name(self) -> str:
        return f"strideguard_key_{self.port}"

    def host_ok(self, host_header: str | None) -> bool:
        if not host_header:
            return False
        try:
            parts = urllib.parse.urlsplit("//" + host_header)
            name, port = parts.hostname, parts.port
        except ValueError:
            return False
        if not name:
            return False
        if name in self.extra:
            return True  # a proxy's name: the proxy chose the port
        if (port or 80) != self.port:
            return False
        if name in self.names or is_loopback_host(name) or name in self._own:
            return True
        if is_own_address(name):
            self._own.add(name)
            return True
        return False

    def key_in(self, request: web.Request) -> str | None:
        """'query' or 'cookie' when the request carries the right key, else None."""
        assert self.key is not None
        for where, value in (
            ("query", request.query.get(KEY_PARAM)),
            ("cookie", request.cookies.get(self.cookie_name)),
        ):
            if value is not None and hmac.compare_digest(value.encode(), self.key.encode()):
                return where
        return None

    def origin_ok(self, request: web.Request) -> bool:
        origin = request.headers.get("Origin")
        return origin is None or origin.lower() == f"{request.scheme}://{request.host}".lower()

    def remember(self, response: web.StreamResponse) -> None:
        """Hand the key to the browser as a cookie (see the module doc for the attributes)."""
        assert self.key is not None
        response.set_cookie(
            self.cookie_name, self.key, max_age=KEY_MAX_AGE_S, path="/", httponly=True, samesite="Strict"
        )


def refuse(status: int, line: str) -> web.Response:
    """A one-line plain-text refusal (no runner data, nothing for a script to parse)."""
    return web.Response(status=status, text=line + "\n", headers={"Cache-Control": "no-store"})
