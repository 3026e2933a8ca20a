"""Settings come from the environment once, with defaults and clear errors."""

from __future__ import annotations

import pytest

from service.config import Settings, env_name


def test_defaults_apply_when_the_environment_is_empty() -> None:
    assert Settings.from_env({}) == Settings()


def test_values_are_read_and_typed() -> None:
    settings = Settings.from_env(
        {"REDIS_URL": "redis://h:1/2", "JOB_TIMEOUT": "60", "REDIS_TIMEOUT": "0.5"}
    )
    assert (settings.redis_url, settings.job_timeout_s, settings.redis_timeout_s) == (
        "redis://h:1/2",
        60,
        0.5,
    )


def test_a_malformed_value_names_its_variable() -> None:
    with pytest.raises(ValueError, match=r"MODEL_CACHE_SIZE must be an integer\. Received: 'many'"):
        Settings.from_env({"MODEL_CACHE_SIZE": "many"})


def test_variable_names_drop_the_unit_suffix() -> None:
    assert env_name("job_timeout_s") == "JOB_TIMEOUT"
    assert env_name("max_body_bytes") == "MAX_BODY_BYTES"
