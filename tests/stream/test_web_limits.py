"""Bounded resources of the live pages, with real sockets against the real server: idle and half-open
connections are closed and counted, a flood pushes out idle connections instead of the pages, open
feeds are capped (503), a page that reads nothing is dropped, a snooze body is small and prompt.

Before: 300 connections that sent half a request were never closed; in a process limited to 256 file
descriptors (macOS's default) they ran it out of descriptors: /healthz timed out and asyncio logged
39,434 `accept()` tracebacks in 25 s (test_a_flood_of_half_requests_...)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import resource
import socket
import subprocess
import sys
import time

import aiohttp
import pytest

from strideguard.stream.runtime import bus as busmod
from strideguard.stream.web import WebServer
from strideguard.stream.web.guard import Limits
from tests.stream.web_raw import request

HALF_REQUEST = b"GET /runner/anna HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


async def health(server: WebServer) -> dict:
    return json.loads((await request(server.port, "/healthz")).body)


async def closed_by_server(reader: asyncio.StreamReader, within_s: float) -> bool:
    try:
        async with asyncio.timeout(within_s):
            return await reader.read() == b""
    except (TimeoutError, ConnectionResetError):
        return False


async def test_half_open_connections_time_out_and_the_pages_still_load(caplog) -> None:
    caplog.set_level(logging.DEBUG)
    limits = Limits(idle_timeout_s=5.0, max_connections=100)
    async with WebServer(busmod.Bus(), host="127.0.0.1", port=0, limits=limits) as server:
        conns = []
        for _ in range(300):
            reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
            writer.write(HALF_REQUEST)
            conns.append((reader, writer))
        await asyncio.sleep(0.2)
        page = await request(server.port, "/runner/anna")
        assert page.status == 200 and b"live.js" in page.body
        # not behind the flood: served while the 100 it kept were still open (none had timed out yet)
        assert (await health(server))["connections"]["timed_out"] == 0
        closed = await asyncio.gather(*(closed_by_server(r, 20.0) for r, _ in conns))
        assert all(closed)
        counts = (await health(server))["connections"]
        assert counts["open"] <= 1 and counts["max"] == 100
        assert counts["evicted"] >= 200 and counts["evicted"] + counts["timed_out"] == 300
        for _, w in conns:
            w.close()
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.WARNING]


async def test_a_connection_idle_between_requests_or_half_way_through_one_is_closed() -> None:
    async with WebServer(busmod.Bus(), host="127.0.0.1", port=0, limits=Limits(idle_timeout_s=0.5)) as server:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(f"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n\r\n".encode())
        assert (await reader.readuntil(b"\r\n\r\n")).startswith(b"HTTP/1.1 200")
        await asyncio.sleep(0.1)
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: ")  # keep-alive, then half a second request
        t0 = time.monotonic()
        body = await asyncio.wait_for(reader.read(), 5)  # the rest of the first reply, then EOF
        assert b"\r\n\r\n" not in body.partition(b"}")[2]  # no second reply
        assert time.monotonic() - t0 > 0.3  # after the idle timeout, not at once (wait_for bounds it above)
        writer.close()
        assert (await health(server))["connections"]["timed_out"] == 1


async def test_open_feeds_are_capped_with_a_one_line_503() -> None:
    async with (
        WebServer(busmod.Bus(), host="127.0.0.1", port=0, limits=Limits(max_feeds=2)) as server,
        aiohttp.ClientSession() as http,
    ):
        first = await http.get(server.url + "events")
        second = await http.get(server.url + "events")
        reply = await request(server.port, "/events")
        assert reply.status == 503 and reply.headers["retry-after"] == "10"
        assert reply.body.count(b"\n") == 1 and b"2 pages are open" in reply.body
        h = await health(server)
        assert (h["feeds"], h["max_feeds"], h["feeds_refused"]) == (2, 2, 1)
        first.close()
        await asyncio.sleep(0.2)
        third = await http.get(server.url + "events")
        assert third.status == 200
        for resp in (second, third):
            resp.close()


async def test_a_page_that_reads_nothing_is_dropped_not_buffered_for_ever() -> None:
    bus = busmod.Bus()
    async with WebServer(bus, host="127.0.0.1", port=0, limits=Limits(write_timeout_s=0.5)) as server:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", server.port))
        sock.send(f"GET /events HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n\r\n".encode())
        await asyncio.sleep(0.2)
        big = {"runner": "anna", "note": "x" * 20_000}
        for i in range(400):  # about 8 MB the page never reads
            bus.publish(busmod.topic("t", "anna", "metrics"), {**big, "i": i})
            await asyncio.sleep(0.005)
            if (await health(server))["feeds_stalled"]:
                break
        h = await health(server)
        assert (h["feeds_stalled"], h["feeds"]) == (1, 0)
        sock.close()


async def test_a_snooze_body_is_small_and_must_arrive_promptly() -> None:
    bus = busmod.Bus()
    bus.publish(busmod.topic("t", "anna", "status"), {"runner": "anna", "state": "running"})
    limits = Limits(body_timeout_s=0.5)
    async with WebServer(bus, host="127.0.0.1", port=0, limits=limits) as server:
        huge = b'{"metric": null, "minutes": 10, "pad": "' + b"x" * 10_000 + b'"}'
        reply = await request(
            server.port,
            "/api/runner/anna/snooze",
            method="POST",
            headers={"Content-Type": "application/json"},
            body=huge,
        )
        assert reply.status == 413
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(
            f"POST /api/runner/anna/snooze HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
            'Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"metric"'.encode()
        )
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        assert head.startswith(b"HTTP/1.1 408")  # within wait_for's 5 s: the 0.5-s body timeout, not a hang
        writer.close()


SERVE = """
import asyncio, os, sys
from strideguard.stream.runtime import bus as busmod
from strideguard.stream.web import WebServer
from strideguard.stream.web.guard import Limits

