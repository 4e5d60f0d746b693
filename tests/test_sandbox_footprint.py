"""A program's whole footprint stays its own and ends with it: the syscall filter, a fresh IPC namespace,
a read-only system, an init deaf to signals, a zygote that reaps everything and runs no program code;
and legitimate programs still behave as under ``python main.py``.

Runs as root, and again as uid 65534 from test_sandbox.py's ``test_the_same_attacks_as_an_unprivileged_user``.
"""

from __future__ import annotations

import platform
import re
import subprocess
import textwrap
from pathlib import Path

import pytest

from codegen_lab.paths import REPO_ROOT
from evaluation.judge import POOL, JudgeJob, TestCase, bwrap_usable, judge
from evaluation.judge.isolation import sandbox_python
from evaluation.judge.sandbox import Worker
from tests.helpers import CORRECT, SUM, programs_left, verdicts

pytestmark = pytest.mark.skipif(not bwrap_usable(), reason="bubblewrap cannot run here")
FILTER = REPO_ROOT / "evaluation" / "judge" / "sandbox_filter.py"

SYSCALL_BATTERY = """
import ctypes, os, socket, fcntl
libc = ctypes.CDLL(None, use_errno=True)
REFUSED = {refused!r}
got = {{}}
for name, number in sorted(REFUSED.items()):
    if name in ('fork', 'vfork'):
        continue  # (os.fork below)
    result = libc.syscall(number, 0, 0, 0, 0, 0, 0)
    got[name] = 'ok' if result >= 0 else os.strerror(ctypes.get_errno())
got['clone3'] = libc.syscall({clone3}, 0, 0) >= 0 or os.strerror(ctypes.get_errno())
pid = libc.syscall({clone}, 0x8000 | 17, 0, 0, 0, 0)  # CLONE_PARENT | SIGCHLD: a child of the zygote
if pid == 0:
    os._exit(0)
got['clone(CLONE_PARENT)'] = 'ok' if pid > 0 else os.strerror(ctypes.get_errno())
for name, attempt in (
    ('fork', os.fork),
    ('netlink', lambda: socket.socket(socket.AF_NETLINK, socket.SOCK_RAW)),
    ('F_SETPIPE_SZ', lambda: fcntl.fcntl(1, 1031, 1 << 20)),
    ('memfd', lambda: os.memfd_create('x')),
):
    try:
        result = attempt()
        if result == 0:
            os._exit(0)
        got[name] = 'ok'
    except OSError as error:
        got[name] = os.strerror(error.errno)
print(sorted((name, why) for name, why in got.items() if why != {expected!r}))
"""


def battery_numbers() -> dict:
    """The filter's own tables (REFUSED, CHECKED), read from its file as the zygote loads it."""
    namespace: dict = {}
    exec(FILTER.read_text(), namespace)
    return namespace


def battery(expected_errno: str = "Operation not permitted") -> str:
    namespace = battery_numbers()
    machine = platform.machine()
    code = SYSCALL_BATTERY.format(
        refused=namespace["REFUSED"][machine],
        clone3=namespace["CHECKED"][machine]["clone3"],
        clone=namespace["CHECKED"][machine]["clone"],
        expected=expected_errno,
    )
    return code


def test_every_way_out_of_one_process_is_refused():
    """New processes, namespaces, mounts, ptrace, memfd, io_uring, userfaultfd, bpf, perf, keys, IPC ..."""
    POOL.close()
    judge([CORRECT], workers=1)
    (worker,) = POOL.idle["bwrap"]
    (result,) = judge([JudgeJob(battery(), [TestCase("", "[('clone3', 'Function not implemented')]\n")])])
    assert [v.verdict for v in result] == ["AC"]
    assert programs_left(worker) == 0  # no zombie of the zygote


