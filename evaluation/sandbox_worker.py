"""The zygote: a long-lived judge worker that runs INSIDE the sandbox (see sandbox.py).

It holds nothing worth stealing, by construction: the judge sends it only control messages (limits, a
uid, a disk quota) and file descriptors over a SOCK_SEQPACKET socket. A program's code and its test
input arrive as sealed memfds, its stdout/stderr/result go into pipes whose read ends only the judge
holds, and expected outputs never enter the sandbox at all: the judge compares outside.

At start the zygote enters a mount namespace of its own and starts an init process as PID 1 of a
fresh PID namespace, with /proc mounted for it; the zygote itself stays outside, where no program can
see or signal it, and it is non-dumpable, so no process of its uid can read its memory or fds either.
Per program (``begin``): a fresh size-capped tmpfs becomes the working dir, ``/tmp`` and ``/dev/shm``
(one quota for all three), owned by the program's uid. Per test: the zygote forks the program into the
init's namespace; it drops every capability (and, as root, switches to the program's private uid),
takes its rlimits and runs as ``__main__``. The zygote enforces the wall clock, then init kills every
process left in the namespace (``setsid`` grandchildren included) before the zygote sends the judge one
report: exit status, seconds, peak memory.

Runs as a plain script (``python -I sandbox_worker.py FD``), never imported by the evaluator.
"""

import array
import contextlib
import ctypes
import gc
import importlib
import json
import os
import resource
import select
import signal
import socket
import sys
import threading
import time
import traceback
import types

# Loaded once here so each forked program finds them imported (speed only; programs still `import` them).
PRELOADED = "array bisect collections copy datetime decimal fractions functools heapq io itertools json math"
PRELOADED += " operator random re statistics string typing"
# LiveCodeBench's grader runs every program after star-imports of these modules (in this order) and a
# recursion limit of 50000; "lcb" semantics reproduce that, "plain" runs the program as an online judge does.
LCB_STAR_IMPORTS = ("string", "re", "datetime", "collections", "heapq", "bisect", "copy", "math", "random")
LCB_STAR_IMPORTS += (
    "statistics",
    "itertools",
    "functools",
    "operator",
    "io",
    "sys",
    "json",
    "builtins",
    "typing",
)
LCB_RECURSION_LIMIT = 50000

STDLIB_PATH = [p for p in sys.path[1:]]  # the interpreter's own path, without the worker's folder
PROGRAM_STDIO = ()  # sys.stdin/stdout/stderr on fds 0/1/2, made once: each program's fds are dup2'ed there
LCB_BUILTINS = {}  # the builtins plus every name LCB's import block binds, made once in the zygote


def lcb_builtins() -> dict:
    """Run LCB's import block once (the star-imports in order, then the modules by name) over the builtins.

    A program finds these names as LCB's programs do (its own definitions still win), and handing it one
    ready dict costs nothing per test; copying ~800 names into its globals would touch each object.
    """
    prelude = "".join(f"from {name} import *\n" for name in LCB_STAR_IMPORTS)
    prelude += "".join(f"import {name}\n" for name in LCB_STAR_IMPORTS if name not in ("builtins", "typing"))
    namespace = {}
    exec(prelude, namespace)
    import builtins

    return vars(builtins) | {key: value for key, value in namespace.items() if key != "__builtins__"}


FILE_LIMIT = 64 * 1024 * 1024  # bytes per file the program writes
STACK_LIMIT = 256 * 1024 * 1024  # main-thread stack (grows on demand up to this; within the address space)
MAX_FILES = 256
SANDBOX_ROOT = "/sandbox"  # the per-program tmpfs (bwrap modes); work/, tmp/, shm/ inside
CLONE_NEWNS, CLONE_NEWPID = 0x00020000, 0x20000000
MS_NOSUID, MS_NODEV, MS_BIND, MS_REC, MS_PRIVATE = 0x2, 0x4, 0x1000, 0x4000, 0x40000
MNT_DETACH = 2
PR_SET_PDEATHSIG, PR_SET_DUMPABLE, PR_CAPBSET_DROP, PR_SET_NO_NEW_PRIVS = 1, 4, 24, 38
PR_SET_CHILD_SUBREAPER = 36
SYS_CAPSET = 126  # x86-64

