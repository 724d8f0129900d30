"""Fixtures shared by every test folder: system tools the suite drives for real."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable

import pytest


def require_tool(exe: str, package: str, purpose: str) -> str:
    """The path of `exe`; absent, skip with one line naming the Debian package.

    Under ``CI=true`` an absent tool fails instead: .ci/run installs every one, so a
    skip there would hide a broken install step.
    """
    found = shutil.which(exe)
    if found is not None:
        return found
    message = f"{exe} not found ({purpose}): apt-get install {package}"
    if os.environ.get("CI") == "true":
        pytest.fail(f"{message}; CI requires it (.ci/run installs it)")
    pytest.skip(message)


@pytest.fixture(scope="session")
def system_tool() -> Callable[[str, str, str], str]:
    """`require_tool` as a fixture: ``system_tool("wrk", "wrk", "HTTP load")``."""
    return require_tool
