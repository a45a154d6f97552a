import pytest

from adk_redis_session.backends import redact_url


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        # Regression: URLs with an empty host lost their "//" when redacted.
        ("sqlite+aiosqlite:///tmp/a.db", "sqlite+aiosqlite:///tmp/a.db"),
        ("unix:///tmp/redis.sock", "unix:///tmp/redis.sock"),
        ("redis://:s3cret@host:6379/0", "redis://:***@host:6379/0"),
        (
            "postgresql://u:s3cret@h/db?password=x",
            "postgresql://u:***@h/db?password=***",
        ),
    ],
)
def test_redact_url_hides_secrets_and_keeps_the_rest(url: str, shown: str) -> None:
    assert redact_url(url) == shown
