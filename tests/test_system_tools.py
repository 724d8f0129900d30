"""An absent system tool skips with the Debian package's name, and fails in CI."""

from __future__ import annotations

from collections.abc import Callable

import pytest

Tool = Callable[[str, str, str], str]

ABSENT = "featurekit-no-such-tool"


def test_a_present_tool_is_found(system_tool: Tool) -> None:
    assert system_tool("sh", "dash", "a shell").endswith("sh")


def test_an_absent_tool_skips_naming_the_debian_package(
    monkeypatch: pytest.MonkeyPatch, system_tool: Tool
) -> None:
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match=f"apt-get install {ABSENT}-pkg"):
        system_tool(ABSENT, f"{ABSENT}-pkg", "a test")


def test_an_absent_tool_fails_in_ci(
    monkeypatch: pytest.MonkeyPatch, system_tool: Tool
) -> None:
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI requires it"):
        system_tool(ABSENT, f"{ABSENT}-pkg", "a test")
