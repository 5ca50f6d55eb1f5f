"""How a phone reaches the live pages: the addresses to print, the links with the key, their QR codes.

A server bound to 0.0.0.0 has no address a phone can open; printing 127.0.0.1 (as it once did) sends
the phone to itself. The machine's LAN addresses come from two sources, both stdlib-only:

1. the address the kernel would send from to reach the internet (a UDP socket "connected" to a public
   address sends nothing, but its local address is the default route's interface): the one a phone on
   the same Wi-Fi most likely reaches, so it is printed (and QR-coded) first;
2. `ip -j -4 addr` (iproute2, on every Linux) for every other interface (a laptop on Ethernet and
   Wi-Fi), with `getaddrinfo(gethostname())` where `ip` is missing (macOS, Windows).

Loopback, link-local and unspecified addresses are never printed. QR codes by `segno` (pure Python;
terminal text and SVG without an image library).
"""

from __future__ import annotations

import io
import ipaddress
import json
import shutil
import socket
import subprocess
import urllib.parse
from collections.abc import Iterable
from dataclasses import dataclass

import segno

ROUTE_PROBE = ("198.51.100.1", 9)  # TEST-NET-2: routed like the internet, never answered; nothing is sent
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")


def is_loopback_host(host: str) -> bool:
    """Whether a bind address (or a Host header's host) means this machine only."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def is_wildcard_host(host: str) -> bool:
    return host in ("", "0.0.0.0", "::", "[::]")


def _usable(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return ip.version == 4 and not (ip.is_loopback or ip.is_link_local or ip.is_unspecified or ip.is_multicast)


def _route_address() -> str | None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(ROUTE_PROBE)
            return str(s.getsockname()[0])
        except OSError:  # no route: offline
            return None


def addresses_from_ip_json(text: str) -> list[str]:
    """The IPv4 addresses in `ip -j addr` output, interfaces that are up first (order kept)."""
    try:
        links = json.loads(text)
    except ValueError:
        return []
    out = []
    for link in links if isinstance(links, list) else []:
        if not isinstance(link, dict) or "UP" not in link.get("flags", []):
            continue
        for info in link.get("addr_info", []):
            if isinstance(info, dict) and info.get("family") == "inet" and isinstance(info.get("local"), str):
                out.append(info["local"])
    return out


def _interface_addresses() -> list[str]:
    ip = shutil.which("ip")
    if ip is not None:
        try:
            done = subprocess.run([ip, "-j", "-4", "addr"], capture_output=True, text=True, timeout=2, check=False)
            if done.returncode == 0:
                return addresses_from_ip_json(done.stdout)
        except (OSError, subprocess.SubprocessError):
            pass
    try:
        infos = socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET)
    except OSError:
        return []
    return [str(info[4][0]) for info in infos]


def lan_addresses() -> list[str]:
    """This machine's IPv4 addresses that another device on the network could open, best first."""
    found = [a for a in (_route_address(), *_interface_addresses()) if a is not None and _usable(a)]
    return list(dict.fromkeys(found))


def is_own_address(address: str) -> bool:
    """Whether `address` (an IP literal) belongs to this machine: binding to it succeeds only then."""
    try:
        ip = ipaddress.ip_address(address.strip("[]"))
    except ValueError:
        return False
    family = socket.AF_INET6 if ip.version == 6 else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as s:
        try:
            s.bind((str(ip), 0))
        except OSError:
            return False
    return True


def _printable(name: str) -> str:
    return "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in name)


@dataclass(frozen=True, slots=True)
class PageLinks:
    """The pages' addresses: `bases` (`http://host:port/`, best first) and the key, if one is needed."""

    bases: tuple[str, ...]
    key: str | None = None

    def _url(self, path: str, base: str | None) -> str:
        query = f"?{urllib.parse.urlencode({'key': self.key})}" if self.key else ""
        return f"{base or self.bases[0]}{path}{query}"

    def team(self, base: str | None = None) -> str:
        return self._url("", base)

    def runner(self, name: str, base: str | None = None) -> str:
        return self._url(f"runner/{urllib.parse.quote(name, safe='')}", base)


def qr_svg(url: str) -> bytes:
    """An SVG QR code of `url` (dark modules on white: phone cameras need the contrast)."""
    out = io.BytesIO()
    segno.make(url, error="m").save(out, kind="svg", scale=6, border=3, xmldecl=False, title="scan to open")
    return out.getvalue()


def qr_text(url: str) -> str:
    """A QR code of `url` in Unicode half blocks (two rows per text line), for the terminal."""
    out = io.StringIO()
    segno.make(url, error="m").terminal(out=out, compact=True, border=2)
    return out.getvalue()


def announcement(links: PageLinks, *, reachable: bool, runners: Iterable[str] = ()) -> str:
    """What the terminal says about the pages before a run: every address, the runners' pages, a QR code."""
    runners = list(runners)
    if not reachable:
        page = links.runner(runners[0]) if len(runners) == 1 else f"{links.team()}runner/NAME"
        return (
            f"live pages: {links.team()}  (team page; {'the runner' if runners else 'a runner'}'s page is {page}) — "
            "this computer only: --host 0.0.0.0 lets a phone on your network in, with a key"
        )
    lines = ["live pages on your network (the key in each address lets a phone in; anyone with it can see and snooze):"]
    for name in runners:
        lines.append(f"  {_printable(name)}'s page: {links.runner(name)}")
    lines.append(f"  team page: {links.team()}")
    for base in links.bases[1:]:
        lines.append(f"  also at:   {links.team(base)}")
    target = links.runner(runners[0]) if len(runners) == 1 else links.team()
    lines.append(f"scan to open the {'runner' if len(runners) == 1 else 'team'} page on a phone:")
    return "\n".join(lines) + "\n" + qr_text(target).rstrip("\n")
