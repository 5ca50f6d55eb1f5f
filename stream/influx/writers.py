"""The two ways to put line protocol into a database; both are blocking and meant for a thread.

- `V1Writer`: POST /write?db=...&precision=ns (InfluxDB 1.x, and 2.x / 3.x through their v1
  compatibility API; basic auth or a token).
- `V2Writer`: the official influxdb-client (`/api/v2/write`, token, org, bucket) for InfluxDB 2.x/3.x
  and servers that speak it (VictoriaMetrics, tested here).

`write(body)` raises `RetryableWriteError` when trying again later can succeed (connection refused,
timeouts, 5xx, 401/403/404 while a database is being set up) and `RejectedWriteError` when the data
itself is refused (400: bad line protocol, field type conflict; 413: too large; 422): the sink splits
such a batch until the refused lines stand alone and sets those aside, never retrying them.

`prepare()` runs once when the sink starts: on the v1 API it creates a missing database (InfluxDB 1.x
answers a write to a missing database with 404 for ever), or fails with one line saying how to create it
when this user may not; a 404 met later (the database dropped meanwhile) is answered the same way.
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import urllib.error
import urllib.parse
import urllib.request
from typing import Protocol

from strideguard.stream.errors import SinkError

log = logging.getLogger(__name__)

REFUSED_DATA = frozenset({400, 413, 422})  # the body itself is refused: split it, never retry it as it is


class RetryableWriteError(SinkError):
    """The database could not take the batch now (unreachable, overloaded, not ready)."""


class RejectedWriteError(SinkError):
    """The database refused the data itself; retrying would fail the same way."""


class LineWriter(Protocol):
    endpoint: str

    def prepare(self) -> None: ...

    def write(self, body: bytes) -> None: ...

    def close(self) -> None: ...


def _http_error(code: int, detail: str, *, sink: str, endpoint: str) -> SinkError:
    """The error for an HTTP answer other than success: refused data, or a database that said no for now."""
    if code in REFUSED_DATA:
        return RejectedWriteError(f"HTTP {code}: {detail}", sink=sink, endpoint=endpoint)
    if code >= 500:
        return RetryableWriteError(f"database error (HTTP {code}: {detail})", sink=sink, endpoint=endpoint)
    return RetryableWriteError(f"database rejected the write ({code} {detail})", sink=sink, endpoint=endpoint)


def _detail(exc: urllib.error.HTTPError) -> str:
    """InfluxDB's one-line reason: the `error` of its JSON answer, else the start of the body."""
    text = exc.read(64_000).decode(errors="replace").strip()
    with contextlib.suppress(ValueError, KeyError, TypeError):
        text = str(json.loads(text)["error"])
    return " ".join(text.split())[:300] or (exc.reason if isinstance(exc.reason, str) else "")


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
        self.database = database
        self.endpoint = f"{url.rstrip('/')}/write"
        self._url = f"{self.endpoint}?{urllib.parse.urlencode(params)}"
        self._query_url = f"{url.rstrip('/')}/query"
        self._headers = {"Content-Type": "text/plain; charset=utf-8"}
        if token:
            self._headers["Authorization"] = f"Token {token}"
        elif username:
            basic = base64.b64encode(f"{username}:{password or ''}".encode()).decode()
            self._headers["Authorization"] = f"Basic {basic}"
        self.timeout_s = timeout_s

    def prepare(self) -> None:
        """Create the database if it is missing: SinkError (fatal, one line saying how) if it is missing and
        cannot be created; RetryableWriteError if the server cannot be reached now (the first write that
        meets the missing database creates it then)."""
        try:
            self._request(self._url, b"")  # an empty write: 204 if the database exists, 404 if not
        except _HttpRefusal as refusal:
            if not refusal.database_missing:
                raise _http_error(refusal.code, refusal.detail, sink="influxdb", endpoint=self.endpoint) from None
            reason = self._create_database()
            if reason is not None:
                raise SinkError(
                    f"database {self.database!r} does not exist and cannot be created with these credentials "
                    f"({reason}); create it (influx -execute '{self._create_statement}') or use an admin user",
                    sink="influxdb",
                    endpoint=self.endpoint,
                ) from None

    def write(self, body: bytes) -> None:
        try:
            self._request(self._url, body)
        except _HttpRefusal as refusal:
            if not refusal.database_missing:
                raise _http_error(refusal.code, refusal.detail, sink="influxdb", endpoint=self.endpoint) from None
            reason = self._create_database()  # dropped while running, or never created: make it again
            if reason is not None:
                raise RetryableWriteError(
                    f"database rejected the write (404 {refusal.detail}); creating it failed: {reason}",
                    sink="influxdb",
                    endpoint=self.endpoint,
                ) from None
            self.write(body)

    @property
    def _create_statement(self) -> str:
        name = self.database.replace("\\", "\\\\").replace('"', '\\"')
        return f'CREATE DATABASE "{name}"'

    def _create_database(self) -> str | None:
        """CREATE DATABASE through /query; None once it exists, else the server's reason."""
        form = urllib.parse.urlencode({"q": self._create_statement}).encode()
        try:
            answer = self._request(self._query_url, form, form=True)
        except _HttpRefusal as refusal:
            return f"HTTP {refusal.code}: {refusal.detail}"
        try:
            error = json.loads(answer)["results"][0].get("error")
        except (ValueError, KeyError, IndexError, TypeError, AttributeError):
            error = f"unexpected answer {answer[:100]!r}"
        if error:
            return str(error)
        log.warning("influxdb: created the missing database %r (%s)", self.database, self._query_url)
        return None

    def _request(self, url: str, data: bytes, *, form: bool = False) -> bytes:
        """POST; the answer's body. _HttpRefusal for an HTTP error, RetryableWriteError if unreachable."""
        headers = {**self._headers, "Content-Type": "application/x-www-form-urlencoded"} if form else self._headers
        request = urllib.request.Request(url, data=data, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as resp:
                return bytes(resp.read())
        except urllib.error.HTTPError as exc:
            raise _HttpRefusal(exc.code, _detail(exc)) from exc
        except (OSError, urllib.error.URLError) as exc:
            raise RetryableWriteError(f"unreachable: {exc}", sink="influxdb", endpoint=self.endpoint) from exc

    def close(self) -> None:
        return None


class _HttpRefusal(Exception):
    """An HTTP error answer of the v1 API, before it is judged (refused data, missing database, ...)."""

    def __init__(self, code: int, detail: str) -> None:
        super().__init__(f"HTTP {code}: {detail}")
        self.code = code
        self.detail = detail

    @property
    def database_missing(self) -> bool:
        return self.code == 404 and "database not found" in self.detail


class V2Writer:
    """InfluxDB v2 API through influxdb-client, synchronous writes of pre-rendered line protocol."""

    def __init__(self, *, url: str, token: str, org: str, bucket: str, timeout_s: float = 5.0) -> None:
        from influxdb_client import InfluxDBClient
        from influxdb_client.client.write_api import SYNCHRONOUS

        self.endpoint = f"{url.rstrip('/')}/api/v2/write"
        self.bucket, self.org = bucket, org
        self._client = InfluxDBClient(url=url, token=token, org=org, timeout=int(timeout_s * 1000), retries=0)
        self._api = self._client.write_api(write_options=SYNCHRONOUS)

    def prepare(self) -> None:
        """Nothing to set up: a v2 bucket is made with its token (a missing one is retried and reported)."""

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
            detail = " ".join(str(exc.body)[:300].split())
            raise _http_error(int(exc.status or 0), detail, sink="influxdb-v2", endpoint=self.endpoint) from exc
        except (OSError, Urllib3Error) as exc:
            raise RetryableWriteError(f"unreachable: {exc}", sink="influxdb-v2", endpoint=self.endpoint) from exc

    def close(self) -> None:
        self._client.close()
