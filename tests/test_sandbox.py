"""Hostile programs against the default sandbox, as an attacker would write them: nothing to find (the
expected output is a random token no program can compute), nothing carries over, nothing survives, no
program changes another's verdict, and every limit holds.

The module runs as root, and then once more as an unprivileged user (uid 65534, how a Space runs) through
``setpriv`` in ``test_the_same_attacks_as_an_unprivileged_user``; each run asserts the isolation it got.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from codegen_lab.paths import REPO_ROOT
from evaluation.judge import POOL, SandboxUnavailable, TestCase, bwrap_usable, judge, sandbox_record
from evaluation.judge.sandbox import MAX_TASKS, Worker
from tests.helpers import CORRECT, SUM, job, programs_left, verdicts

ROOT = os.geteuid() == 0
AS_NOBODY = "CODEGEN_LAB_TEST_UNPRIVILEGED"
pytestmark = pytest.mark.skipif(not bwrap_usable(), reason="bubblewrap cannot run here")
UNPRIVILEGED_RERUN = ("test_sandbox.py", "test_sandbox_footprint.py")  # both modules, again as uid 65534


def secret_tests() -> list[TestCase]:
    """Tests whose answers are random tokens: only a program that steals them can pass."""
    return [TestCase(f"{i}\n", f"TOKEN{secrets.token_hex(16)}\n") for i in range(3)]


def test_the_isolation_is_the_strongest_this_host_offers():
    record = sandbox_record()
    assert record["isolation"] == ("bwrap-root" if ROOT else "bwrap-userns")
    assert "no network" in record["guarantees"]


STACK_AND_GC_WALK = """
import gc, re, sys
own = sys.stdin.read()  # a token of its own input: proves the walk finds what is there
found = set()
frame = sys._getframe()
while frame is not None:
    for value in list(frame.f_locals.values()) + list(frame.f_globals.values()):
        found.update(re.findall(r"TOKEN[0-9a-f]{32}", repr(value)))
    frame = frame.f_back
for obj in gc.get_objects():
    try:
        found.update(re.findall(r"TOKEN[0-9a-f]{32}", repr(obj)[:100000]))
    except Exception:
        pass
found.discard(own.strip())
print(sorted(found)[0] if found else own.strip())
"""

MEMORY_SCAN = """
import os, re, sys
own = sys.stdin.buffer.read()  # a token of its own input: proves the scan finds what is there
found = set()
for pid in [p for p in os.listdir('/proc') if p.isdigit()] + ['self']:
    try:
        maps = open(f'/proc/{pid}/maps').read().splitlines()
        mem = open(f'/proc/{pid}/mem', 'rb')
    except OSError:
        continue
    for line in maps:
        start, end = (int(x, 16) for x in line.split()[0].split('-'))
        if 'r' not in line.split()[1] or end - start > 1 << 28:
            continue
        try:
            mem.seek(start)
            found.update(re.findall(rb'TOKEN[0-9a-f]{32}', mem.read(end - start)))
        except (OSError, ValueError, OverflowError):
            pass
found.discard(own.strip())
print(sorted(found)[0].decode() if found else own.strip().decode())
"""


@pytest.mark.parametrize("attack", [STACK_AND_GC_WALK, MEMORY_SCAN], ids=["stack-and-gc", "proc-mem"])
def test_nothing_to_find_in_memory(attack):
    control = f"TOKEN{secrets.token_hex(16)}"
    assert verdicts(attack, [TestCase(control + "\n", control + "\n")]) == ["AC"]  # the attack works
    assert verdicts(attack, [TestCase(control + "\n", test.output) for test in secret_tests()]) == ["WA"]


def test_it_sees_no_other_process_and_no_secret(tmp_path, monkeypatch):
    token_file = tmp_path / "token"
    token_file.write_text("hf_secret_value")
    token_file.chmod(0o644)
    monkeypatch.setenv("HF_TOKEN", "hf_secret_value")
    code = f"""
    import os
    others = [p for p in os.listdir('/proc') if p.isdigit() and p not in ('1', str(os.getpid()))]
    leaked = [k for k, v in os.environ.items() if 'secret' in v or 'TOKEN' in k]
    leaked += [x for x in open('/proc/self/environ', 'rb').read().split(b'\\0') if b'secret' in x]
    try:
        leaked.append(open({str(token_file)!r}).read())
    except OSError:
        pass
    try:  # PID 1 is the namespace's init: not the program's to read
        open('/proc/1/environ', 'rb').read()
        init_readable = True
    except OSError:
        init_readable = False
    print(others, os.getppid(), init_readable, leaked)
    """
    assert verdicts(code, [TestCase("", "[] 0 False []\n")]) == ["AC"]


FD_AND_SIGNAL_ATTACK = """
import os, signal, json
frame = json.dumps({"status": 0, "seconds": 0, "timed_out": False, "maxrss_kb": 0}).encode()
for pid in os.listdir('/proc'):
    for fd in (os.listdir(f'/proc/{pid}/fd') if pid.isdigit() else []):
        try:
            with open(f'/proc/{pid}/fd/{fd}', 'wb', buffering=0) as f:
                f.write(b'3\\n42\\n' + frame)
        except OSError:
            pass