_libc = ctypes.CDLL(None, use_errno=True)


def check(result: int, what: str) -> None:
    if result != 0:
        error = ctypes.get_errno()
        raise OSError(error, f"{what}: {os.strerror(error)}")


def mount(source, target, fstype, flags, data=None) -> None:
    def encode(value):
        return value.encode() if value is not None else None

    check(_libc.mount(encode(source), encode(target), encode(fstype), flags, encode(data)), f"mount {target}")


def receive(sock):
    """One control message and the fds that came with it; None when the judge hung up."""
    fds = array.array("i")
    data, ancillary, _, _ = sock.recvmsg(1 << 16, socket.CMSG_SPACE(16 * fds.itemsize))
    if not data:
        return None, []
    for level, kind, payload in ancillary:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.frombytes(payload[: len(payload) - len(payload) % fds.itemsize])
    return json.loads(data), list(fds)


def send(sock, message) -> None:
    sock.sendmsg([json.dumps(message).encode()])


# -- per program ----------------------------------------------------------------------------------
def begin_program(config, message):
    """A fresh, empty tmpfs for the program: its working dir, /tmp and /dev/shm share one quota.

    What every test of it shares is set here, once, and inherited: cwd, HOME, TMPDIR, argv, sys.path.
    """
    program = make_workdir(config, message)
    workdir = program["workdir"]
    os.chdir(workdir)
    os.environ["HOME"] = os.environ["TMPDIR"] = workdir
    sys.argv = [os.path.join(workdir, "main.py")]
    sys.path[:] = [workdir] + STDLIB_PATH  # like a script's own folder, then the standard installation
    return program


def make_workdir(config, message):
    if config["isolation"] == "none":  # the rlimit mode: a private folder in the judge's scratch dir
        workdir = os.path.join(config["scratch"], f"run-{time.monotonic_ns()}")
        os.mkdir(workdir, 0o700)
        if message["uid"] is not None:
            os.chown(workdir, message["uid"], message["uid"])
        return {"workdir": workdir, **message}
    for target in ("/dev/shm", "/tmp", SANDBOX_ROOT):
        _libc.umount2(target.encode(), MNT_DETACH)  # the previous program's, if any
    uid = message["uid"] if message["uid"] is not None else os.getuid()
    options = (
        f"size={message['disk_bytes']},nr_inodes=4096,mode=0755"  # the zygote's; the dirs are the program's
    )
    mount("tmpfs", SANDBOX_ROOT, "tmpfs", MS_NOSUID | MS_NODEV, options)
    for name, target in (("work", None), ("tmp", "/tmp"), ("shm", "/dev/shm")):
        path = os.path.join(SANDBOX_ROOT, name)
        os.mkdir(path, 0o711)  # the zygote (no DAC override) must enter it; no one else is here to list it
        os.chown(path, uid, uid)
        if target:
            mount(path, target, None, MS_BIND)
    return {"workdir": os.path.join(SANDBOX_ROOT, "work"), **message}


def end_program(config, program) -> None:
    if config["isolation"] == "none":
        import shutil

        shutil.rmtree(program["workdir"], ignore_errors=True)
        return
    for target in ("/dev/shm", "/tmp", SANDBOX_ROOT):
        _libc.umount2(target.encode(), MNT_DETACH)


# -- the programs' PID namespace ------------------------------------------------------------------
def start_init():
    """Fork PID 1 of the namespace every program of this worker is forked into; returns its sweep pipe.

    The zygote stays outside (programs cannot see or signal it). Init mounts /proc for the namespace,
    so a program sees only its own processes and init, which it can neither signal (init ignores what
    it has no handler for) nor read (it is not dumpable). On each request it kills every other process
    in the namespace, waits until they are gone, and answers.
    """
    check(_libc.unshare(CLONE_NEWPID), "unshare")
    requests_r, requests_w = os.pipe()
    replies_r, replies_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(requests_w)
        os.close(replies_r)
        run_init(requests_r, replies_w)
    os.close(requests_r)
    os.close(replies_w)
    return pid, requests_w, replies_r


