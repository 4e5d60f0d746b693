"""Isolation for generated programs: long-lived sandboxed judge workers ("zygotes").

Each worker is `python -I evaluation/sandbox_worker.py`, started once, and forks one fresh child per
test (see that file). Two ways to start it, chosen by `mode` or the env var CODEGEN_LAB_SANDBOX:

- `bwrap` (default when bubblewrap works): new PID/net/IPC/UTS namespaces, no network, a read-only view
  of only /usr and the Python installation, a private size-capped tmpfs as the only writable place,
  a clean environment, --die-with-parent. As root the worker keeps only the capabilities it needs to
  drop each program to a random private uid (the program then cannot signal the worker or anything else).
- `rlimit` (fallback where bubblewrap is missing or unusable): a scrubbed environment, its own session,
  a private 0711 temp dir, rlimits per program, and when run as root the same private uid per program.
  Weaker: no network or filesystem namespaces, so the program can read world-readable files, reach the
  network and, when not run as root, signal processes of the same user.

Both modes apply per program: rlimits on address space, CPU time, file size, processes/threads (with a
private uid), a fresh working dir, a wall-clock limit and an output limit.
"""

from __future__ import annotations

import functools
import json
import os
import random
import select
import shutil
import stat
import struct
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

SANDBOX_ENV = "CODEGEN_LAB_SANDBOX"
MODES = ("bwrap", "rlimit")
HERE = Path(__file__).resolve().parent
WORKER_FILES = ("sandbox_worker.py", "compare.py")
SCRATCH_BYTES = 512 * 1024 * 1024  # tmpfs for all working dirs of one bwrap worker
ADDRESS_HEADROOM_MB = 512  # address space beyond memory_mb: reserved thread stacks, allocator arenas
WORKER_CAPS = ("CAP_SETUID", "CAP_SETGID", "CAP_KILL", "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER")
REPLY_SLACK_S = 30.0  # a worker silent for time_limit + this is treated as dead


def sandbox_env() -> dict[str, str]:
    """The whole environment programs see: nothing inherited, so no tokens or keys."""
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "OPENBLAS_NUM_THREADS": "1",
        "OMP_NUM_THREADS": "1",
        "MALLOC_ARENA_MAX": "2",
    }


def sandbox_python(mode: str = "bwrap") -> str:
    """The base interpreter (outside any venv), so only the standard installation is visible.

    The rlimit fallback runs programs under a private uid without a filesystem view of its own, so as
    root it needs an interpreter every user can read (pyenv's under /root is not): the system python3.
    """
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    candidate = Path(sys.base_prefix) / "bin" / version
    python = candidate if candidate.exists() else Path(sys.executable).resolve()
    if mode == "rlimit" and os.geteuid() == 0 and not readable_by_all(python):
        for system in ("/usr/bin/python3", "/usr/local/bin/python3"):
            if Path(system).exists() and readable_by_all(Path(system)):
                return system
        raise RuntimeError(f"sandbox fallback: {python} is not readable by other users and no system python3")
    return str(python)


def readable_by_all(python: Path) -> bool:
    """Every folder above the installation can be traversed and its stdlib read by any user."""
    prefix = python.resolve().parent.parent
    if any(not parent.stat().st_mode & stat.S_IXOTH for parent in [prefix, *prefix.parents]):
        return False
    return bool(python.resolve().stat().st_mode & stat.S_IXOTH)


def bwrap_command(python: str) -> list[str]:
    command = ["bwrap", "--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts"]
    command += ["--unshare-cgroup-try", "--die-with-parent", "--new-session"]
    if os.geteuid() != 0:
        command += ["--unshare-user"]
    command += ["--ro-bind", "/usr", "/usr"]
    for top in ("/bin", "/lib", "/lib64", "/sbin"):
        if os.path.islink(top):
            command += ["--symlink", os.readlink(top), top]
        elif os.path.isdir(top):
            command += ["--ro-bind", top, top]
    prefix = Path(python).resolve().parent.parent
    if not str(prefix).startswith("/usr/"):
        for parent in reversed(prefix.parents[:-1]):  # e.g. /root is 0700 outside; programs must traverse
            command += ["--perms", "0755", "--dir", str(parent)]
        command += ["--ro-bind", str(prefix), str(prefix)]
    for name in WORKER_FILES:
        command += ["--ro-bind", str(HERE / name), f"/judge/{name}"]
    command += ["--proc", "/proc", "--dev", "/dev", "--size", str(SCRATCH_BYTES), "--tmpfs", "/box"]
    command += ["--chdir", "/box", "--clearenv"]
    for key, value in sandbox_env().items():
        command += ["--setenv", key, value]
    if os.geteuid() == 0:
        command += ["--cap-drop", "ALL"]
        for cap in WORKER_CAPS:
            command += ["--cap-add", cap]
    return command + [python, "-I", "/judge/sandbox_worker.py"]


