"""The zygote: a long-lived judge worker that runs INSIDE the sandbox (see sandbox.py).

It holds nothing worth stealing, by construction: the judge sends it only control messages (limits, a
uid, a disk quota) and file descriptors over a SOCK_SEQPACKET socket. A program's code and its test
input arrive as sealed memfds, its stdout/stderr/result go into pipes whose read ends only the judge
holds, and expected outputs never enter the sandbox at all: the judge compares outside.

At start the zygote enters a mount namespace of its own and starts an init process as PID 1 of a
fresh PID namespace, with /proc mounted for it; the zygote itself stays outside, where no program can
see or signal it, and it is non-dumpable, so no process of its uid can read its memory or fds either.
One size-capped tmpfs, mounted once, holds the working dir, ``/tmp`` and ``/dev/shm`` (one quota for
all three, the only places a program can write); per program (``begin``) they are made its own, and
after it (``end``) emptied again. Per test: the test's process, forked into the
init's namespace ahead of time (the spare, forked while the judge reads the last report), takes the
test, enters a fresh IPC namespace, drops every capability (and, as root, switches to the program's
private uid), takes its rlimits and runs as ``__main__``. The zygote enforces the wall clock, then init
kills every process left in the namespace (``setsid`` grandchildren included) before the zygote sends
the judge one report: exit status, seconds, peak memory.

Runs as a plain script (``python -I -S sandbox_worker.py FD``), never imported by the evaluator.
"""

import array
import contextlib
import ctypes
import gc
import importlib
import json
import marshal
import os
import select
import signal
import site
import socket
import sys
import time

# Started with -I -S: no script folder on the path, and none of the host's start-up hooks (site-packages'
# .pth files, sitecustomize) run here; each costs every program's fork its modules' mappings. What
# `python main.py` gets from site, programs still get: exit(), quit(), help(), and site-packages.
site.setquit()
site.setcopyright()
site.sethelper()
STDLIB_PATH = list(sys.path) + [path for path in site.getsitepackages() if os.path.isdir(path)]
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sandbox_program  # noqa: E402  (the program's side, beside this file)
from sandbox_program import check  # noqa: E402

sys.path.pop(0)
# Loaded once here so each forked program finds them imported (speed only; programs still `import` them).
PRELOADED = "array bisect collections copy datetime decimal fractions functools heapq io itertools json math"
PRELOADED += " operator random re statistics string typing"
SANDBOX_ROOT = "/sandbox"  # the programs' tmpfs (bwrap modes); work/, tmp/, shm/ inside
CLONE_NEWNS, CLONE_NEWPID = 0x00020000, 0x20000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_REMOUNT = 0x1, 0x2, 0x4, 0x20
MS_BIND, MS_REC, MS_PRIVATE = 0x1000, 0x4000, 0x40000
PR_SET_PDEATHSIG, PR_SET_DUMPABLE, PR_CAPBSET_READ, PR_SET_CHILD_SUBREAPER = 1, 4, 23, 36

_libc = ctypes.CDLL(None, use_errno=True)


def mount(source, target, fstype, flags, data=None) -> None:
    def encode(value):
        return value.encode() if value is not None else None

    check(_libc.mount(encode(source), encode(target), encode(fstype), flags, encode(data)), f"mount {target}")


def receive(sock):
    """One control message and the fds that came with it; None when the judge hung up. Control messages
    come from the judge (or, to a spare, from us) in marshal, not JSON: this side trusts its sender, and
    JSON's Python-level code touched ~80 pages a message, each a copy-on-write fault after a fork."""
    fds = array.array("i")
    data, ancillary, _, _ = sock.recvmsg(1 << 16, socket.CMSG_SPACE(16 * fds.itemsize))
    if not data:
        return None, []
    for level, kind, payload in ancillary:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.frombytes(payload[: len(payload) - len(payload) % fds.itemsize])
    return marshal.loads(data), list(fds)


def send(sock, message) -> None:
    """To the judge, in JSON: it trusts nothing from inside the sandbox, and marshal is not safe to load."""
    sock.sendmsg([json.dumps(message).encode()])


# -- per program ----------------------------------------------------------------------------------
FOLDERS = {"work": None, "tmp": "/tmp", "shm": "/dev/shm"}  # in the tmpfs, and where else each shows
# Each of the three where it is writable (under the read-only root, /sandbox/tmp is only a view).
PROGRAM_FOLDERS = [target or os.path.join(SANDBOX_ROOT, name) for name, target in FOLDERS.items()]
EMPTY_FOLDER_SIZE = 0  # what stat says of a new folder there (kernels differ: 0 or 40)