def run_init(requests, replies):
    status = 1
    try:
        _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)  # the zygote lost: the namespace goes too
        mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV)
        os.closerange(3, requests)
        os.closerange(requests + 1, replies)
        os.closerange(replies + 1, 1 << 16)
        while os.read(requests, 1):
            with contextlib.suppress(ProcessLookupError):
                os.kill(-1, signal.SIGKILL)  # from PID 1: everything in the namespace but itself
            with contextlib.suppress(ChildProcessError):
                while True:
                    os.waitpid(-1, 0)
            os.write(replies, b"1")
        status = 0
    finally:
        os._exit(status)


# -- per test -------------------------------------------------------------------------------------
def run_test(sock, config, program, message, fds, init):
    """Fork the program, enforce its wall clock, sweep what it left, report to the judge."""
    start = time.monotonic()
    pid = os.fork()
    if pid == 0:
        sock.close()
        become_program(config, program, message, fds)  # never returns
    for fd in fds:
        os.close(fd)
    pidfd = os.pidfd_open(pid)
    ready, _, _ = select.select([pidfd], [], [], message["time_limit"])
    timed_out = not ready
    if timed_out:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    _, wait_status, usage = os.wait4(pid, 0)
    seconds = time.monotonic() - start
    os.close(pidfd)
    sweep(pid, program, init)
    report = {"status": wait_status, "seconds": round(seconds, 4), "timed_out": timed_out}
    send(sock, report | {"maxrss_kb": usage.ru_maxrss})


def sweep(pid, program, init) -> None:
    """Nothing the program started outlives its test."""
    if init is not None:  # /proc is the namespace's: anyone there but init is a leftover
        if any(entry.isdigit() and entry != "1" for entry in os.listdir("/proc")):
            _, requests, replies = init
            os.write(requests, b"1")
            os.read(replies, 1)
        return
    with contextlib.suppress(ProcessLookupError):  # the rlimit mode: its process group ...
        os.killpg(pid, signal.SIGKILL)
    if program["uid"] is not None:  # ... and, as root, every process of its private uid
        helper = os.fork()
        if helper == 0:
            try:
                os.setuid(program["uid"])
                os.kill(-1, signal.SIGKILL)
            finally:
                os._exit(0)
        os.waitpid(helper, 0)
    with contextlib.suppress(ChildProcessError):  # orphans came to us (a subreaper): reap them
        while os.waitpid(-1, os.WNOHANG)[0]:
            pass


def become_program(config, program, message, fds):
    """In the program's process: wire the fds, give up every privilege, take the limits, run. Never returns."""
    status = 1
    try:
        code_fd, stdin_fd, out_fd, err_fd, result_fd = fds
        with os.fdopen(code_fd, "rb", closefd=True) as handle:
            code = handle.read().decode("utf-8", "replace")
        for target, fd in ((0, stdin_fd), (1, out_fd), (2, err_fd), (3, result_fd)):
            os.dup2(fd, target)
        os.closerange(4, 1 << 16)
        if config["isolation"] == "none":
            os.setsid()  # its own group, which the sweep kills (in a namespace, init kills everything)
        drop_privileges(config, program)
        apply_limits(message, config)
        status = run_main(code, message)
    except BaseException:
        with contextlib.suppress(BaseException):
            traceback.print_exc()
    finally:
        os._exit(status)


def drop_privileges(config, program) -> None:
    if program["uid"] is not None:  # as root: a private uid (this clears every capability)
        os.setgroups([])
        os.setgid(program["uid"])
        os.setuid(program["uid"])
    elif config["isolation"] != "none":  # in a user namespace: same uid, capabilities cleared
        for cap in range(config["last_cap"] + 1):  # the bounding set first: it needs CAP_SETPCAP
            _libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0)
        header = (ctypes.c_uint32 * 2)(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3, this process
        data = (ctypes.c_uint32 * 6)()
        check(_libc.syscall(SYS_CAPSET, header, data), "capset")
    _libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)  # after setuid, which clears it
    _libc.prctl(PR_SET_DUMPABLE, 1, 0, 0, 0)  # its own /proc/self is its own again (the zygote's stays shut)