@functools.cache
def bwrap_usable() -> bool:
    if shutil.which("bwrap") is None:
        return False
    probe = bwrap_command(sandbox_python())[:-2] + ["-I", "-c", "import os; os.listdir('/box')"]
    try:
        return subprocess.run(probe, capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def resolve_mode(mode: str | None = None) -> str:
    """`bwrap`, `rlimit`, or (None/"auto") bwrap when usable, else the rlimit fallback."""
    mode = mode or os.environ.get(SANDBOX_ENV) or "auto"
    if mode == "auto":
        return "bwrap" if bwrap_usable() else "rlimit"
    if mode not in MODES:
        raise ValueError(f"{SANDBOX_ENV}/sandbox mode must be auto, bwrap or rlimit, got {mode!r}")
    if mode == "bwrap" and not bwrap_usable():
        raise RuntimeError(
            "sandbox mode 'bwrap' requested but bubblewrap is missing or cannot create namespaces"
        )
    return mode


@functools.cache
def _spawner(pid: int) -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=1, thread_name_prefix="sandbox-spawner")


def spawn(command: list[str], **popen_args) -> subprocess.Popen:
    """Popen on one thread that lives as long as the process (a new one after a fork).

    bwrap's --die-with-parent uses PR_SET_PDEATHSIG, which fires when the *thread* that started it
    exits; started from a judging thread, a worker kept for the next call would be killed with it.
    """
    return _spawner(os.getpid()).submit(subprocess.Popen, command, **popen_args).result()


class WorkerDied(Exception):
    pass


class Worker:
    """One zygote process; started on first use and again after it dies."""

    def __init__(self, mode: str | None = None):
        self.mode = resolve_mode(mode)
        self.process: subprocess.Popen | None = None
        self.scratch: str | None = None

    def start(self) -> None:
        python = sandbox_python(self.mode)
        private_uid = random.randrange(200_000, 2_000_000_000) if os.geteuid() == 0 else None
        if self.mode == "bwrap":
            command, cwd, scratch, sweep = bwrap_command(python), None, "/box", "namespace"
        else:
            self.scratch = scratch = tempfile.mkdtemp(prefix="codegen-judge-")
            os.chmod(scratch, 0o711)  # a private uid may enter its own working dir, not list others
            command, cwd = [python, "-I", str(HERE / "sandbox_worker.py")], scratch
            sweep = "uid" if private_uid is not None else "group"
        self.process = spawn(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            cwd=cwd,
            env=sandbox_env(),
            start_new_session=True,
        )
        config = {
            "scratch": scratch,
            "uid": private_uid,
            "sweep": sweep,
            "address_headroom_mb": ADDRESS_HEADROOM_MB,
        }
        self._send(config)
        reply = self._receive(60.0)
        if not reply.get("ready"):
            raise WorkerDied(f"sandbox worker did not start: {reply}")

    def run(
        self, code: str, tests: list[list[str]], func_name: str | None, time_limit: float, memory_mb: int
    ) -> Iterator[dict]:
        """Yield one {verdict, seconds, detail} per test run (stops after the first failure).

        A worker found dead before the job (killed while idle) is restarted, so the job is not blamed;
        one that dies during the job gives it an RE.
        """
        if self.process is not None and self.process.poll() is not None:
            self.close()
        if self.process is None:
            self.start()
        job = {
            "code": code,
            "tests": tests,
            "func_name": func_name,
            "time_limit": time_limit,
            "memory_mb": memory_mb,
        }
        try:
            self._send(job)
            while "done" not in (reply := self._receive(time_limit + REPLY_SLACK_S)):
                yield reply
        except (WorkerDied, OSError, ValueError) as error:
            self.close()
            yield {"verdict": "RE", "seconds": 0.0, "detail": f"sandbox worker died: {error}"}

    def _send(self, message: dict) -> None:
        data = json.dumps(message).encode()
        self.process.stdin.write(struct.pack(">I", len(data)) + data)
        self.process.stdin.flush()

    def _receive(self, timeout: float) -> dict:
        header = self._read_exact(4, timeout)
        return json.loads(self._read_exact(struct.unpack(">I", header)[0], timeout))

    def _read_exact(self, size: int, timeout: float) -> bytes:
        fd = self.process.stdout.fileno()
        data = bytearray()
        while len(data) < size:
            ready, _, _ = select.select([fd], [], [], timeout)
            if not ready:
                raise WorkerDied(f"no reply within {timeout:.0f} s")
            chunk = os.read(fd, size - len(data))
            if not chunk:
                raise WorkerDied(f"exit status {self.process.poll()}")
            data += chunk
        return bytes(data)

    def close(self) -> None:
        if self.process is not None:
            process, self.process = self.process, None
            try:
                process.stdin.close()
                process.wait(timeout=5)
            except (OSError, subprocess.TimeoutExpired):
                process.kill()
                process.wait()
            process.stdout.close()
        if self.scratch is not None:
            shutil.rmtree(self.scratch, ignore_errors=True)
            self.scratch = None