def mount_folders(config) -> None:
    """Once per worker: one size-capped tmpfs holds every program's folders in turn (its working dir,
    /tmp and /dev/shm, one quota for all three), its own root read-only, so those three are all a
    program can write. Mounted once, not per program: each unmount waits for an RCU grace period, and
    with three per program the CPUs sat idle a fifth of a run (measured).
    """
    global EMPTY_FOLDER_SIZE
    options = f"size={config['disk_bytes']},nr_inodes=4096,mode=0755"  # the root the zygote's, read-only
    mount("tmpfs", SANDBOX_ROOT, "tmpfs", MS_NOSUID | MS_NODEV, options)
    for name, target in FOLDERS.items():
        path = os.path.join(SANDBOX_ROOT, name)
        os.mkdir(path, 0o711)  # the zygote (no DAC override) must enter it; no one else is here to list it
        EMPTY_FOLDER_SIZE = os.stat(path).st_size
        mount(path, target or path, None, MS_BIND)  # work/ onto itself: writable below a read-only root
    mount(None, SANDBOX_ROOT, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)


def begin_program(config, message):
    """The program's folders, empty, made its own (owner, mode, times as if new). The zygote itself never
    enters them nor puts them on its own sys.path: each forked program does that for itself, and enters
    a fresh IPC namespace (sandbox_program.py).
    """
    if config["isolation"] == "none":  # the rlimit mode: a private folder in the judge's scratch dir
        workdir = os.path.join(config["scratch"], f"run-{time.monotonic_ns()}")
        os.mkdir(workdir, 0o700)
        if message["uid"] is not None:
            os.chown(workdir, message["uid"], message["uid"])
        return {"workdir": workdir, "stdlib_path": STDLIB_PATH, **message}
    for path in PROGRAM_FOLDERS:
        if message["uid"] is not None:
            os.chown(path, message["uid"], message["uid"])
        os.chmod(path, 0o711)
        os.utime(path)
    return {"workdir": os.path.join(SANDBOX_ROOT, "work"), "stdlib_path": STDLIB_PATH, **message}


def end_program(config, program) -> None:
    """Nothing of the program's stays for the next: its folders emptied (by a process of its own uid when
    it left anything), or, where that fails, this worker gone and a fresh one started by the judge."""
    if config["isolation"] == "none":
        with contextlib.suppress(OSError):  # the zygote's own scratch dir: the weaker mode's best effort
            empty_folder(program["workdir"])
            os.rmdir(program["workdir"])
        return
    if all(map(is_empty, PROGRAM_FOLDERS)):
        return
    as_program_uid(program["uid"], lambda: [empty_folder(folder) for folder in PROGRAM_FOLDERS])
    if not all(map(is_empty, PROGRAM_FOLDERS)):
        sys.exit("a program left what its folders could not be emptied of")


def is_empty(folder) -> bool:
    """Asked of the folder's inode, not its listing, which as root the zygote may not read (0711, the
    program's): a tmpfs directory's size grows by 20 bytes an entry, so its size when new means empty."""
    try:
        return os.stat(folder).st_size == EMPTY_FOLDER_SIZE and not os.listxattr(folder)
    except OSError:
        return False


def empty_folder(top) -> None:
    """Everything below ``top`` removed and its extended attributes cleared; links removed, never
    followed. Iterative (any depth), and without shutil, which an import here could not afford: in the
    rlimit mode it could meet a program's module, and its zlib, bz2 and lzma cost every fork 40 mappings.
    Run as the files' owner, who may always open a folder again that the program shut.
    """
    folders, pending = [], [top]
    while pending:
        folder = pending.pop()
        os.chmod(folder, 0o700)
        folders.append(folder)
        with os.scandir(folder) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    pending.append(entry.path)
                else:
                    os.unlink(entry.path)
    for folder in reversed(folders[1:]):  # children before their parents
        os.rmdir(folder)
    for name in os.listxattr(top):
        os.removexattr(top, name)


