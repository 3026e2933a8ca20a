"""Fixtures of the integration tests beyond the session's (tests/conftest.py)."""

from tests.browser import browser, snap  # noqa: F401  (fixtures: pytest finds them by name)
