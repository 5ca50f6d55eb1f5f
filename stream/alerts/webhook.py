"""Webhook channel: an HTTP POST per alert, retried with jittered exponential backoff.

Two styles: `json` posts `Alert.payload()` (schema 1) as application/json; `ntfy` posts the text as
the body with `Title`, `Priority` and `Tags` headers, which is what ntfy.sh-style push services read
(`url = "https://ntfy.sh/<your-topic>"`). A 5xx, a timeout or a refused connection is retried up to
`max_attempts`; a 4xx is not (the request itself is wrong). The retries run in this channel's own task,
so an unreachable receiver never stalls the analytics or the other channels.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Mapping

import aiohttp

from strideguard.stream.alerts.base import Alert
from strideguard.stream.errors import SinkError

STYLES = ("json", "ntfy")


def backoff_s(attempt: int, initial_s: float, max_s: float) -> float:
    """Full-jitter exponential backoff before retry number `attempt` (1-based)."""
    return random.uniform(0.0, min(max_s, initial_s * 2 ** (attempt - 1)))


class WebhookChannel:
    name = "webhook"

    def __init__(
        self,
        *,
        url: str,
        style: str = "json",
        headers: Mapping[str, str] | None = None,
        max_attempts: int = 5,
        attempt_timeout_s: float = 3.0,
        backoff_initial_s: float = 0.2,
        backoff_max_s: float = 5.0,
        send_cleared: bool = True,
    ) -> None:
        if style not in STYLES:
            raise ValueError(f"webhook style must be one of {', '.join(STYLES)}, got {style!r}")
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"webhook url must start with http:// or https://, got {url!r}")
        self.url = url
        self.style = style
        self.headers = dict(headers or {})
        self.max_attempts = max(1, max_attempts)
        self.attempt_timeout_s = attempt_timeout_s
        self.backoff_initial_s = backoff_initial_s
        self.backoff_max_s = backoff_max_s
        self.send_cleared = send_cleared
        self.attempts = 0  # every POST tried, for tests and stats
        self._session: aiohttp.ClientSession | None = None

    def request(self, alert: Alert) -> tuple[dict[str, str], bytes | None, dict | None]:
        """(headers, body, json) of the POST for one alert."""
        if self.style == "json":
            return dict(self.headers), None, alert.payload()
        e = alert.event
        priority = "5" if e.severity.value == "alert" and alert.is_onset else ("4" if alert.is_onset else "3")
        tags = "warning,runner" if alert.is_onset else "white_check_mark,runner"
        headers = {**self.headers, "Title": alert.title(), "Priority": priority, "Tags": tags}
        return headers, alert.text().encode(), None

    async def send(self, alert: Alert) -> None:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.attempt_timeout_s))
        headers, body, payload = self.request(alert)
        last = ""
        for attempt in range(1, self.max_attempts + 1):
            if attempt > 1:
                await asyncio.sleep(backoff_s(attempt - 1, self.backoff_initial_s, self.backoff_max_s))
            self.attempts += 1
            try:
                async with self._session.post(self.url, headers=headers, data=body, json=payload) as resp:
                    if resp.status < 300:
                        return
                    last = f"HTTP {resp.status}"
                    if 400 <= resp.status < 500 and resp.status not in (408, 429):
                        break
            except (aiohttp.ClientError, TimeoutError) as exc:
                last = str(exc) or type(exc).__name__
        raise SinkError(f"not delivered after {attempt} attempt(s): {last}", sink=self.name, endpoint=self.url)

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