def open_fds():
    return len(os.listdir("/proc/self/fd")) - 1  # less listdir's own

async def main():
    async with WebServer(busmod.Bus(), host="127.0.0.1", port=0, limits=Limits(idle_timeout_s=3.0)) as server:
        peak = [open_fds()]
        print(server.port, server.guard.max_connections, peak[0], flush=True)
        loop = asyncio.get_running_loop()

        def sample():  # every loop turn: a burst held for one turn is seen
            fds = open_fds()
            if fds > peak[0]:
                peak[0] = fds
                print("peak", fds, flush=True)
            loop.call_soon(sample)

        sample()
        await asyncio.sleep(60)

asyncio.run(main())
"""


def _low_fd_limit() -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))


@pytest.mark.slow
def test_a_flood_of_half_requests_neither_exhausts_a_256_descriptor_process_nor_prints_tracebacks() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-u", "-c", SERVE],  # -u: every line of stderr reaches the check
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_low_fd_limit,
    )
    try:
        assert proc.stdout is not None
        port, cap, at_start = (int(x) for x in proc.stdout.readline().split())
        assert cap <= 256 - 64  # sized under the limit, with room for the rest of the process
        socks = []
        for _ in range(300):
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
            s.sendall(HALF_REQUEST)
            socks.append(s)
        # the page still loads (the request has its own timeout): 300 idle sockets do not starve it
        page = asyncio.run(request(port, "/runner/anna"))
        assert page.status == 200
        # past the 3-s idle timeout every half request is closed; polled, not slept, so a loaded CI
        # machine cannot make it flaky (how fast is a benchmark's question, not this test's)
        deadline = time.monotonic() + 30.0
        while True:
            counts = json.loads(asyncio.run(request(port, "/healthz")).body)["connections"]
            if counts["open"] <= 1 and counts["evicted"] + counts["timed_out"] >= 300:
                break
            assert time.monotonic() < deadline, f"half-open connections not closed: {counts}"
            time.sleep(0.5)
        for s in socks:
            s.close()
    finally:
        proc.terminate()
        stdout, stderr = proc.communicate(timeout=10)
    assert stderr == "", stderr[:2000]  # not one line: no accept() error, no traceback
    # the descriptors are bounded by the cap however the flood and the loop interleave, not only when the
    # loop keeps up: asyncio's own server held three 64-connection accept bursts at once on a loaded CI
    # machine (peak 220 of 256 here with two; the third ran it out), before any of them was admitted
    peak = max([at_start] + [int(line.split()[1]) for line in stdout.splitlines() if line.startswith("peak ")])
    assert peak <= at_start + cap + 4, f"{peak} descriptors open at the peak: {at_start} at start, cap {cap}"


async def test_out_of_descriptors_the_server_says_so_once_and_serves_again_when_they_come_back(caplog) -> None:
    """Something else in the process took every descriptor: accept() fails. One warning line (not a
    traceback per retry), counted in /healthz, and the waiting request is served once descriptors free up."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    async with WebServer(busmod.Bus(), host="127.0.0.1", port=0) as server:
        client = socket.socket()  # the client's descriptor, taken before the process runs out
        hog: list[int] = []
        resource.setrlimit(resource.RLIMIT_NOFILE, (len(os.listdir("/proc/self/fd")) + 16, hard))
        try:
            with contextlib.suppress(OSError):
                while True:
                    hog.append(os.open(os.devnull, os.O_RDONLY))
            client.setblocking(False)
            with contextlib.suppress(BlockingIOError):
                client.connect(("127.0.0.1", server.port))  # queued by the kernel, not yet accepted
            while server.guard is not None and server.guard.accept_failed < 3:  # retried, not given up
                await asyncio.sleep(0.1)
        finally:
            for fd in hog:
                os.close(fd)
            resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
        loop = asyncio.get_running_loop()
        await loop.sock_sendall(client, f"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n\r\n".encode())
        reply = await asyncio.wait_for(loop.sock_recv(client, 65536), 10)
        client.close()
        assert reply.startswith(b"HTTP/1.1 200"), reply[:200]
        assert json.loads(reply.partition(b"\r\n\r\n")[2])["connections"]["accept_failed"] >= 3
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert [r.getMessage().split(" (")[0] for r in warnings] == ["live pages: cannot accept connections"]
    assert not [r for r in caplog.records if r.exc_info]
