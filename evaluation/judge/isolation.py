"""Which isolation judges generated programs, and how bubblewrap is started for it.

Modes (``sandbox=`` or ``CODEGEN_LAB_SANDBOX``), recorded as the *isolation* in every results file:

- ``bwrap`` (the default): bubblewrap. As root (``bwrap-root``) each program runs under a private
  random uid; without root (``bwrap-userns``) the worker lives in its own user namespace and programs
  lose every capability. Both: no network, a read-only view of /usr and the Python installation, a
  fresh PID namespace and /proc per test, cwd, /tmp and /dev/shm on a size-capped tmpfs, emptied
  between programs, nothing of the judge's environment.
- ``rlimit``: only where the user asks for it (this flag or the variable; never chosen silently): no
  namespaces, so a program can read world-readable files, use the network and, without root, signal
  or read the judge's own processes. Its limits are rlimits alone.

``auto`` (unset) means bwrap, and a host where bubblewrap cannot run is refused with one sentence.
"""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

SANDBOX_ENV = "CODEGEN_LAB_SANDBOX"
MODES = ("bwrap", "rlimit")
HERE = Path(__file__).resolve().parent
WORKER_FILES = (
    "sandbox_worker.py",
    "sandbox_program.py",
    "sandbox_filter.py",
)  # all the judge code the sandbox sees

ROOT_CAPS = (
    "CAP_SYS_ADMIN",
    "CAP_SETUID",
    "CAP_SETGID",
    "CAP_SETPCAP",
    "CAP_CHOWN",
    "CAP_KILL",
    "CAP_FOWNER",
)
USERNS_CAPS = ("CAP_SYS_ADMIN", "CAP_SETPCAP")  # inside the worker's own user namespace only
GUARANTEES = {
    "bwrap-root": "bubblewrap as root: private uid per program, no network, own PID namespace and /proc "
    "per test, cwd, /tmp and /dev/shm emptied between programs (256 MB in all), read-only system, no secrets",
    "bwrap-userns": "bubblewrap in a user namespace (no root): no capabilities, no network, own PID "
    "namespace and /proc per test, cwd, /tmp and /dev/shm emptied between programs (256 MB in all), "
    "read-only system, no secrets",
    "rlimit-root": "WEAKER, opted in: rlimits and a private uid per program; no namespaces (network and "
    "world-readable files reachable), disk limited per file only",
    "rlimit-user": "WEAKER, opted in: rlimits only; no namespaces, same uid as the judge (the program "
    "can signal and read the judge's processes), disk limited per file only",
}


class SandboxUnavailable(RuntimeError):
    """No sandbox of the asked strength can run here; the message says what is missing."""


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

    The rlimit mode runs programs under a private uid without a filesystem view of its own, so as root
    it needs an interpreter every user can read (pyenv's under /root is not): the system python3.
    """
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    candidate = Path(sys.base_prefix) / "bin" / version
    python = candidate if candidate.exists() else Path(sys.executable).resolve()
    if mode == "rlimit" and os.geteuid() == 0 and not readable_by_all(python):
        for system in ("/usr/bin/python3", "/usr/local/bin/python3"):
            if Path(system).exists() and readable_by_all(Path(system)):
                return system
        raise SandboxUnavailable(f"{python} is not readable by other users and there is no system python3.")
    return str(python)


def readable_by_all(python: Path) -> bool:
    """Every folder above the installation can be traversed and the interpreter run by any user."""
    prefix = python.resolve().parent.parent
    if any(not parent.stat().st_mode & stat.S_IXOTH for parent in [prefix, *prefix.parents]):
        return False
    return bool(python.resolve().stat().st_mode & stat.S_IXOTH)


def isolation(mode: str) -> str:
    """What a mode gives on this host: bwrap-root, bwrap-userns, rlimit-root or rlimit-user."""
    return f"{mode}-{'root' if os.geteuid() == 0 else ('userns' if mode == 'bwrap' else 'user')}"


def bwrap_command(python: str, fd: int) -> list[str]:
    command = ["bwrap", "--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts"]
    command += ["--unshare-cgroup-try", "--die-with-parent", "--new-session"]
    root = os.geteuid() == 0
    if not root:
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
    command += ["--proc", "/proc", "--dev", "/dev", "--dir", "/tmp", "--dir", "/sandbox", "--chdir", "/"]
    command += ["--remount-ro", "/dev", "--remount-ro", "/"]  # writable: only the program's own folders
    command += ["--clearenv"]
    for key, value in sandbox_env().items():
        command += ["--setenv", key, value]
    command += ["--cap-drop", "ALL"]
    for cap in ROOT_CAPS if root else USERNS_CAPS:
        command += ["--cap-add", cap]
    return command + [python, "-I", "-S", "/judge/sandbox_worker.py", str(fd)]
