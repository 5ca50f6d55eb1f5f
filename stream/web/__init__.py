"""Live web pages: a phone page per runner (numbers, alert banner, vibration, spoken cue) and a team page."""

from strideguard.stream.web.server import WebServer

__all__ = ["WebServer"]
