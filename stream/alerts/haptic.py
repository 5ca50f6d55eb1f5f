"""Haptic channel: buzz a band through BLE Immediate Alert (service 0x1802, Alert Level 0x2A06).

An onset writes 0x02 (high alert), waits `buzz_s`, then writes 0x00 (no alert): a band keeps
vibrating until told to stop, so the stop is always sent, even after an error mid-buzz. The link is
kept between alerts and re-made when it drops; a band that cannot be reached fails only this channel's
send (the dispatcher logs it and the other channels carry on). `backend=` passes a bleak backend class
through to BleakClient, which is how tests drive the real bleak API against a simulated band.
Each runner may have their own band (`addresses`), else the default `address` is used.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from typing import Any

from bleak import BleakClient

from strideguard.analytics.results import Severity
from strideguard.sensors.protocols.alert_level import AlertLevel, build_alert_level
from strideguard.sensors.protocols.uuids import ALERT_LEVEL
from strideguard.stream.alerts.base import Alert
from strideguard.stream.errors import SinkError


class HapticChannel:
    name = "haptic"
    send_cleared = False

    def __init__(
        self,
        *,
        address: str | None = None,
        addresses: Mapping[str, str] | None = None,
        buzz_s: float = 0.8,
        connect_timeout_s: float = 10.0,
        backend: type | None = None,
        client_kwargs: Mapping[str, Any] | None = None,
    ) -> None:
        if address is None and not addresses:
            raise ValueError("a haptic channel needs an address (or per-runner addresses)")
        self.address = address
        self.addresses = dict(addresses or {})
        self.buzz_s = buzz_s
        self.connect_timeout_s = connect_timeout_s
        self.backend = backend
        self.client_kwargs = dict(client_kwargs or {})
        self._clients: dict[str, BleakClient] = {}
        self.writes: list[tuple[str, bytes]] = []  # (address, payload) written, for tests and logs

    def address_for(self, runner: str) -> str | None:
        return self.addresses.get(runner, self.address)

    async def _client(self, address: str) -> BleakClient:
        client = self._clients.get(address)
        if client is not None and client.is_connected:
            return client
        kwargs: dict[str, Any] = dict(self.client_kwargs)
        if self.backend is not None:
            kwargs["backend"] = self.backend
        client = BleakClient(address, timeout=self.connect_timeout_s, **kwargs)
        try:
            await client.connect()
        except Exception as exc:
            raise SinkError(f"band not reachable: {exc}", sink=self.name, endpoint=address) from exc
        self._clients[address] = client
        return client

    async def _write(self, client: BleakClient, address: str, level: AlertLevel) -> None:
        payload = build_alert_level(level)
        await client.write_gatt_char(ALERT_LEVEL, payload, response=False)
        self.writes.append((address, payload))

    async def send(self, alert: Alert) -> None:
        if alert.event.severity is Severity.INFO:  # notes are shown and told, never buzzed
            return
        address = self.address_for(alert.event.runner)
        if address is None:
            return
        client = await self._client(address)
        try:
            await self._write(client, address, AlertLevel.HIGH)
            await asyncio.sleep(self.buzz_s)
        except Exception as exc:
            self._clients.pop(address, None)
            raise SinkError(f"write to Alert Level failed: {exc}", sink=self.name, endpoint=address) from exc
        finally:
            with contextlib.suppress(Exception):
                if client.is_connected:
                    await self._write(client, address, AlertLevel.NONE)

    async def aclose(self) -> None:
        for client in list(self._clients.values()):
            with contextlib.suppress(Exception):
                await client.disconnect()
        self._clients.clear()
