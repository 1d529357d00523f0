"""Headless Chromium (Debian's ``chromium``) for checking pages: the DOM after load, console errors, a
screenshot. Used by the report-page test and ``infra/scripts/mlflow_screenshot.py``.

Every call uses a fresh profile and the flags that keep Chromium off the network and quiet.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
         "--disable-dev-shm-usage")


@dataclass
class PageLoad:
    dom: str
    console: list[str]  # console messages Chromium logged while loading
    screenshot: Path | None


def chromium() -> str:
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if not exe:
        raise RuntimeError("Debian's chromium is not installed (requirements/apt.txt; `make apt`)")
    return exe


def load(url: str, screenshot: str | Path | None = None, size: tuple[int, int] = (1280, 2000),
         wait_ms: int = 3000, timeout_s: float = 120.0) -> PageLoad:
    """Load ``url``: its DOM after scripts ran, its console messages, optionally a PNG screenshot."""
    with tempfile.TemporaryDirectory(prefix="chromium-") as profile:
        base = [chromium(), *FLAGS, f"--user-data-dir={profile}", f"--window-size={size[0]},{size[1]}",
                "--enable-logging=stderr", "--v=0", f"--virtual-time-budget={wait_ms}"]
        dom = subprocess.run([*base, "--dump-dom", url], capture_output=True, text=True, timeout=timeout_s)
        console = [ln for ln in dom.stderr.splitlines() if "CONSOLE" in ln]
        shot = None
        if screenshot is not None:
            shot = Path(screenshot)
            subprocess.run([*base, f"--screenshot={shot}", url], capture_output=True, text=True, timeout=timeout_s,
                           check=True)
        return PageLoad(dom.stdout, console, shot)


def non_blank(png: str | Path, min_colours: int = 64) -> bool:
    """Whether a screenshot shows something (more than ``min_colours`` distinct colours)."""
    import numpy as np
    from PIL import Image

    px = np.asarray(Image.open(png).convert("RGB").resize((320, 320))).reshape(-1, 3)
    return len(np.unique(px, axis=0)) >= min_colours