for fd in range(3, 1024):
    try:
        os.write(fd, frame)
    except OSError:
        pass
for attack in (lambda: os.kill(-1, signal.SIGKILL), lambda: os.killpg(0, signal.SIGKILL),
               lambda: os.kill(1, signal.SIGKILL), lambda: os.kill(os.getppid(), signal.SIGKILL)):
    try:
        attack()
    except OSError:
        pass
print("x")
"""


def test_no_program_changes_another_programs_verdict():
    hostile = job(FD_AND_SIGNAL_ATTACK, secret_tests())
    jobs = [hostile, CORRECT] * 4
    results = judge(jobs, workers=2)
    assert [[v.verdict for v in r] for r in results[1::2]] == [["AC", "AC"]] * 4
    assert all(r[0].verdict in ("WA", "RE") for r in results[::2])


def test_nothing_it_starts_survives_it():
    POOL.close()
    judge([CORRECT], workers=1)
    (worker,) = POOL.idle["bwrap"]
    assert programs_left(worker) == 0
    lingering = """
    import os, time
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            time.sleep(60)
        os._exit(0)
    time.sleep(0.2)
    print(3)
    """
    assert verdicts(lingering, SUM[:1]) == ["RE"]  # a new process is refused (sandbox_filter.py)
    (worker,) = POOL.idle["bwrap"]
    assert programs_left(worker) == 0


LEAVER = """
import os
for folder in ('.', '/tmp', '/dev/shm'):
    open(os.path.join(folder, 'left-behind'), 'w').write('x')
    os.symlink('/judge', os.path.join(folder, 'link'))  # removed, never followed
    os.makedirs(os.path.join(folder, 'shut', 'inner'))
    open(os.path.join(folder, 'shut', 'inner', 'f'), 'w').write('x')
    os.chmod(os.path.join(folder, 'shut', 'inner'), 0)
    os.chmod(os.path.join(folder, 'shut'), 0)
    try:
        os.setxattr(folder, 'user.note', b'for the next one')
    except OSError:  # a kernel whose tmpfs has no user xattrs
        pass
    os.utime(folder, (12345, 12345))
    os.chmod(folder, 0o777)
print(3)
"""
FINDER = """
import os
folders = ('.', '/tmp', '/dev/shm')
print([os.listdir(f) for f in folders], [os.listxattr(f) for f in folders],
      [oct(os.stat(f).st_mode & 0o7777) for f in folders], [os.stat(f).st_mtime == 12345 for f in folders])
"""
TOUCHER = """
import os
for folder in ('.', '/tmp', '/dev/shm'):
    try:
        os.setxattr(folder, 'user.note', b'for the next one')
    except OSError:
        pass
    os.utime(folder, (12345, 12345))
    os.chmod(folder, 0o777)
