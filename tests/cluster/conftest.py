"""The cluster, started once for this folder's tests (they run in one xdist group), and the
tails of every process's log attached to any test that fails."""

from collections.abc import Iterator

import pytest

from tests.cluster.cluster import Cluster


@pytest.fixture(scope="module")
def cluster(tmp_path_factory) -> Iterator[Cluster]:
    made = Cluster(tmp_path_factory.mktemp("cluster"))
    try:
        try:
            made.start()
        except Exception as error:
            raise AssertionError(f"the cluster did not start: {error}\n{made.tails()}") from error
        yield made
    finally:
        made.stop()
    left = made.leftovers()
    assert left == [], f"processes left behind by the cluster: {left}"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    started = getattr(item, "funcargs", {}).get("cluster")
    if report.failed and isinstance(started, Cluster):
        report.sections.append((f"cluster logs ({started.logs})", started.tails()))
