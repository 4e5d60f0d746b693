"""Sandboxed judge workers ("zygotes"), seen from the judge: start them, hand them one program at a time.

Each worker is ``python -I -S evaluation/judge/sandbox_worker.py FD`` (inside: sandbox_worker.py and
sandbox_program.py), started once in the isolation isolation.py picks, and reused. The judge
talks to it over a SOCK_SEQPACKET socket: control messages only, plus file descriptors. A test's input
goes in as a sealed, read-only memfd; stdout, stderr and a functional result come back through pipes
whose read ends only the judge holds. Expected outputs, other tests and the evaluator's environment
never enter the sandbox, and verdicts are decided in evaluation/judge.py.
"""

from __future__ import annotations

import array
import contextlib
import functools
import json
import marshal
import os
import random
import select
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from evaluation.judge.isolation import (
    MODES,
    SANDBOX_ENV,
    SandboxUnavailable,
    bwrap_command,
    isolation,
    sandbox_env,
    sandbox_python,
)

HERE = Path(__file__).resolve().parent
WORKER = HERE / "sandbox_worker.py"
OUTPUT_LIMIT = 64 * 1024 * 1024  # bytes of stdout (or a functional result) per test; OLE beyond
STDERR_TAIL = 4096
DISK_BYTES = 256 * 1024 * 1024  # everything one program writes: cwd, /tmp and /dev/shm together
MAX_TASKS = 64  # processes + threads per program (RLIMIT_NPROC)
ADDRESS_HEADROOM_MB = 512  # address space beyond memory_mb: the interpreter, thread stacks, arenas
REPLY_SLACK_S = 30.0  # a worker silent for time_limit + this is treated as lost


class WorkerLost(Exception):
    """The worker died or stopped answering (not the program's fault by itself)."""


@functools.cache
def _spawner(pid: int) -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=1, thread_name_prefix="sandbox-spawner")


def spawn(command: list[str], cpu: int, **popen_args) -> subprocess.Popen:
    """Popen on one thread that lives as long as the process (a new one after a fork), on ``cpu``.

    bwrap's --die-with-parent uses PR_SET_PDEATHSIG, which fires when the *thread* that started it
    exits; started from a judging thread, a worker kept for the next call would be killed with it.
    """

    def start() -> subprocess.Popen:
        allowed = os.sched_getaffinity(0)
        os.sched_setaffinity(0, {cpu})  # inherited by the worker and every process it forks
        try:
            return subprocess.Popen(command, **popen_args)
        finally:
            os.sched_setaffinity(0, allowed)

    return _spawner(os.getpid()).submit(start).result()


def next_cpu() -> int:
    """CPUs for workers in turn. A worker, its programs and the thread judging them share one CPU: a
    test hands over between them four times, and on one CPU a hand-over is a switch, not a wake-up of
    another (measured: -12% wall on 2 workers and 2 CPUs)."""
    with _CPU_LOCK:
        global _CPU_TURN
        cpus = sorted(os.sched_getaffinity(os.getpid()))  # the main thread's: never pinned here
        _CPU_TURN += 1
        return cpus[_CPU_TURN % len(cpus)]


_CPU_LOCK, _CPU_TURN = threading.Lock(), -1


def sealed_memfd(data: bytes, name: str) -> int:
    """A memfd holding ``data``, sealed: nobody can change it, whoever holds it."""
    import fcntl

    memfd = os.memfd_create(name, os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING)  # (the judge's; programs get none)
    os.write(memfd, data)
    seals = fcntl.F_SEAL_SEAL | fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_GROW | fcntl.F_SEAL_WRITE
    fcntl.fcntl(memfd, fcntl.F_ADD_SEALS, seals)
    return memfd


def read_only(memfd: int) -> int:
    """A new read-only fd of its own (own offset) on a memfd: what a program is handed."""
    return os.open(f"/proc/self/fd/{memfd}", os.O_RDONLY | os.O_CLOEXEC)


@dataclass
class RawRun:
    """What one test run left behind, before any comparison."""

    status: int = 0  # the wait status
    seconds: float = 0.0
    timed_out: bool = False
    maxrss_kb: int = 0
    stdout: bytes = b""
    stderr: bytes = b""  # the tail
    result: bytes = b""  # a functional call's JSON result
    output_exceeded: bool = False


