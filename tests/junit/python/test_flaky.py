"""A test that fails on its first attempt and passes on the next (see flake.py).

Retries come from pytest-rerunfailures (`--reruns 2`), given by scripts/junit-reports.sh for
pytest-retries.xml only.
"""

from flake import flaky_attempt_fails


def test_ping():
    assert "ping".upper() == "PING"


def test_reconnects():
    if flaky_attempt_fails("pytest-reconnects"):
        raise AssertionError("connection dropped (flaky: the first attempt fails on purpose)")
