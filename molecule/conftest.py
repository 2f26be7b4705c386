"""Shared testinfra helpers for every Molecule scenario.

When a test fails, the journal of the units the test module names in ``journal_units`` is
attached to the failure report, so a red run says why a service misbehaved.
"""

import pytest

JOURNAL_LINES = 40


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.when != "call" or not report.failed:
        return
    host = item.funcargs.get("host")
    units = getattr(item.module, "journal_units", [])
    if host is None or not units:
        return
    for unit in units:
        res = host.run("journalctl --no-pager -n %s -u %s", str(JOURNAL_LINES), unit)
        report.sections.append((f"journal of {unit} on {host.backend.hostname}", res.stdout or res.stderr))