def apply_limits(message, config) -> None:
    address_space = (message["memory_mb"] + config["address_headroom_mb"]) * 1024 * 1024
    cpu = int(message["time_limit"]) + 2
    for limit, value in (
        (resource.RLIMIT_AS, address_space),
        (resource.RLIMIT_CPU, cpu),
        (resource.RLIMIT_FSIZE, FILE_LIMIT),
        (resource.RLIMIT_CORE, 0),
        (resource.RLIMIT_NOFILE, MAX_FILES),
        (resource.RLIMIT_STACK, STACK_LIMIT),
        (resource.RLIMIT_NPROC, config["max_tasks"]),
    ):
        resource.setrlimit(limit, (value, value + 1 if limit == resource.RLIMIT_CPU else value))


def run_main(code, message) -> int:
    """Run the program as ``python main.py`` would, and return its exit status."""
    sys.stdin, sys.stdout, sys.stderr = sys.__stdin__, sys.__stdout__, sys.__stderr__ = PROGRAM_STDIO
    main_path = sys.argv[0]
    module = types.ModuleType("__main__")
    module.__file__ = main_path
    module.__builtins__ = __builtins__
    sys.modules["__main__"] = module
    if message["semantics"] == "lcb":
        LCB_BUILTINS.update({name: getattr(sys, name) for name in ("stdin", "stdout", "stderr", "argv")})
        module.__builtins__ = LCB_BUILTINS  # `from sys import *` means this process's streams
        sys.setrecursionlimit(LCB_RECURSION_LIMIT)
    status = 0
    try:
        exec(compile(code, main_path, "exec"), module.__dict__)
        if message["func_name"] is not None:
            arguments = [json.loads(line) for line in sys.stdin.read().split("\n")]
            result = getattr(module.Solution(), message["func_name"])(*arguments)
            os.write(3, json.dumps(plain_lists(result)).encode())
    except SystemExit as stop:
        status = exit_status(stop.code)
    except BaseException as error:  # the program's own exception: report it like `python main.py`
        status = 1
        try:
            traceback.print_exc()
        except BaseException:
            os.write(2, f"\n{type(error).__name__}\n".encode())
    threading._shutdown()  # like interpreter exit: wait for non-daemon threads
    import atexit

    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BaseException:
            status = status or 120
    return status


def plain_lists(value):
    """A functional result as JSON sees it: tuples become lists (LCB does not penalise tuples)."""
    if isinstance(value, (tuple, list)):
        return [plain_lists(item) for item in value]
    if isinstance(value, dict):
        return {key: plain_lists(item) for key, item in value.items()}
    return value


def exit_status(code):
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    print(code, file=sys.stderr)
    return 1


def main():
    high = os.dup2(int(sys.argv[1]), 1000)  # out of the way: fds that arrive start at 3
    os.close(int(sys.argv[1]))
    sock = socket.socket(fileno=high)
    os.set_inheritable(sock.fileno(), False)
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1):
        os.dup2(null, fd)
    global PROGRAM_STDIO
    PROGRAM_STDIO = (
        open(0, encoding="utf-8", closefd=False),  # noqa: SIM115
        open(1, "w", encoding="utf-8", closefd=False),  # noqa: SIM115
        open(2, "w", encoding="utf-8", errors="backslashreplace", closefd=False),  # noqa: SIM115
    )
    _libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)  # no same-uid process may read our memory or fds
    _libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    config, _ = receive(sock)
    with open("/proc/sys/kernel/cap_last_cap") as handle:
        config["last_cap"] = int(handle.read())
    init = None
    if config["isolation"] != "none":  # a mount namespace of our own: nothing mounted here leaks out
        check(_libc.unshare(CLONE_NEWNS), "unshare")
        mount(None, "/", None, MS_REC | MS_PRIVATE)
        init = start_init()
    for name in PRELOADED.split():
        importlib.import_module(name)
    LCB_BUILTINS.update(lcb_builtins())
    gc.collect()
    gc.freeze()  # children share the pre-imported heap instead of copying it on first GC
    send(sock, {"ready": True})
    program = None
    while True:
        message, fds = receive(sock)
        if message is None:
            break
        if message["op"] == "begin":
            program = begin_program(config, message)
        elif message["op"] == "test":
            run_test(sock, config, program, message, fds, init)
        elif message["op"] == "end":
            end_program(config, program)
            program = None


if __name__ == "__main__":
    main()