def test_the_filter_numbers_are_the_kernel_headers():
    headers = {"x86_64": "/usr/include/x86_64-linux-gnu/asm/unistd_64.h"}
    header = Path(headers.get(platform.machine(), "/nonexistent"))
    if not header.is_file():
        pytest.skip("no kernel headers for this architecture")
    numbers = dict(re.findall(r"#define __NR_(\w+)\s+(\d+)", header.read_text()))
    namespace: dict = {}
    exec(FILTER.read_text(), namespace)
    table = namespace["REFUSED"]["x86_64"] | namespace["CHECKED"]["x86_64"]
    assert {name: str(number) for name, number in table.items()} == {name: numbers[name] for name in table}


def test_memory_outside_the_address_space_limit_is_refused():
    """memfd + fallocate, or children holding memory each, once held GBs beyond memory_mb."""
    memfd = """
    import os
    fd = os.memfd_create('hold')
    os.posix_fallocate(fd, 0, 768 << 20)
    print('held')
    """
    assert verdicts(memfd, [TestCase("", "held\n")], memory_mb=64) == ["RE"]
    children = """
    import os, time
    for _ in range(4):
        if os.fork() == 0:
            block = bytearray(800 << 20)
            time.sleep(5)
            os._exit(0)
    print('held')
    """
    assert verdicts(children, [TestCase("", "held\n")]) == ["RE"]


def test_the_system_is_read_only_and_the_next_program_unharmed():
    writer = """
    import os
    written = []
    for path in ('/left-behind', '/judge/left-behind', '/dev/left-behind', '/usr/left-behind',
                 '/sandbox/left-behind'):
        try:
            open(path, 'w').write('x')
            written.append(path)
        except OSError:
            pass
    for link in ('/dev/stdin', '/dev/stdout'):
        try:
            os.unlink(link)
            os.symlink('/dev/null', link)
            written.append(link)
        except OSError:
            pass
    print(written)
    """
    legit = (
        "import sys\nprint(sum(map(int, open('/dev/stdin').read().split())), file=open('/dev/stdout', 'w'))"
    )
    results = judge(
        [JudgeJob(textwrap.dedent(writer), [TestCase("", "[]\n")]), JudgeJob(legit, SUM)] * 2, workers=1
    )
    assert [[v.verdict for v in r] for r in results] == [["AC"], ["AC", "AC"]] * 2


def test_init_survives_every_signal_a_program_sends_it():
    code = """
    import os, signal, time
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGUSR1, signal.SIGQUIT):
        try:
            os.kill(1, signum)
        except OSError:
            pass
    time.sleep(0.2)
    print(os.path.exists('/proc/1'))
    """
    results = judge([JudgeJob(textwrap.dedent(code), [TestCase("", "True\n")]), CORRECT] * 2, workers=1)
    assert [[v.verdict for v in r] for r in results] == [["AC"], ["AC", "AC"]] * 2


ZOMBIES = """
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
for _ in range(80):  # CLONE_PARENT | SIGCHLD: children of the zygote, which only the zygote could reap
    if libc.syscall({clone}, 0x8000 | 17, 0, 0, 0, 0) == 0:
        os._exit(0)
print('x')
"""


def test_threads_still_work_after_attacks_on_the_same_worker():
    """Zombies a program tries to leave the zygote would use up the next programs' task limit."""
    threads = """
    import threading
    done = []
    workers = [threading.Thread(target=done.append, args=(i,)) for i in range(40)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    print(len(done))
    """
    clone = battery_numbers()["CHECKED"][platform.machine()]["clone"]
    attacks = [
        JudgeJob(battery(), [TestCase("", "x\n")]),
        JudgeJob(ZOMBIES.format(clone=clone), [TestCase("", "x\n")]),
    ]
    jobs = attacks * 2 + [JudgeJob(textwrap.dedent(threads), [TestCase("", "40\n")])]
    results = judge(jobs, workers=1)
    assert [v.verdict for v in results[-1]] == ["AC"]


