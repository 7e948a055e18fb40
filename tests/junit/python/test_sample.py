"""Passing, failing, erroring, skipped, parametrized and printing tests for pytest's --junitxml."""

import pytest


def test_addition():
    assert 1 + 2 == 3


def test_string_join():
    assert "-".join(["a", "b"]) == "a-b"


class TestStrings:
    def test_upper(self):
        assert "ci".upper() == "CI"


def test_total_is_wrong():
    total = sum([1, 2, 3])
    # Fails on purpose, with a message.
    assert total == 7, "the total of the order should be 7"


@pytest.fixture
def database():
    # Errors on purpose: an exception in a fixture is reported as <error>, not <failure>.
    raise ConnectionError("database unavailable on purpose")


def test_query_uses_database(database):
    assert database is not None


@pytest.mark.skip(reason="needs a GPU runner")
def test_needs_gpu():
    assert False


@pytest.mark.parametrize(("value", "doubled"), [(1, 2), (3, 6)])
def test_double(value, doubled):
    assert value * 2 == doubled


def test_prints_then_fails():
    print("connecting to the build agent")
    print("agent answered: 503")
    # Fails on purpose, after writing to stdout.
    assert 503 == 200
