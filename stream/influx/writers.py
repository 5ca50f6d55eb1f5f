"""The two ways to put line protocol into a database; both are blocking and meant for a thread.

- `V1Writer`: POST /write?db=...&precision=ns (InfluxDB 1.x, and 2.x / 3.x through their v1
  compatibility API; basic auth or a token).
- `V2Writer`: the official influxdb-client (`/api/v2/write`, token, org, bucket) for InfluxDB 2.x/3.x
  and servers that speak it (VictoriaMetrics, tested here).

`write(body)` raises `RetryableWriteError` when trying again later can succeed (connection refused,
timeouts, 5xx, 401/403/404 while a database is being set up) and `RejectedWriteError` when the data
itself is refused (400: bad line protocol, field type conflict): those are set aside, not retried.
"""

from __future__ import annotations

import base64
import urllib.error
import urllib.parse
import urllib.request
from typing import Protocol

from strideguard.stream.errors import SinkError


class RetryableWriteError(SinkError):
    """The database could not take the batch now (unreachable, overloaded, not ready)."""


class RejectedWriteError(SinkError):
    """The database refused the data itself; retrying would fail the same way."""


class LineWriter(Protocol):
    endpoint: str

    def write(self, body: bytes) -> None: ...

    def close(self) -> None: ...


class V1Writer:
    """InfluxDB v1 API: works against InfluxDB 1.x, 2.x and 3.x."""

    def __init__(
        self,
        *,
        url: str,
        database: str,
        username: str | None = None,
        password: str | None = None,
        token: str | None = None,
        retention_policy: str | None = None,
        timeout_s: float = 5.0,
    ) -> None:
        params = {"db": database, "precision": "ns"}
        if retention_policy:
            params["rp"] = retention_policy
        self.endpoint = f"{url.rstrip('/')}/write"
        self._url = f"{self.endpoint}?{urllib.parse.urlencode(params)}"
        self._headers = {"Content-Type": "text/plain; charset=utf-8"}
        if token:
            self._headers["Authorization"] = f"Token {token}"
        elif username:
            basic = base64.b64encode(f"{username}:{password or ''}".encode()).decode()
            self._headers["Authorization"] = f"Basic {basic}"
        self.timeout_s = timeout_s

    def write(self, body: bytes) -> None:
        request = urllib.request.Request(self._url, data=body, headers=self._headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as resp:
                resp.read()
        except urllib.error.HTTPError as exc:
            detail = exc.read()[:300].decode(errors="replace").strip()
            cls = RejectedWriteError if exc.code == 400 else RetryableWriteError
            raise cls(f"HTTP {exc.code}: {detail}", sink="influxdb", endpoint=self.endpoint) from exc
        except (OSError, urllib.error.URLError) as exc:
            raise RetryableWriteError(f"unreachable: {exc}", sink="influxdb", endpoint=self.endpoint) from exc

    def close(self) -> None:
        return None


class V2Writer:
    """InfluxDB v2 API through influxdb-client, synchronous writes of pre-rendered line protocol."""

    def __init__(self, *, url: str, token: str, org: str, bucket: str, timeout_s: float = 5.0) -> None:
        from influxdb_client import InfluxDBClient
        from influxdb_client.client.write_api import SYNCHRONOUS

        self.endpoint = f"{url.rstrip('/')}/api/v2/write"
        self.bucket, self.org = bucket, org
        self._client = InfluxDBClient(url=url, token=token, org=org, timeout=int(timeout_s * 1000), retries=0)
        self._api = self._client.write_api(write_options=SYNCHRONOUS)

    def write(self, body: bytes) -> None:
        from influxdb_client import WritePrecision
        from influxdb_client.rest import ApiException
        from urllib3.exceptions import HTTPError as Urllib3Error

        try:
            self._api.write(
                bucket=self.bucket,
                org=self.org,
                record=body,
                write_precision=WritePrecision.NS,  # type: ignore[arg-type]  # library annotates the class; NS is a str
            )
        except ApiException as exc:
            cls = RejectedWriteError if exc.status == 400 else RetryableWriteError
            raise cls(f"HTTP {exc.status}: {str(exc.body)[:300]}", sink="influxdb-v2", endpoint=self.endpoint) from exc
        except (OSError, Urllib3Error) as exc:
            raise RetryableWriteError(f"unreachable: {exc}", sink="influxdb-v2", endpoint=self.endpoint) from exc

    def close(self) -> None:
        self._client.close()
