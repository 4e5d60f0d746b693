"""The app started the way a Space starts it: an unprivileged user (uid 65534) with its own HOME, a copy of
the tree, Gradio's address variables, the system Python. In headless Chromium a benchmark problem is sent,
"Judge both answers" judges both panes under bwrap-userns; without bubblewrap the page shows the refusal.
Screenshots: test-artifacts/space-*.png."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import NamedTuple

import pytest

from codegen_lab.gguf_lora import LLAMA_CPP_SOURCE
from codegen_lab.paths import REPO_ROOT
from tests.app_server import chromium_page, running_app
from tests.helpers import ARTIFACTS

pytestmark = [pytest.mark.browser, pytest.mark.embedded]
SPACE_UID = 65534
ASK_FOR_CODE = (  # copied back by either engine: the 135M model need not solve anything for a program to run
    "Reply with exactly this and nothing else:\n```python\nprint(365)\n```"
)
SYSTEM_PYTHON = "/usr/bin/python3"  # /root's interpreters are not the Space user's


class SpaceUser(NamedTuple):
    """uid 65534 with a HOME of its own and a copy of the tree, seeing this clone's venv at ``view``."""

    tree: Path
    home: Path
    venv: Path
    view: Path

    def command(self, *command: str) -> list[str]:
        """``command`` as the Space user, in a mount namespace where the venv is bound at ``view``: a clone
        may sit below a 0700 folder (``mktemp -d``, /root) that uid 65534 cannot traverse."""
        bind = [
            shutil.which("bwrap") or "bwrap",  # found on our PATH: the refusal test hides it from the app's
            "--dev-bind",
            "/",
            "/",
            "--ro-bind",
            str(self.venv),
            str(self.view),
            "--die-with-parent",
        ]
        user = [
            shutil.which("setpriv") or "setpriv",
            f"--reuid={SPACE_UID}",
            f"--regid={SPACE_UID}",
            "--clear-groups",
        ]
        return bind + user + list(command)

    def seen(self, path: Path) -> Path:
        """Where the Space user finds ``path`` (one inside the venv: below ``view``)."""
        resolved = path.resolve()
        return self.view / resolved.relative_to(self.venv) if resolved.is_relative_to(self.venv) else path


