"""Raw HTTP over a real socket, for the pages' access tests: any Host, Origin or cookie a hostile client
might send (an HTTP library would fix the Host up for us)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass


@dataclass
class Reply:
    status: int
    headers: dict[str, str]  # lower-case names; repeated headers joined by "\n"
    body: bytes


async def request(
    port: int,
    path: str,
    *,
    host: str | None = None,
    method: str = "GET",
    headers: dict[str, str] | None = None,
    body: bytes = b"",
    address: str = "127.0.0.1",
    timeout_s: float = 5.0,
) -> Reply:
    """One request on a fresh connection (`Connection: close`); `host` defaults to `address:port`."""
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host if host is not None else f'{address}:{port}'}"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    lines += [f"Content-Length: {len(body)}", "Connection: close", "", ""]
    async with asyncio.timeout(timeout_s):
        reader, writer = await asyncio.open_connection(address, port)
        try:
            writer.write("\r\n".join(lines).encode() + body)
            await writer.drain()
            raw = await reader.read()
        finally:
            writer.close()
    head, _, rest = raw.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    parsed: dict[str, str] = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        key = name.strip().lower()
        parsed[key] = parsed[key] + "\n" + value.strip() if key in parsed else value.strip()
    if parsed.get("transfer-encoding") == "chunked":
        rest = _unchunk(rest)
    return Reply(status=int(status_line.split()[1]), headers=parsed, body=rest)


def _unchunk(data: bytes) -> bytes:
    out = b""
    while data:
        size_line, _, data = data.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            break
        out, data = out + data[:size], data[size + 2 :]
    return out
