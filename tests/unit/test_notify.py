"""Which webhook URLs may be called, and the signature receivers check."""

from __future__ import annotations

import time

from service.notify import allowed_hosts, refusal, signature, verify


def test_a_listed_host_may_be_loopback_and_a_wildcard_allows_subdomains_only() -> None:
    assert refusal("http://127.0.0.1:8080/h", allowed_hosts("127.0.0.1")) is None
    assert refusal("http://localhost/h", allowed_hosts("*.localhost")) is not None
    assert "is not allowed" in refusal("http://evil.test/h", allowed_hosts("*.example.com"))


def test_private_addresses_are_refused_unless_their_host_is_named() -> None:
    for url in (
        "http://192.168.1.2/",
        "http://172.16.0.1/",
        "http://[fe80::1]/",
        "http://0.0.0.0/",
    ):
        assert refusal(url, []) is not None, url


def test_a_signature_verifies_only_for_its_body_secret_and_recent_time() -> None:
    now = int(time.time())
    header = signature("s3cret", b'{"a":1}', now)
    assert verify("s3cret", b'{"a":1}', header)
    assert not verify("s3cret", b'{"a":2}', header)
    assert not verify("other", b'{"a":1}', header)
    old = signature("s3cret", b'{"a":1}', now - 3600)
    assert not verify("s3cret", b'{"a":1}', old)  # a replay, an hour late
    assert not verify("s3cret", b'{"a":1}', "v1=deadbeef")
