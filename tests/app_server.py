"""Launch ``app.py`` in a real subprocess and drive it in headless Debian Chromium (no browser download).

Used by the app's tests and by anyone else's::

    from tests.app_server import running_app, chromium_page

    with running_app({"BASE_MODEL": "embedded:smollm2"}) as url, chromium_page() as page:
        page.goto(url)

The pytest fixtures ``app_server`` (a factory: ``url = app_server(env)``) and ``browser_page`` (in
tests/conftest.py) are these two.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from codegen_lab.paths import REPO_ROOT

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def lan_address() -> str:
    """This machine's own non-loopback IPv4 address (a UDP "connect" sends nothing), else loopback."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            sock.connect(("10.254.254.254", 1))
            return sock.getsockname()[0]
        except OSError:
            return "127.0.0.1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def running_app(
    env: dict[str, str] | None = None,
    *,
    timeout: float = 240.0,
    host: str = "127.0.0.1",
    command: list[str] | None = None,
    cwd: Path = REPO_ROOT,
) -> Iterator[str]:
    """Serve ``app.py`` on a free port of ``host`` with ``env`` added to this process's environment.

    ``command`` replaces ``python app.py`` (another user, another interpreter), run in ``cwd``.

    The address goes through Gradio's own variables, as on a Space (``GRADIO_SERVER_NAME``/``_PORT``).
    Yields the base URL once the page answers; the server (its whole process group) is stopped on exit.
    Raises RuntimeError with the end of the server's log when it exits or does not answer in time.
    """
    port = free_port()
    full_env = {**os.environ, "GRADIO_SERVER_NAME": host, "GRADIO_SERVER_PORT": str(port)}
    full_env |= {"GRADIO_ANALYTICS_ENABLED": "False"} | (env or {})
    url = f"http://{lan_address() if host == '0.0.0.0' else host}:{port}/"  # 0.0.0.0: reach it from outside
    with tempfile.TemporaryFile(mode="w+") as log:
        proc = subprocess.Popen(
            command or [sys.executable, str(REPO_ROOT / "app.py")],
            cwd=cwd,
            env=full_env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            _wait_until_up(url, proc, log, timeout)
            yield url
        finally:
            _stop(proc)


def _wait_until_up(url: str, proc: subprocess.Popen, log, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"app.py exited with code {proc.returncode}:\n{_tail(log)}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.5)
    raise RuntimeError(f"app.py did not answer on {url} within {timeout:.0f} s:\n{_tail(log)}")


def _tail(log, chars: int = 4000) -> str:
    log.flush()
    log.seek(0)
    return log.read()[-chars:]


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


@contextlib.contextmanager
def chromium_page(viewport: tuple[int, int] = (1400, 1000)):
    """A Playwright sync ``Page`` in the system Chromium; never downloads a browser."""
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).is_file():
        message = f"{CHROMIUM} is not installed (scripts/system-deps.sh chromium)"
        if os.environ.get("CI"):  # CI installs it as root: a missing browser there is a failure, not a skip
            pytest.fail(message)
        pytest.skip(message)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            context = browser.new_context(viewport={"width": viewport[0], "height": viewport[1]})
            yield context.new_page()
        finally:
            browser.close()
