"""The zygote: a long-lived judge worker that runs INSIDE the sandbox (see sandbox.py).

It pre-imports common modules once, then for every test fork()s a fresh child process that drops
privileges, applies rlimits, wires stdin/stdout and runs the program as `__main__`. The zygote enforces
the wall-clock limit, the output limit, classifies the exit, compares the output (compare.py) and reports
one frame per test. Protocol on fds 0/1: 4-byte big-endian length + JSON.
Runs as a plain script (`python -I sandbox_worker.py`), never imported by the evaluator.
"""

import contextlib
import ctypes
import gc
import importlib
import json
import os
import resource
import select
import shutil
import signal
import struct
import sys
import threading
import time
import traceback
import types

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compare  # noqa: E402

# Loaded once here so each forked child finds them imported (speed only; programs still `import` them).
PRELOADED = "array bisect collections copy datetime decimal fractions functools heapq itertools math operator"
PRELOADED += " random re statistics string typing"

OUTPUT_LIMIT = 64 * 1024 * 1024  # bytes of stdout per test (OLE beyond)
FILE_LIMIT = 64 * 1024 * 1024  # bytes per file the program writes
STDERR_TAIL = 4096
MAX_TASKS = 64  # processes + threads of the sandbox uid (only when a private uid is used)
PR_SET_PDEATHSIG, PR_SET_NO_NEW_PRIVS, PR_SET_CHILD_SUBREAPER = 1, 38, 36

_libc = ctypes.CDLL(None, use_errno=True)


def read_frame(stream):
    header = stream.read(4)
    if len(header) < 4:
        return None
    return json.loads(stream.read(struct.unpack(">I", header)[0]))


def write_frame(stream, message):
    data = json.dumps(message).encode()
    stream.write(struct.pack(">I", len(data)) + data)
    stream.flush()


def run_child(code, test_input, func_name, workdir, config, memory_mb, time_limit):
    """In the forked child: become the program. Never returns."""
    status = 1
    try:
        os.setsid()
        if config["uid"] is not None:
            os.setgroups([])
            os.setgid(config["uid"])
            os.setuid(config["uid"])
            resource.setrlimit(resource.RLIMIT_NPROC, (MAX_TASKS, MAX_TASKS))
        _libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
        _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)  # after setuid, which clears it
        address_space = (memory_mb + config["address_headroom_mb"]) * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (address_space, address_space))
        cpu = int(time_limit) + 2
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
        resource.setrlimit(resource.RLIMIT_FSIZE, (FILE_LIMIT, FILE_LIMIT))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        os.chdir(workdir)
        os.environ["HOME"] = os.environ["TMPDIR"] = workdir
        sys.stdin = sys.__stdin__ = open(0, encoding="utf-8", closefd=False)  # noqa: SIM115
        sys.stdout = sys.__stdout__ = open(1, "w", encoding="utf-8", closefd=False)  # noqa: SIM115
        sys.stderr = sys.__stderr__ = open(2, "w", encoding="utf-8", errors="backslashreplace", closefd=False)  # noqa: SIM115
        main_path = os.path.join(workdir, "main.py")
        sys.argv = [main_path]
        sys.path[:] = [workdir] + sys.path[1:]  # drop the worker's own folder, like a script's dir
        module = types.ModuleType("__main__")
        module.__file__ = main_path
        module.__builtins__ = __builtins__
        sys.modules["__main__"] = module
        status = 0
        try:
            exec(compile(code, main_path, "exec"), module.__dict__)
            if func_name is not None:
                result = getattr(module.Solution(), func_name)(*compare.functional_args(test_input))
                os.write(3, compare.encode_result(result).encode())
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
    finally:
        os._exit(status)


def exit_status(code):
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    print(code, file=sys.stderr)
    return 1


def exception_name(stderr_tail: bytes) -> str:
    lines = stderr_tail.decode("utf-8", "replace").strip().splitlines()
    if lines:
        name = lines[-1].split(":", 1)[0].strip()
        if name and all(part.isidentifier() for part in name.split(".")):
            return name.rsplit(".", 1)[-1]
    return ""