@dataclass
class Program:
    """One program on one worker: its code (one sealed memfd), its private uid; ``run`` one test at a time."""

    worker: Worker
    code_memfd: int
    func_name: str | None
    time_limit: float
    memory_mb: int
    semantics: str
    uid: int | None = field(default=None)

    def run(self, test_input: str, functional: bool = False) -> RawRun:
        message = {
            "op": "test",
            "time_limit": self.time_limit,
            "memory_mb": self.memory_mb,
            "func_name": self.func_name if functional else None,
            "semantics": self.semantics,
        }
        stdin_memfd = sealed_memfd(test_input.encode("utf-8", "surrogatepass"), "stdin")
        given = [read_only(self.code_memfd), read_only(stdin_memfd)]
        os.close(stdin_memfd)
        pipes = [os.pipe() for _ in range(3 if functional else 2)]  # stdout, stderr(, a functional result)
        result = pipes[2][1] if functional else os.open(os.devnull, os.O_WRONLY | os.O_CLOEXEC)
        try:
            self.worker.send(message, [*given, pipes[0][1], pipes[1][1], result])
        finally:
            for fd in (*given, pipes[0][1], pipes[1][1], result):
                os.close(fd)
        return self.worker.collect([r for r, _ in pipes], self.time_limit + REPLY_SLACK_S)


