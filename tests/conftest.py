import gc
from collections.abc import Iterator

import pytest

pytest_plugins = [
    "tests.fixtures.postgres",
    "tests.fixtures.s3",
    "tests.fixtures.sim",
    "tests.fixtures.web",
    "tests.fixtures.live",
    "tests.fixtures.recorded",
    "tests.fixtures.nats",
]


def pytest_collection_modifyitems(items: list) -> None:  # type: ignore[type-arg]
    """Browser tests run last: Playwright's sync API switches greenlets, after which
    Python 3.11.2 (Debian 12) can fail compiling ASTs in later tests ("AST constructor
    recursion depth mismatch", CPython gh-106905)."""
    items.sort(key=lambda item: "tests/e2e/" in str(item.path))


@pytest.fixture(autouse=True)
def _collect_garbage() -> Iterator[None]:
    """A socket or HTTP session a test leaves open is reported (as an error, the
    warnings being errors) by that test, not by whichever later test the garbage
    collector happens to run in. Autouse: torn down after the test's servers stop."""
    yield
    gc.collect()
