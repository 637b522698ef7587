"""Headless Chromium for the HTML report tests (the review report, the rules diff): render a file,
read back its DOM, count its elements. Chromium is Debian's ``chromium`` package; ``make test``
installs it first. Without it the tests fail, on purpose: CI must render the reports, not skip them."""

from __future__ import annotations

import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",  # CI runs as root
    "--disable-gpu",
    "--hide-scrollbars",
    "--host-resolver-rules=MAP * ~NOTFOUND",  # nothing can be fetched from anywhere
    "--window-size=1150,2400",
]


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        pytest.fail("chromium is not installed: run `make chromium` (make test does)")
    return found


def dump_dom(path: Path) -> str:
    """The DOM Chromium builds from the file (``--dump-dom``)."""
    done = subprocess.run(
        [chromium(), *CHROMIUM_FLAGS, "--dump-dom", path.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return done.stdout


class TagCount(HTMLParser):
    """Counts start tags by name, class and attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def count(self, tag: str, cls: str | None = None, **attr: str) -> int:
        n = 0
        for t, a in self.tags:
            if t != tag:
                continue
            if cls is not None and cls not in (a.get("class") or "").split():
                continue
            if all(a.get(k) == v for k, v in attr.items()):
                n += 1
        return n
