"""Hostile programs in both isolation modes: each gets a verdict and the judge keeps working."""

import os
import socket
import textwrap
import threading

import pytest

from evaluation.judge import JudgeJob, TestCase, judge
from evaluation.sandbox import Worker, bwrap_usable

MODES = [
    pytest.param("bwrap", marks=pytest.mark.skipif(not bwrap_usable(), reason="bubblewrap unusable here")),
    "rlimit",
]
ROOT = os.geteuid() == 0
ECHO = JudgeJob("print(input())", [TestCase("ok\n", "ok\n")])  # proves the judge still works afterwards


def run(code: str, mode: str, expected: str = "done\n", time_limit: float = 2.0, memory_mb: int = 1024):
    verdicts = judge(
        [JudgeJob(textwrap.dedent(code), [TestCase("", expected)]), ECHO],
        time_limit=time_limit,
        workers=1,
        memory_mb=memory_mb,
        sandbox=mode,
    )
    assert [v.verdict for v in verdicts[1]] == ["AC"], "the judge must survive the hostile program"
    return verdicts[0][0]


@pytest.fixture(params=MODES)
def mode(request):
    return request.param


def test_infinite_loop_is_tle(mode):
    verdict = run("while True:\n    pass\n", mode, time_limit=1.0)
    assert verdict.verdict == "TLE" and 1.0 <= verdict.seconds < 2.0


def test_sleeping_child_that_escapes_its_group_is_killed(mode):
    verdict = run(
        """
        import os, time
        if os.fork() == 0:
            os.setsid()
            time.sleep(100)
        time.sleep(100)
        """,
        mode,
        time_limit=1.0,
    )
    assert verdict.verdict == "TLE"


def test_fork_bomb(mode):
    verdict = run(
        """
        import os
        while True:
            try:
                os.fork()
            except OSError:
                pass
        """,
        mode,
        time_limit=1.0,
    )
    assert verdict.verdict in ("TLE", "RE")


def test_huge_output_is_ole(mode):
    assert run("while True:\n    print('x' * 10000)\n", mode).verdict == "OLE"


def test_memory_hog_is_mle(mode):
    assert run("x = bytearray(3 * 10**9)\n", mode).verdict == "MLE"
    grower = "blocks = []\nwhile True:\n    blocks.append(b'x' * 10**7)\n"
    assert run(grower, mode, memory_mb=128, time_limit=6.0).verdict == "MLE"


def test_big_file_is_refused(mode):
    verdict = run("with open('big', 'wb') as f:\n    f.write(b'0' * 10**8)\nprint('done')\n", mode)
    assert verdict.verdict in ("RE", "OLE")


def test_secrets_do_not_reach_the_program(mode, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", "hf_secret_value")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret")
    code = """
    import os
    leaked = [k for k, v in os.environ.items() if 'secret' in v or 'TOKEN' in k or 'KEY' in k]
    print('done' if not leaked else leaked)
    """
    assert run(code, mode).verdict == "AC"


@pytest.mark.skipif(not ROOT, reason="without root the fallback cannot switch uid")
def test_no_writes_reads_or_deletes_outside(mode, tmp_path):
    secret = tmp_path / "private.txt"
    secret.write_text("secret")
    target = tmp_path / "written.txt"
    code = f"""
    import os
    blocked = 0
    for attempt in (lambda: open({str(target)!r}, 'w').write('x'),
                    lambda: open({str(secret)!r}).read(),
                    lambda: os.remove({str(secret)!r}),
                    lambda: open(os.path.expanduser('~/../pwned'), 'w'),
                    lambda: open('/usr/pwned', 'w')):
        try:
            attempt()
        except OSError:
            blocked += 1
    open('local.txt', 'w').write('fine')  # its own working dir is writable
    print('done' if blocked == 5 else blocked)
    """
    assert run(code, mode).verdict == "AC"
    assert secret.read_text() == "secret" and not target.exists()


def test_no_network_in_bwrap():
    if not bwrap_usable():
        pytest.skip("bubblewrap unusable here")
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    port = server.getsockname()[1]
    code = f"""
    import socket
    try:
        socket.create_connection(('127.0.0.1', {port}), timeout=1)
        print('connected')
    except OSError:
        print('done')
    """
    try:
        assert run(code, "bwrap").verdict == "AC"
    finally:
        server.close()


@pytest.mark.parametrize(
    "attack",
    [
        "os.kill(os.getppid(), signal.SIGKILL)",
        "os.killpg(0, signal.SIGKILL)",
        "os.kill(-1, signal.SIGKILL)",
        "os.kill(1, signal.SIGKILL)",
    ],
)
def test_cannot_kill_the_judge(mode, attack):
    if not ROOT and mode == "rlimit" and "-1" in attack:
        pytest.skip("without root the fallback cannot stop kill(-1) of same-user processes")
    code = f"import os, signal\ntry:\n    {attack}\nexcept OSError:\n    pass\nprint('done')\n"
    verdict = run(code, mode)
    assert verdict.verdict in ("AC", "RE")
    assert os.getpid()  # we are alive, and run() checked the worker still judges


@pytest.mark.skipif(not ROOT, reason="process limits need a private uid")
def test_thread_limit(mode):
    code = """
    import threading, time
    threads = [threading.Thread(target=time.sleep, args=(3,), daemon=True) for _ in range(500)]
    for t in threads:
        t.start()
    print('done')
    """
    assert run(code, mode).verdict == "RE"


def test_worker_restarts_after_dying(mode):
    worker = Worker(mode)
    try:
        tests = [["1\n", "1\n", "stdin"]]
        assert [r["verdict"] for r in worker.run("print(input())", tests, None, 2.0, 256)] == ["AC"]
        worker.process.kill()  # dies while idle: the next job gets a fresh worker, not the blame
        worker.process.wait()
        assert [r["verdict"] for r in worker.run("print(input())", tests, None, 2.0, 256)] == ["AC"]
        threading.Timer(0.5, worker.process.kill).start()  # dies during a job: that job gets an RE
        died = list(worker.run("import time\ntime.sleep(3)", tests, None, 5.0, 256))
        assert died[0]["verdict"] == "RE" and "died" in died[0]["detail"]
        assert [r["verdict"] for r in worker.run("print(input())", tests, None, 2.0, 256)] == ["AC"]
    finally:
        worker.close()