def run_test(code, test, func_name, workdir, config, memory_mb, time_limit):
    """Fork, supervise and classify one test. Returns (verdict, seconds, detail)."""
    test_input, expected, testtype = test
    stdin_fd = os.memfd_create("stdin")
    os.write(stdin_fd, test_input.encode())
    os.lseek(stdin_fd, 0, os.SEEK_SET)
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    result_r, result_w = os.pipe()
    functional = testtype == "functional"
    start = time.monotonic()
    pid = os.fork()
    if pid == 0:
        os.dup2(stdin_fd, 0)
        os.dup2(err_w, 2)
        if functional:
            os.dup2(result_w, 3)
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 1)
        else:
            os.dup2(out_w, 1)
        os.closerange(4, 1 << 16) if functional else os.closerange(3, 1 << 16)
        run_child(code, test_input, func_name if functional else None, workdir, config, memory_mb, time_limit)
    for fd in (stdin_fd, out_w, err_w, result_w):
        os.close(fd)
    stdout, stderr, result = bytearray(), bytearray(), bytearray()
    buffers = {out_r: stdout, err_r: stderr, result_r: result}
    pidfd = os.pidfd_open(pid)
    poller = select.poll()
    for fd in (out_r, err_r, result_r, pidfd):
        poller.register(fd, select.POLLIN)
    killed_for = ""
    open_fds = {out_r, err_r, result_r}
    exited = False
    while not exited:
        remaining = start + time_limit - time.monotonic()
        if remaining <= 0:
            killed_for = "TLE"
            break
        for fd, _ in poller.poll(remaining * 1000):
            if fd == pidfd:
                exited = True
                continue
            if not drain(fd, buffers[fd], open_fds, poller):
                continue
        if len(stdout) > OUTPUT_LIMIT or len(result) > OUTPUT_LIMIT:
            killed_for = "OLE"
            break
        if len(stderr) > 2 * STDERR_TAIL:
            del stderr[:-STDERR_TAIL]
    if killed_for:
        kill_group(pid)
    _, wait_status, usage = os.wait4(pid, 0)
    seconds = time.monotonic() - start
    for fd in list(open_fds):  # whatever the exited child left in the pipes
        os.set_blocking(fd, False)
        while drain(fd, buffers[fd], open_fds, poller) and len(buffers[fd]) <= OUTPUT_LIMIT:
            pass
    sweep(pid, config)
    for fd in (out_r, err_r, result_r, pidfd):
        os.close(fd)
    if killed_for:
        return killed_for, seconds, ""
    if len(stdout) > OUTPUT_LIMIT or len(result) > OUTPUT_LIMIT:
        return "OLE", seconds, ""
    if os.WIFSIGNALED(wait_status):
        signum = os.WTERMSIG(wait_status)
        if signum == signal.SIGXCPU:
            return "TLE", seconds, signal.Signals(signum).name
        if signum == signal.SIGXFSZ:
            return "OLE", seconds, "SIGXFSZ"
        return "RE", seconds, signal.Signals(signum).name
    exit_code = os.WEXITSTATUS(wait_status)
    if exit_code != 0:
        name = exception_name(bytes(stderr))
        if name == "MemoryError" or usage.ru_maxrss > memory_mb * 1024:
            return "MLE", seconds, name
        return "RE", seconds, name or f"exit code {exit_code}"
    if functional:
        if not result:
            return "RE", seconds, "no result"
        try:
            matched = compare.functional_matches(expected, result.decode())
        except ValueError:
            matched = False
    else:
        matched = compare.stdout_matches(expected, stdout.decode("utf-8", "replace"))
    return ("AC" if matched else "WA"), seconds, ""


def drain(fd, buffer, open_fds, poller) -> bool:
    """Read what is there; False at EOF or when nothing is ready."""
    try:
        chunk = os.read(fd, 1 << 16)
    except BlockingIOError:
        return False
    if not chunk:
        poller.unregister(fd)
        open_fds.discard(fd)
        return False
    buffer += chunk
    return True


def kill_group(pid):
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)


def sweep(pid, config):
    """Kill anything the program left behind (even if it escaped its process group), reap zombies."""
    kill_group(pid)
    if config["sweep"] == "namespace":  # our own PID namespace: everything but init and us is the program's
        with contextlib.suppress(ProcessLookupError):
            os.kill(-1, signal.SIGKILL)
    elif config["sweep"] == "uid":  # kill every process of the program's private uid
        helper = os.fork()
        if helper == 0:
            try:
                os.setuid(config["uid"])
                os.kill(-1, signal.SIGKILL)
            finally:
                os._exit(0)
        os.waitpid(helper, 0)
    while True:
        try:
            reaped, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            break
        if reaped == 0:
            break


def judge_program(job, config, output):
    workdir = os.path.join(config["scratch"], f"run-{os.getpid()}-{time.monotonic_ns()}")
    os.mkdir(workdir, 0o700)
    if config["uid"] is not None:
        os.chown(workdir, config["uid"], config["uid"])
    try:
        for test in job["tests"]:
            verdict, seconds, detail = run_test(
                job["code"], test, job["func_name"], workdir, config, job["memory_mb"], job["time_limit"]
            )
            write_frame(output, {"verdict": verdict, "seconds": round(seconds, 4), "detail": detail})
            if verdict != "AC":
                break
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    write_frame(output, {"done": True})


def main():
    # Keep the protocol on private fds; the program's children get fresh 0/1/2.
    commands = open(os.dup(0), "rb")  # noqa: SIM115
    replies = open(os.dup(1), "wb")  # noqa: SIM115
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1):
        os.dup2(null, fd)
    os.set_inheritable(commands.fileno(), False)
    os.set_inheritable(replies.fileno(), False)
    _libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    config = read_frame(commands)
    for name in PRELOADED.split():
        importlib.import_module(name)
    gc.collect()
    gc.freeze()  # children share the pre-imported heap instead of copying it on first GC
    write_frame(replies, {"ready": True, "pid": os.getpid()})
    while (job := read_frame(commands)) is not None:
        judge_program(job, config, replies)


if __name__ == "__main__":
    main()
