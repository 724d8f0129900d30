"""A real headless chromium, for the tests that check pages as a browser draws them.

The drift report (tests/featurekit/test_report.py) and the live dashboard
(tests/serving/test_dashboard.py) both load their page in Debian's chromium (`.ci/run`
installs it; the tests ask for it through the `system_tool` fixture first).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path


def chromium(
    page: Path | str, profile: Path, *args: str
) -> subprocess.CompletedProcess[str]:
    """Run headless chromium on `page` (a file, or a URL) with a fresh `profile`.

    ``chromium(url, tmp, "--dump-dom").stdout`` is the DOM after the page's script
    ran (with 5 s of virtual time); a non-zero exit fails the test.
    """
    exe = shutil.which("chromium")
    assert exe is not None  # the calling fixture required it
    flags = [
        "--headless",
        "--no-sandbox",  # CI runs as root
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        "--virtual-time-budget=5000",
    ]
    url = page.as_uri() if isinstance(page, Path) else page
    cmd = [exe, *flags, *args, url]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return done
