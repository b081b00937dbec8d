"""The connector contract and the HTTP plumbing every partner client shares.

A connector is a class with a `name`, built from a plain settings dict, whose `send(operation, payload, key)`
performs one outbound call. `key` is the outbox message's idempotency key: send it to the partner (header
`Idempotency-Key`) so a retried call is deduplicated on their side. Errors are classified:

- `TransientError`: network failures, timeouts, HTTP 408/425/429/5xx: the outbox retries with backoff;
- `PermanentError`: anything else the partner refuses (4xx, a malformed answer): the message goes dead at once.

Connectors that can be polled for partner-side state implement `poll(settings_state) -> list[dict]`.
"""

from __future__ import annotations

import atexit
import json
import os
import threading
from abc import ABC, abstractmethod
from typing import Any, ClassVar

import httpx

TRANSIENT_HTTP = {408, 425, 429}


class ConnectorError(Exception):
    """A failed outbound call. `detail` is kept on the outbox row as the last error."""

    transient: ClassVar[bool] = True

    def __init__(self, message: str, *, status: int | None = None, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.retry_after = retry_after


class TransientError(ConnectorError):
    transient = True


class PermanentError(ConnectorError):
    transient = False


class Connector(ABC):
    """Base class: subclasses set `name` and `operations` and implement `send`."""

    name: ClassVar[str] = ""
    operations: ClassVar[tuple[str, ...]] = ()

    def __init__(self, settings: dict[str, Any] | None = None) -> None:
        self.settings = dict(settings or {})

    @abstractmethod
    def send(self, operation: str, payload: dict[str, Any], key: str) -> dict[str, Any]:
        """Perform `operation` once; return the partner's answer, or raise Transient/PermanentError."""

    def check_operation(self, operation: str) -> None:
        if operation not in self.operations:
            raise PermanentError(f"Kết nối '{self.name}' không có thao tác '{operation}'.")


REGISTRY: dict[str, type[Connector]] = {}


def register(cls: type[Connector]) -> type[Connector]:
    """Class decorator: make a connector available by its name."""
    if not cls.name:
        raise ValueError("a connector needs a name")
    REGISTRY[cls.name] = cls
    return cls


def get(name: str, settings: dict[str, Any] | None = None) -> Connector:
    _load_builtin()
    try:
        cls = REGISTRY[name]
    except KeyError:
        raise PermanentError(f"Không có kết nối tên '{name}'.") from None
    return cls(settings)


def _load_builtin() -> None:
    # Importing the modules registers their connectors; missing optional modules are simply absent.
    import importlib

    for mod in ("connectors.vnpost", "connectors.portal", "connectors.notify", "connectors.axis", "connectors.webhook",
                "connectors.payment"):
        try:
            importlib.import_module(mod)
        except ModuleNotFoundError as exc:
            if exc.name != mod:
                raise


_shared: dict[int, httpx.Client] = {}
_shared_lock = threading.Lock()


def shared_client() -> httpx.Client:
    """One keep-alive client per process, shared by its threads (httpx clients are thread-safe), closed at exit.

    Building an `httpx.Client` loads the CA bundle (about 20 ms of CPU here) and holds the GIL meanwhile; a
    client per call made that the outbox's bottleneck (bench/README.md, "Outbox").
    """
    pid = os.getpid()  # a forked worker builds its own: sockets are not shared across processes
    client = _shared.get(pid)
    if client is None:
        with _shared_lock:
            client = _shared.get(pid)
            if client is None:
                client = httpx.Client(timeout=10.0, limits=httpx.Limits(max_connections=64,
                                                                        max_keepalive_connections=20))
                _shared[pid] = client
                atexit.register(client.close)
    return client


def http_call(method: str, url: str, *, key: str | None = None, json_body: Any = None, content: bytes | None = None,
              headers: dict[str, str] | None = None, timeout: float = 10.0, client: httpx.Client | None = None,
              ) -> httpx.Response:
    """One HTTP call with the error classification above. Returns the response for 2xx only."""
    hdrs = {"User-Agent": "MotCua/1.0", **(headers or {})}
    if key:
        hdrs["Idempotency-Key"] = key
    try:
        resp = (client or shared_client()).request(method, url, json=json_body, content=content, headers=hdrs,
                                                   timeout=timeout)
    except httpx.TimeoutException as exc:
        raise TransientError(f"Hết thời gian chờ đối tác ({url}): {exc}") from exc
    except httpx.HTTPError as exc:  # connection refused, reset, DNS…
        raise TransientError(f"Không kết nối được đối tác ({url}): {type(exc).__name__}: {exc}") from exc
    if resp.is_success:
        return resp
    body = resp.text[:300]
    retry_after = None
    if resp.headers.get("Retry-After", "").isdigit():
        retry_after = float(resp.headers["Retry-After"])
    msg = f"Đối tác trả lời HTTP {resp.status_code}: {body}"
    if resp.status_code >= 500 or resp.status_code in TRANSIENT_HTTP:
        raise TransientError(msg, status=resp.status_code, retry_after=retry_after)
    raise PermanentError(msg, status=resp.status_code)


def json_of(resp: httpx.Response) -> dict[str, Any]:
    """The response body as a JSON object, or a PermanentError naming what came back."""
    try:
        value = resp.json()
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise PermanentError(f"Đối tác trả lời không phải JSON: {resp.text[:200]}") from exc
    if not isinstance(value, dict):
        raise PermanentError("Đối tác trả lời JSON không phải đối tượng.")
    return value