print(3)
"""
FOUND_NOTHING = TestCase("", "[[], [], []] [[], [], []] ['0o711', '0o711', '0o711'] [False, False, False]\n")


def test_nothing_carries_over_to_the_next_program():
    """Its files, links, shut folders, attributes, modes and times: the next program on the worker sees
    none, and the worker was emptied, not replaced."""
    POOL.close()
    judge([CORRECT], workers=1)
    (worker,) = POOL.idle["bwrap"]
    started = worker.process.pid
    finder = job(FINDER, [FOUND_NOTHING])
    results = judge([job(LEAVER, SUM[:1]), finder, job(TOUCHER, SUM[:1]), finder], workers=1)
    assert [[v.verdict for v in r] for r in results] == [["AC"], ["AC"]] * 2
    assert worker.process.pid == started


def test_what_cannot_be_emptied_costs_its_worker_not_the_next_program():
    """Folders nested past PATH_MAX defeat the emptying: the worker retires, the next one starts clean."""
    nester = """
    import os
    for _ in range(40):
        os.mkdir('d' * 200)
        os.chdir('d' * 200)
    open('deep', 'w').write('x')
    print(3)
    """
    results = judge([job(nester, SUM[:1]), job(FINDER, [FOUND_NOTHING]), CORRECT], workers=1)
    assert [[v.verdict for v in r] for r in results] == [["AC"], ["AC"], ["AC", "AC"]]


def test_disk_written_is_capped_per_program_not_per_file():
    """256 MB for cwd, /tmp and /dev/shm together, and all of it again for the next program."""
    fill = """
    import os
    written = 0
    try:
        for i in range(40):
            for folder in ('.', '/tmp', '/dev/shm'):
                with open(f'{folder}/f{i}', 'wb') as f:
                    for _ in range(16):
                        f.write(b'0' * (1 << 20))
                        written += 1 << 20
    except OSError:
        pass
    print('capped' if 200 << 20 <= written <= 300 << 20 else written)
    """
    results = judge([job(fill, [TestCase("", "capped\n")])] * 2, workers=1)
    assert [[v.verdict for v in r] for r in results] == [["AC"], ["AC"]]


def test_processes_and_threads_are_capped():
    bomb = """
    import os, time
    started = 0
    try:
        while started < 300:
            if os.fork() == 0:
                time.sleep(30)
                os._exit(0)
            started += 1
    except OSError:
        pass
    print('capped' if started < 300 else started)
    """
    assert verdicts(bomb, [TestCase("", "capped\n")]) == ["AC"]
    threads = f"""
    import threading, time
    started = 0
    try:
        while started < 500:
            threading.Thread(target=time.sleep, args=(30,), daemon=True).start()
            started += 1
    except RuntimeError:
        pass
    print('capped' if started <= {MAX_TASKS} else started)
    """
    assert verdicts(threads, [TestCase("", "capped\n")]) == ["AC"]


def test_time_memory_and_output_limits():
    assert verdicts("while True:\n    pass\n", SUM[:1], time_limit=1.0) == ["TLE"]
    assert verdicts("import time\ntime.sleep(30)\n", SUM[:1], time_limit=1.0) == ["TLE"]
    assert verdicts("x = bytearray(3 * 10**9)\n", SUM[:1]) == ["MLE"]
    grower = "blocks = []\nwhile True:\n    blocks.append(b'x' * 10**7)\n"
    assert verdicts(grower, SUM[:1], memory_mb=128) == ["MLE"]
    assert verdicts("while True:\n    print('x' * 10000)\n", SUM[:1]) == ["OLE"]


def test_no_network():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    code = f"""
    import socket
    try:
        socket.create_connection(('127.0.0.1', {server.getsockname()[1]}), timeout=1)
        print('connected')
    except OSError:
        print(3)
    """
    try:
        assert verdicts(code, SUM[:1]) == ["AC"]
    finally:
        server.close()


def test_output_that_decimal_cannot_compare_is_a_wrong_answer():
    assert verdicts("print('sNaN')", [TestCase("", "1\n")]) == ["WA"]
    assert verdicts("print(1)", [TestCase("", "sNaN\n")]) == ["WA"]
    assert verdicts("print('1 sNaN')", [TestCase("", "1 NaN\n")]) == ["WA"]
    assert verdicts(CORRECT.code, SUM) == ["AC", "AC"]


def test_a_worker_lost_mid_job_is_replaced_and_the_job_judged_again():
    worker = Worker("bwrap")
    slow = job("import time\ntime.sleep(1)\na, b = map(int, input().split())\nprint(a + b)", SUM)
    try:
        worker.start()
        killer = subprocess.Popen(["sh", "-c", f"sleep 0.5; kill -9 {worker.process.pid}"])
        from evaluation.judge.runner import judge_job

        assert [v.verdict for v in judge_job(worker, slow, 6.0, 1024, "lcb")] == ["AC", "AC"]
        killer.wait()
    finally:
        worker.close()


def world_readable_copy(target: Path) -> Path:
    """pytest (with what it needs) and the judge's code, copied where any user can read them."""
    from importlib.metadata import distribution

    for name in ("pytest", "pluggy", "iniconfig", "packaging"):
        dist = distribution(name)
        for file in dist.files:
            source = Path(dist.locate_file(file))
            if source.is_file() and ".." not in file.parts and "bin" not in file.parts[:1]:
                (target / file).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(source, target / file)
    for package in ("evaluation", "codegen_lab"):  # the judge, and the benchmark module its TestCase is in
        shutil.copytree(REPO_ROOT / package, target / package, ignore=shutil.ignore_patterns("data"))
    (target / "tests").mkdir()
    for name in ("__init__.py", "helpers.py", *UNPRIVILEGED_RERUN):
        shutil.copy(REPO_ROOT / "tests" / name, target / "tests" / name)
    for folder, dirs, files in os.walk(target):
        for name in dirs + files:
            os.chmod(os.path.join(folder, name), 0o755 if name in dirs else 0o644)
    target.chmod(0o755)
    return target