def as_program_uid(uid, action) -> None:
    """``action`` in a child of ours; as root, under the program's private uid, with no capability left."""
    helper = os.fork()
    if helper == 0:
        try:
            if uid is not None:
                os.setgroups([])
                os.setgid(uid)
                os.setuid(uid)
            action()
        finally:
            os._exit(0)
    os.waitpid(helper, 0)


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
        for signum in signal.valid_signals() - {signal.SIGKILL, signal.SIGSTOP}:
            with contextlib.suppress(OSError, ValueError):  # a PID 1 without handlers: deaf to its namespace
                signal.signal(signum, signal.SIG_DFL)
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
def run_test(sock, config, program, message, fds, init, spare):
    """Hand the test to the spare process, enforce its wall clock, sweep what it left, report to the
    judge; returns the next test's spare, forked while the judge reads the report."""
    pid, channel = spare or fork_spare(sock, config)
    start = time.monotonic()
    rights = [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", fds))]
    channel.sendmsg([marshal.dumps(message | {"program": program})], rights)
    channel.close()
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
    reap(init)
    report = {"status": wait_status, "seconds": round(seconds, 4), "timed_out": timed_out}
    send(sock, report | {"maxrss_kb": usage.ru_maxrss})
    return fork_spare(sock, config)  # after the sweep, which would kill it


def fork_spare(sock, config):
    """The next test's process, forked ahead: it waits on a socket of its own for the test (limits,
    program, fds), so no test waits for a fork. Until then it is the zygote's code, holding nothing of
    the judge's (its socket closed) and no program data; the zygote gone, it exits.
    """
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    pid = fork_program()
    if pid == 0:
        try:  # whatever happens here, this process never returns into the zygote's loop
            sock.close()
            ours.close()
            sandbox_program.ready_spare(config)
            message, fds = receive(theirs)
            if message is not None:
                theirs.close()
                sandbox_program.become_program(config, message.pop("program"), message, fds)
        finally:
            os._exit(1)  # the zygote gone (no test came), or the spare could not get ready
    theirs.close()
    return pid, ours


def fork_program():
    """libc's fork, without CPython's after-fork work in the child (~0.8 ms of a ~4 ms test, measured).

    That work resets interpreter and threading state a fork may have left inconsistent in a process
    with threads; the zygote has none (it never starts one), so the child is consistent as forked, and
    what a program could tell, its random seed and its thread's id, is set afresh in
    sandbox_program.ready_spare.
    """
    pid = _libc.fork()
    if pid < 0:
        raise OSError(ctypes.get_errno(), "fork")
    return pid


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
        as_program_uid(program["uid"], lambda: os.kill(-1, signal.SIGKILL))
    with contextlib.suppress(ChildProcessError):  # orphans came to us (a subreaper): reap them
        while os.waitpid(-1, os.WNOHANG)[0]:
            pass


def reap(init) -> None:
    """Any child of ours but init is a leftover (a clone(CLONE_PARENT) of a program): reaped, not kept."""
    with contextlib.suppress(ChildProcessError):
        while (pid := os.waitpid(-1, os.WNOHANG)[0]) != 0:
            if init is not None and pid == init[0]:
                sys.exit("the programs' init died")  # the judge sees a lost worker and starts another


def bounding_caps():
    """The capabilities left in our bounding set (bubblewrap keeps a few): what each program drops."""
    with open("/proc/sys/kernel/cap_last_cap") as handle:
        last_cap = int(handle.read())
    return [cap for cap in range(last_cap + 1) if _libc.prctl(PR_CAPBSET_READ, cap, 0, 0, 0) == 1]


def filter_problem():
    """Why a program could not be put under the syscall filter here (tried in a child), or None."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            sandbox_program.install(sandbox_program.SYSCALL_FILTER)
            os.write(write, b"ok")
        except BaseException as error:
            os.write(write, str(error).encode()[:500])
        finally:
            os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    answer = os.read(read, 512).decode()
    os.close(read)
    return None if answer == "ok" else answer


def main():
    high = os.dup2(int(sys.argv[1]), 1000)  # out of the way: fds that arrive start at 3
    os.close(int(sys.argv[1]))
    sock = socket.socket(fileno=high)
    os.set_inheritable(sock.fileno(), False)
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1):
        os.dup2(null, fd)
    _libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)  # no same-uid process may read our memory or fds
    _libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    config, _ = receive(sock)
    config["bounding_caps"] = bounding_caps()
    init = None
    if config["isolation"] != "none":  # a mount namespace of our own: nothing mounted here leaks out
        check(_libc.unshare(CLONE_NEWNS), "unshare")
        mount(None, "/", None, MS_REC | MS_PRIVATE)
        mount_folders(config)
        init = start_init()
    for name in PRELOADED.split():
        importlib.import_module(name)
    sandbox_program.prepare()
    gc.collect()
    gc.freeze()  # children share the pre-imported heap instead of copying it on first GC
    problem = filter_problem()
    send(sock, {"ready": True} if problem is None else {"ready": False, "error": problem})
    program = spare = None
    while True:
        message, fds = receive(sock)
        if message is None:
            break
        if message["op"] == "begin":
            program = begin_program(config, message)
        elif message["op"] == "test":
            spare = run_test(sock, config, program, message, fds, init, spare)
        elif message["op"] == "end":
            end_program(config, program)
            program = None


if __name__ == "__main__":
    main()
