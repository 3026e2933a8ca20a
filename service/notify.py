"""Job-end webhooks: which URLs may be called, how a delivery is signed and sent.

A client names a URL in its spec (`notify`); when the job ends the worker queues a
delivery (worker.tasks.deliver), which POSTs the job, signed, and is retried with
backoff for about an hour. The service must not become a way to probe its own network:
a URL's host must be allowed by WEBHOOK_ALLOWED_HOSTS (when set), and every address it
resolves to must be public (not loopback, private, link-local, multicast or reserved)
unless the host is listed there by name. It is checked when the job is submitted and
again before each delivery (a name may resolve elsewhere by then), and redirects are
not followed.

Signature: `X-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>" with
WEBHOOK_SECRET>`; the body holds the same `timestamp`, so a receiver that checks the
signature and refuses old timestamps refuses replays.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import socket
import time
from urllib.parse import urlsplit

SIGNATURE_HEADER = "X-Signature"
# Seconds between delivery attempts: the first try, then 7 retries over about an hour.
RETRY_INTERVALS = (1, 5, 30, 120, 600, 1200, 1800)
TIMEOUT_S = 10
EVENTS = ("finished", "failed", "canceled", "pruned")


def allowed_hosts(setting: str) -> list[str]:
    return [h.strip().lower() for h in setting.replace("\n", ",").split(",") if h.strip()]


def refusal(url: str, allowed: list[str]) -> str | None:
    """Why `url` may not be called, or None if it may."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return f"Expected an http:// or https:// URL with a host. Received: {url!r}."
    host = parts.hostname.lower()
    listed = host in allowed
    if (
        allowed
        and not listed
        and not any(pattern.startswith("*.") and host.endswith(pattern[1:]) for pattern in allowed)
    ):
        return f"Host {host!r} is not allowed (WEBHOOK_ALLOWED_HOSTS: {', '.join(allowed)})."
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        addresses = {info[4][0] for info in socket.getaddrinfo(host, port)}
    except (OSError, ValueError) as exc:
        return f"Host {host!r} does not resolve ({exc})."
    if listed:
        return None  # named explicitly: its addresses are the operator's choice
    for address in sorted(addresses):
        ip = ipaddress.ip_address(address.split("%")[0])
        if not ip.is_global or ip.is_multicast:
            return (
                f"Host {host!r} resolves to {address}, a loopback, private, link-local or "
                "reserved address: not called unless WEBHOOK_ALLOWED_HOSTS names the host."
            )
    return None


def signature(secret: str, body: bytes, timestamp: int) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={digest.hexdigest()}"


def verify(secret: str, body: bytes, header: str, tolerance_s: int = 300) -> bool:
    """What a receiver checks: the signature, and that it is recent."""
    fields = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    try:
        timestamp = int(fields["t"])
    except (KeyError, ValueError):
        return False
    expected = signature(secret, body, timestamp)
    return hmac.compare_digest(expected, header) and abs(time.time() - timestamp) <= tolerance_s