def venv_site_packages() -> Path:
    import torch

    return Path(torch.__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def space_home():
    """A world-readable copy of the tree (committed and untracked files, as a clone has) and a HOME of its own."""
    if os.geteuid() != 0 or shutil.which("setpriv") is None or not Path(SYSTEM_PYTHON).is_file():
        pytest.skip("starting the app as another user needs root, setpriv and /usr/bin/python3")
    if shutil.which("bwrap") is None:
        pytest.fail("bubblewrap is not installed: make test installs it (scripts/system-deps.sh bubblewrap)")
    root = Path(tempfile.mkdtemp(prefix="codegen-space-"))
    root.chmod(0o755)
    (root / "venv").mkdir(mode=0o755)
    tree, home = root / "app", root / "home"
    user = SpaceUser(tree, home, venv_site_packages().parents[2], root / "venv")
    files = subprocess.run(["git", "-C", str(REPO_ROOT), "ls-files", "-co", "--exclude-standard", "-z"],
                           capture_output=True, check=True).stdout.decode().split("\0")  # fmt: skip
    for name in filter(None, files):
        if (REPO_ROOT / name).is_file():
            (tree / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(REPO_ROOT / name, tree / name)
    for folder, dirs, names in os.walk(tree):
        for name in dirs + names:
            os.chmod(os.path.join(folder, name), 0o755 if name in dirs else 0o644)
    tree.chmod(0o755)
    home.mkdir(mode=0o700)
    os.chown(home, SPACE_UID, SPACE_UID)
    yield user
    subprocess.run(["rm", "-rf", str(root)], check=False)


def space_env(user: SpaceUser, path: str) -> dict[str, str]:
    """What the Space user's process sees: its HOME and caches, the copy first on the path, no root's settings."""
    home = user.home
    return {
        "HOME": str(home),
        "TMPDIR": str(home),
        "PATH": path,
        "PYTHONPATH": f"{user.tree}:{user.seen(venv_site_packages())}",
        "CODEGEN_LAB_CACHE": str(home / ".cache" / "codegen-lora-lab"),
        "CODEGEN_LAB_HUB": str(home / "hub"),
        "CODEGEN_LAB_OUTPUTS": str(home / "outputs"),
        "HF_HOME": str(home / ".cache" / "huggingface"),
        "BASE_MODEL": "embedded:smollm2",
        "OMP_NUM_THREADS": "1",
        "LLAMA_CPP_SOURCE": str(
            user.seen(LLAMA_CPP_SOURCE)
        ),  # llama.cpp's converters, as a Space's cache holds them
    }


def send_problem_and_judge(page, url: str) -> list[str]:
    """Open the page, send abc365_a to both panes (the demo adapters), judge; both verdict panels' text."""
    page.goto(url)
    page.wait_for_selector("#arena-prompt textarea")
    page.get_by_text("Generation settings").click()
    tokens = page.locator("#arena-max-new-tokens input[type=number]")
    tokens.wait_for()
    tokens.fill("160")
    tokens.press("Enter")
    tokens.blur()
    box = page.locator("#arena-problem input")
    box.click()
    page.keyboard.type("abc365_a")
    page.locator(f"#{box.get_attribute('aria-controls')} li[role=option][aria-label^='abc365_a']").click()
    page.wait_for_function("document.querySelector('#arena-prompt textarea').value.includes('Gregorian')")
    prompt = page.locator("#arena-prompt textarea")
    prompt.fill(ASK_FOR_CODE)  # the 135M model loops on the statement; asked to, it copies a program back
    prompt.press("Enter")
    page.wait_for_selector("#left-chat [data-testid=bot]", timeout=60_000)
    assert "print(365)" in page.inner_text(
        "#left-chat [data-testid=user]"
    )  # what was sent, not the statement
    deadline = time.monotonic() + 240
    while "Generating" in page.inner_text("#arena-notice") and time.monotonic() < deadline:
        time.sleep(0.5)
    page.click("#arena-judge")
    texts = []
    for side in ("left", "right"):
        panel = page.locator(f"#{side}-verdicts")
        panel.locator("table, b").first.wait_for(timeout=120_000)
        texts.append(panel.inner_text())
    return texts


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"space-{name}.png"), full_page=True)


def test_space_user_judges_both_panes_under_bwrap_userns(space_home):
    user = space_home
    env = space_env(user, "/usr/bin:/bin")
    command = user.command(SYSTEM_PYTHON, str(user.tree / "app.py"))
    with (
        running_app(env, host="0.0.0.0", command=command, cwd=user.tree, timeout=420) as url,
        chromium_page() as page,
    ):
        owner = subprocess.run(["ps", "-o", "uid=", "-C", "python3"], capture_output=True, text=True).stdout
        assert str(SPACE_UID) in owner.split()
        texts = send_problem_and_judge(page, url)
        shot(page, "judged")
    for text in texts:
        assert "abc365_a" in text and "sandbox: bwrap-userns" in text, text
        assert re.search(r"\btest 1\s+(AC|WA|RE|TLE|MLE|OLE)\b", text), text  # a program ran in the sandbox


def test_space_without_bubblewrap_shows_the_refusal(space_home, tmp_path):
    user = space_home
    bin_dir = Path(tempfile.mkdtemp(prefix="codegen-nobwrap-"))  # a PATH with everything but bwrap
    bin_dir.chmod(0o755)
    try:
        for tool in ("python3", "git", "sh", "ls", "cat"):
            if found := shutil.which(tool, path="/usr/bin:/bin"):
                (bin_dir / tool).symlink_to(found)
        env = space_env(user, str(bin_dir))
        command = user.command(SYSTEM_PYTHON, str(user.tree / "app.py"))
        with running_app(env, command=command, cwd=user.tree, timeout=420) as url, chromium_page() as page:
            texts = send_problem_and_judge(page, url)
            shot(page, "refused")
    finally:
        shutil.rmtree(bin_dir, ignore_errors=True)
    for text in texts:
        sentence = text.strip()
        assert sentence.startswith("Not judged: Refusing to run generated code: bubblewrap"), sentence
        assert "--sandbox rlimit" in sentence and "Traceback" not in sentence