def test_the_rlimit_zygote_runs_no_program_code(tmp_path):
    """Modules a program plants in its folder are never imported by the zygote (once: shutil, as root)."""
    tmp_path.chmod(0o700)  # the zygote's to write (as root: not the program's private uid)
    marker = tmp_path / "zygote-ran-program-code"
    planted = f"open({str(marker)!r}, 'w').write('x')\n"
    names = ("shutil", "json", "os", "tempfile", "traceback", "signal", "select", "contextlib", "atexit")
    plant = f"""
    for name in {names!r}:
        open(name + '.py', 'w').write({planted!r})
    print('planted')
    """
    jobs = [JudgeJob(textwrap.dedent(plant), [TestCase("", "planted\n")]), CORRECT]
    results = judge(jobs, workers=1, sandbox="rlimit")
    assert [[v.verdict for v in r] for r in results] == [["AC"], ["AC", "AC"]]
    POOL.close()
    assert not marker.exists()


STDIO_PROBE = """
import atexit, signal, sys, threading
atexit.register(print, 'atexit ran')
print(signal.getsignal(signal.SIGINT) is signal.default_int_handler, signal.getsignal(signal.SIGPIPE))
line = input()
rest = [l for l in sys.stdin]
print(repr(line), rest, sys.stdin.errors, sys.stdout.errors, sys.stdin.newlines)
sys.stdout.flush()
sys.stdout.buffer.write(b'bytes\\n')
sys.stdout.buffer.flush()
open('/dev/stdin').close()  # (a pipe there, a file here: what is left to read differs)
print('/dev/stdin opens')
out = open('/dev/stdout', 'w')
out.write('via /dev/stdout\\n')
out.close()
threading.stack_size(256 << 20)
def deep(n):
    return n if n == 0 else deep(n - 1)
sys.setrecursionlimit(200000)
result = []
t = threading.Thread(target=lambda: result.append(deep(100000)))
t.start(); t.join()
array = bytearray(300 << 20)
print(result, len(array))
print(callable(exit), callable(quit), any(path.endswith('site-packages') for path in sys.path))  # site's
exit()
"""


def test_legitimate_programs_see_what_python_main_py_sees(tmp_path):
    stdin = "ab\r\ncd\rx\nlast"
    main = tmp_path / "main.py"
    main.write_text(STDIO_PROBE)
    env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}
    expected = subprocess.run(
        [sandbox_python(), str(main)], input=stdin.encode(), capture_output=True, env=env, timeout=60
    )
    assert expected.returncode == 0, expected.stderr
    assert b"'ab\\r'" in expected.stdout  # the probe sees the "\r" there
    judged = judge(
        [JudgeJob(STDIO_PROBE, [TestCase(stdin, expected.stdout.decode())])], workers=1, semantics="plain"
    )
    assert [v.verdict for v in judged[0]] == ["AC"]


def test_a_lone_surrogate_is_that_programs_syntax_error_not_the_batchs():
    results = judge([JudgeJob("print('\ud800')", SUM[:1]), CORRECT], workers=1)
    assert [[(v.verdict, v.detail) for v in r] for r in results] == [
        [("RE", "SyntaxError")],
        [("AC", ""), ("AC", "")],
    ]


def test_a_failure_inside_the_judge_is_that_programs_re(monkeypatch):
    from evaluation.judge import checker

    real = checker.stdout_matches

    def exhausted(expected: str, actual: str) -> bool:
        if actual.startswith("huge"):
            raise MemoryError
        return real(expected, actual)

    monkeypatch.setattr(checker, "stdout_matches", exhausted)
    results = judge([JudgeJob("print('huge')", SUM[:1]), CORRECT], workers=1)
    assert [[(v.verdict, v.detail) for v in r] for r in results] == [
        [("RE", "judge error: MemoryError")],
        [("AC", ""), ("AC", "")],
    ]


RANDOMNESS = """
import random, threading
print(random.getrandbits(64), threading.main_thread().native_id == threading.get_native_id())
"""


def test_each_run_draws_its_own_randomness_as_a_fresh_python_does():
    """Programs are forked from one zygote without CPython's after-fork hooks: the seed is still fresh."""
    worker = Worker("bwrap")
    try:
        outputs = []
        for _ in range(2):
            with worker.program(RANDOMNESS, None, 6.0, 1024, "plain") as program:
                outputs += [program.run("").stdout for _ in range(2)]
    finally:
        worker.close()
    assert all(out.endswith(b" True\n") for out in outputs), outputs
    assert len(set(outputs)) == 4, outputs