def test_the_same_attacks_as_an_unprivileged_user():
    """This module and test_sandbox_footprint.py again as uid 65534 (the system Python: /root's interpreters are not theirs)."""
    if not ROOT or os.environ.get(AS_NOBODY):
        pytest.skip("runs once, from the root run")
    if shutil.which("setpriv") is None or not Path("/usr/bin/python3").is_file():
        pytest.fail("setpriv and /usr/bin/python3 are needed to re-run the attacks without root")
    home = Path(tempfile.mkdtemp(prefix="codegen-nobody-"))  # pytest's own tmp is root's alone
    home.chmod(0o777)
    copy = world_readable_copy(home / "code")  # the clone and its .venv may sit in a 0700 folder
    env = {"PATH": "/usr/bin:/bin", "HOME": str(home), "TMPDIR": str(home), AS_NOBODY: "1"}
    env["PYTHONPATH"] = str(copy)
    command = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "/usr/bin/python3", "-m"]
    command += ["pytest", "-q", "-p", "no:cacheprovider", "-o", "addopts=", "--noconftest"]
    command += [str(copy / "tests" / name) for name in UNPRIVILEGED_RERUN]
    try:
        result = subprocess.run(command, cwd=home, env=env, capture_output=True, text=True, timeout=600)
    finally:
        shutil.rmtree(home, ignore_errors=True)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert " passed" in result.stdout and "failed" not in result.stdout


def test_without_bubblewrap_it_refuses_unless_asked(tmp_path):
    script = (
        "from evaluation.judge import judge, JudgeJob, TestCase, sandbox_record\n"
        "try:\n    judge([JudgeJob('print(1)', [TestCase('', '1')])])\n"
        "except Exception as err:\n    print(type(err).__name__, err)\n"
        "print(sandbox_record('rlimit')['isolation'])\n"
        "print(judge([JudgeJob('print(1)', [TestCase('', '1')])], sandbox='rlimit')[0][0].verdict)\n"
    )
    env = {**os.environ, "PATH": str(tmp_path), "PYTHONPATH": str(REPO_ROOT)}
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60)
    lines = out.stdout.splitlines()
    assert lines[0].startswith(SandboxUnavailable.__name__) and "bubblewrap is not installed" in lines[0]
    assert "--sandbox rlimit" in lines[0] and "CODEGEN_LAB_SANDBOX=rlimit" in lines[0]
    assert lines[1:] == [f"rlimit-{'root' if ROOT else 'user'}", "AC"]
