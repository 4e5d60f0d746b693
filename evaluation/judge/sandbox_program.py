"""The program's side of a test, in the process that becomes the program (forked by sandbox_worker.py).

Wire the fds the judge sent, give up every privilege, take the limits, and run the code as ``__main__``,
as ``python main.py`` would (or after LiveCodeBench's import block with ``lcb`` semantics). Loaded by the
zygote from its own folder inside the sandbox; never imported by the evaluator.
"""

import atexit  # here, in the zygote: imported in each program's process it cost ~46 page faults
import contextlib
import ctypes
import json
import os
import random
import resource
import signal
import stat
import sys
import threading
import traceback
import types

from sandbox_filter import filter_program, install, prepared

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

SYSCALL_FILTER = None  # prepared once in the zygote (sandbox_filter.py), installed in every program
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
PR_SET_PDEATHSIG, PR_SET_DUMPABLE, PR_CAPBSET_DROP, PR_SET_NO_NEW_PRIVS = 1, 4, 24, 38
CLONE_NEWIPC = 0x08000000
SYS_CAPSET = 126  # x86-64

_libc = ctypes.CDLL(None, use_errno=True)


def check(result: int, what: str) -> None:
    if result != 0:
        error = ctypes.get_errno()
        raise OSError(error, f"{what}: {os.strerror(error)}")


def prepare() -> None:
    """Once, in the zygote: LCB's names, and the standard streams on fds 0/1/2 every program reuses."""
    global PROGRAM_STDIO, SYSCALL_FILTER
    LCB_BUILTINS.update(lcb_builtins())
    SYSCALL_FILTER = prepared(filter_program())
    PROGRAM_STDIO = (  # as `python main.py` makes them on POSIX: lines split at "\n" only, "\r" kept
        open(0, encoding="utf-8", errors="surrogateescape", newline="\n", closefd=False),  # noqa: SIM115
        open(1, "w", encoding="utf-8", errors="surrogateescape", newline="\n", closefd=False),  # noqa: SIM115
        open(2, "w", encoding="utf-8", errors="backslashreplace", closefd=False),  # noqa: SIM115
    )


def ready_spare(config) -> None:
    """In the spare, before its test arrives: what does not depend on the test. First what CPython's
    after-fork hooks would do that a program can tell (the zygote forks without them)."""
    random.seed()  # its randomness is its own, as in a fresh python
    threading.main_thread()._set_native_id()
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)  # as CPython starts (the zygote's own is the default)
    if config["isolation"] != "none":  # no IPC object of an earlier test or program in sight
        check(_libc.unshare(CLONE_NEWIPC), "unshare")  # (and the filter refuses IPC anyway)


def become_program(config, program, message, fds):
    """In the program's process: wire the fds, give up every privilege, take the limits, run. Never returns."""
    status = 1
    try:
        code_fd, stdin_fd, out_fd, err_fd, result_fd = fds
        with os.fdopen(code_fd, "rb", closefd=True) as handle:
            code = handle.read()  # bytes: compiled as `python main.py` reads its file (PEP 263)
        for target, fd in ((0, stdin_fd), (1, out_fd), (2, err_fd), (3, result_fd)):
            os.dup2(fd, target)
        os.closerange(4, 1 << 16)
        if config["isolation"] == "none":
            os.setsid()  # its own group, which the sweep kills (in a namespace, init kills everything)
        enter_workdir(program)
        drop_privileges(config, program)
        apply_limits(message, config)
        install(SYSCALL_FILTER)  # last: from here on, no new process, namespace, IPC, key or memfd
        status = run_main(code, message)
    except BaseException:
        with contextlib.suppress(BaseException):
            traceback.print_exc()
    finally:
        os._exit(status)


def enter_workdir(program) -> None:
    """Set here, in the program's process, never in the zygote: cwd, HOME, TMPDIR, argv, sys.path."""
    workdir = program["workdir"]
    os.chdir(workdir)
    os.environ["HOME"] = os.environ["TMPDIR"] = workdir
    sys.argv = [os.path.join(workdir, "main.py")]
    sys.path[:] = [workdir] + program["stdlib_path"]  # like a script's own folder, then the stdlib


def drop_privileges(config, program) -> None:
    if program["uid"] is not None:  # as root: a private uid (this clears every capability)
        for fd in (1, 2, 3):  # its pipes are its own, so /dev/stdout opens (the judge's are 0600)
            if stat.S_ISFIFO(os.fstat(fd).st_mode):
                os.fchown(fd, program["uid"], program["uid"])
        os.setgroups([])
        os.setgid(program["uid"])
        os.setuid(program["uid"])
    elif config["isolation"] != "none":  # in a user namespace: same uid, capabilities cleared
        for cap in config["bounding_caps"]:  # the bounding set first: it needs CAP_SETPCAP
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
