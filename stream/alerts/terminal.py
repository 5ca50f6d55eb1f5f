"""Terminal channel: one clear line per alert on a text stream (stderr by default)."""

from __future__ import annotations

import datetime as dt
import sys
from typing import TextIO

from strideguard.stream.alerts.base import Alert


class TerminalChannel:
    name = "terminal"
    send_cleared = True

    def __init__(self, *, out: TextIO | None = None) -> None:
        self.out = out

    async def send(self, alert: Alert) -> None:
        out = self.out or sys.stderr
        at = dt.datetime.fromtimestamp(alert.event.t_ns / 1e9, tz=dt.UTC).strftime("%H:%M:%S")
        out.write(f"[{at}Z] {alert.text()}\n")
        out.flush()

    async def aclose(self) -> None:
        return None