class Worker:
    """One zygote process; started on first use and again after it is lost."""

    def __init__(self, mode: str | None = None):
        self.mode = mode if mode in MODES else resolve_mode(mode)
        self.isolation = isolation(self.mode)
        self.cpu = next_cpu()
        self.process: subprocess.Popen | None = None
        self.sock: socket.socket | None = None
        self.scratch: str | None = None

    def start(self) -> None:
        python = sandbox_python(self.mode)
        parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        if self.mode == "bwrap":
            command, cwd, isolation_kind = bwrap_command(python, child.fileno()), None, "namespaces"
        else:
            self.scratch = tempfile.mkdtemp(prefix="codegen-judge-")
            os.chmod(self.scratch, 0o711)  # a private uid may enter its own working dir, not list others
            command, cwd, isolation_kind = (
                [python, "-I", "-S", str(WORKER), str(child.fileno())],
                self.scratch,
                "none",
            )
        try:
            self.process = spawn(
                command,
                self.cpu,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                cwd=cwd,
                env=sandbox_env(),
                pass_fds=(child.fileno(),),
                start_new_session=True,
            )
        finally:
            child.close()
        self.sock = parent
        config = {
            "isolation": isolation_kind,
            "scratch": self.scratch,
            "address_headroom_mb": ADDRESS_HEADROOM_MB,
            "max_tasks": MAX_TASKS,
            "disk_bytes": DISK_BYTES,
        }
        self.send(config)
        reply = self.receive(60.0)
        if not reply.get("ready"):
            raise WorkerLost(f"sandbox worker did not start: {reply}")

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    @contextlib.contextmanager
    def program(
        self, code: str, func_name: str | None, time_limit: float, memory_mb: int, semantics: str
    ) -> Iterator[Program]:
        """One program's scope (empty folders and a uid of its own) around its tests; ``end`` empties them."""
        if not self.alive():
            self.close()
            self.start()
        uid = random.randrange(200_000, 2_000_000_000) if os.geteuid() == 0 else None
        self.send({"op": "begin", "uid": uid})  # no reply: the socket keeps order
        code_memfd = sealed_memfd(
            code.encode("utf-8", "surrogatepass"), "main.py"
        )  # a lone surrogate: its SyntaxError
        try:
            yield Program(self, code_memfd, func_name, time_limit, memory_mb, semantics, uid)
        finally:
            os.close(code_memfd)
        self.send({"op": "end"})

    # -- the socket ---------------------------------------------------------------------------
    def send(self, message: dict, fds: list[int] = ()) -> None:
        """In marshal (the worker's Python is ours, and it trusts us); replies come back in JSON."""
        ancillary = [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", fds))] if fds else []
        try:
            self.sock.sendmsg([marshal.dumps(message)], ancillary)
        except OSError as err:
            raise WorkerLost(f"cannot reach the sandbox worker ({err})") from err

    def receive(self, timeout: float) -> dict:
        ready, _, _ = select.select([self.sock], [], [], timeout)
        if not ready:
            raise WorkerLost(f"no reply from the sandbox worker within {timeout:.0f} s")
        try:
            data = self.sock.recv(1 << 16)
        except OSError as err:
            raise WorkerLost(f"the sandbox worker's socket broke ({err})") from err
        if not data:
            raise WorkerLost(f"the sandbox worker exited (status {self.process.poll()})")
        return json.loads(data)

    def collect(self, readers: list[int], timeout: float) -> RawRun:
        """Read the program's pipes until it is reported finished and they are closed."""
        run, buffers = RawRun(), {fd: bytearray() for fd in readers}
        open_fds, deadline, report = set(readers), time.monotonic() + timeout, None
        try:
            while open_fds or report is None:
                wait = deadline - time.monotonic()
                if (
                    report is not None
                ):  # finished: what is left is in the pipes already (or a stray holds them)
                    wait = min(wait, 0.5)
                if wait <= 0:
                    if report is None:
                        raise WorkerLost(f"no report from the sandbox worker within {timeout:.0f} s")
                    break
                watched = [*open_fds] + ([self.sock] if report is None else [])
                ready, _, _ = select.select(watched, [], [], wait)
                if not ready and report is not None:
                    break
                for fd in ready:
                    if fd is self.sock:
                        report = self.receive(0)
                        continue
                    chunk = os.read(fd, 1 << 16)
                    if not chunk:
                        open_fds.discard(fd)
                        continue
                    buffers[fd] += chunk
                    if fd != readers[1] and len(buffers[fd]) > OUTPUT_LIMIT:
                        run.output_exceeded = True  # stop reading: the program's next write fails
                        open_fds.discard(fd)
                        os.close(fd)
                        readers[readers.index(fd)] = -1
                    elif fd == readers[1] and len(buffers[fd]) > 2 * STDERR_TAIL:
                        del buffers[fd][:-STDERR_TAIL]
        finally:
            for fd in readers:
                if fd >= 0:
                    os.close(fd)
        run.stdout, run.stderr, run.result = (*(bytes(b) for b in buffers.values()), b"")[:3]
        run.status, run.seconds = report["status"], report["seconds"]
        run.timed_out, run.maxrss_kb = report["timed_out"], report["maxrss_kb"]
        return run

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None
        if self.process is not None:
            process, self.process = self.process, None
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self.scratch is not None:
            shutil.rmtree(self.scratch, ignore_errors=True)
            self.scratch = None


# -- which mode can run here (a real worker is tried once) ----------------------------------------


PROBED: list[Worker] = []  # the worker bwrap_problem started, kept for the first judge call to use
os.register_at_fork(after_in_child=PROBED.clear)  # a forked child's are its parent's


@functools.cache
def bwrap_problem() -> str | None:
    """Why bubblewrap cannot run our workers here, or None when it can (tried once, for real)."""
    if shutil.which("bwrap") is None:
        return "bubblewrap is not installed (Debian: apt-get install bubblewrap; a Space: packages.txt)"
    worker = Worker("bwrap")
    try:
        worker.start()
    except (WorkerLost, OSError) as err:
        worker.close()
        return f"bubblewrap cannot create its namespaces here ({err})"
    PROBED.append(worker)
    return None


def bwrap_usable() -> bool:
    return bwrap_problem() is None


def resolve_mode(mode: str | None = None) -> str:
    """``bwrap`` or an explicitly asked ``rlimit``; ``auto`` (the default) is bwrap or a refusal."""
    mode = mode or os.environ.get(SANDBOX_ENV) or "auto"
    if mode not in (*MODES, "auto"):
        raise ValueError(f"{SANDBOX_ENV}/sandbox mode must be auto, bwrap or rlimit, got {mode!r}")
    if mode == "rlimit":
        return mode
    problem = bwrap_problem()
    if problem is not None:
        raise SandboxUnavailable(
            f"Refusing to run generated code: {problem}. To judge anyway with the weaker rlimit sandbox "
            f"(no namespaces), pass --sandbox rlimit or set {SANDBOX_ENV}=rlimit."
        )
    return "bwrap"
