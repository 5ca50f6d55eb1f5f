"""Runner-page channel: accepted alerts on the in-process bus, where the live pages (stream.web) pick
them up to show the banner, vibrate the phone and speak the cue.

It publishes to `strideguard/v1/<team>/<runner>/alerts` in the same shape as the pipeline's BusSink
(the RiskEvent row plus `session_id`), marked `"delivered": true`; the page de-duplicates by episode,
and the page shows and feels only these delivered events (the BusSink publishes every raw risk event on
the same topic for dashboards). Each carries `spoken`, the alert phrased for the ear, and `after_run`,
the cue's advice for after the run (for the end-of-run summary): see `stream.alerts.spoken`.
"""

from __future__ import annotations

from strideguard.stream.alerts.base import Alert
from strideguard.stream.alerts.spoken import after_run_advice, spoken_text
from strideguard.stream.runtime import bus as busmod


class PageChannel:
    name = "page"
    send_cleared = True

    def __init__(self, bus: busmod.Bus) -> None:
        self.bus = bus

    async def send(self, alert: Alert) -> None:
        s = alert.session
        self.bus.publish(
            busmod.topic(s.team, s.runner, "alerts"),
            {
                "session_id": s.session_id,
                **alert.event.as_row(),
                "delivered": True,
                "spoken": spoken_text(alert.event),
                "after_run": after_run_advice(alert.event),
            },
        )

    async def aclose(self) -> None:
        return None
