"""The syscall filter every program runs under (seccomp-bpf), built once in the zygote, installed per test.

A hand-written classic-BPF program, not libseccomp or bubblewrap's ``--seccomp``: the zygote forks the
programs itself, so a filter on the whole sandbox would also refuse the zygote its own forks, and
installing ~130 instructions prepared in the zygote with one ``prctl`` after the fork costs a fraction of a millisecond
and needs no library inside the sandbox. What it refuses bounds a program's footprint to one process: no new process
(``clone`` only for threads; ``fork``/``vfork`` EPERM; ``clone3`` ENOSYS, so glibc falls back to
``clone`` for its threads), no namespaces or mounts, no ptrace or cross-process memory, no memory
outside its address-space limit (memfd, io_uring, AIO, userfaultfd), no bpf/perf, no keys, no SysV or
POSIX IPC, no sockets beyond unix/inet, no bigger pipe buffers. Another architecture or ABI is killed.
Loaded by the zygote from its own folder inside the sandbox; never imported by the evaluator.
"""

import ctypes
import os
import platform
import struct

# Syscall numbers, from the kernel's unistd headers (tests/test_sandbox.py checks them where present).
REFUSED = {
    "x86_64": {
        "fork": 57, "vfork": 58, "unshare": 272, "setns": 308, "mount": 165, "umount2": 166,
        "pivot_root": 155, "chroot": 161, "open_tree": 428, "move_mount": 429, "fsopen": 430,
        "fsconfig": 431, "fsmount": 432, "fspick": 433, "mount_setattr": 442, "ptrace": 101,
        "process_vm_readv": 310, "process_vm_writev": 311, "process_madvise": 440, "pidfd_getfd": 438,
        "kcmp": 312, "memfd_create": 319, "memfd_secret": 447, "io_uring_setup": 425,
        "io_uring_enter": 426, "io_uring_register": 427, "userfaultfd": 323, "bpf": 321,
        "perf_event_open": 298, "keyctl": 250, "add_key": 248, "request_key": 249, "shmget": 29,
        "shmat": 30, "shmctl": 31, "shmdt": 67, "semget": 64, "semop": 65, "semctl": 66,
        "semtimedop": 220, "msgget": 68, "msgsnd": 69, "msgrcv": 70, "msgctl": 71, "mq_open": 240,
        "mq_unlink": 241, "mq_timedsend": 242, "mq_timedreceive": 243, "mq_notify": 244,
        "mq_getsetattr": 245, "io_setup": 206, "io_destroy": 207, "io_submit": 209, "io_cancel": 210,
        "io_getevents": 208, "io_pgetevents": 333, "open_by_handle_at": 304, "name_to_handle_at": 303,
        "fanotify_init": 300,
    },
    "aarch64": {
        "unshare": 97, "setns": 268, "mount": 40, "umount2": 39, "pivot_root": 41, "chroot": 51,
        "open_tree": 428, "move_mount": 429, "fsopen": 430, "fsconfig": 431, "fsmount": 432,
        "fspick": 433, "mount_setattr": 442, "ptrace": 117, "process_vm_readv": 270,
        "process_vm_writev": 271, "process_madvise": 440, "pidfd_getfd": 438, "kcmp": 272,
        "memfd_create": 279, "memfd_secret": 447, "io_uring_setup": 425, "io_uring_enter": 426,
        "io_uring_register": 427, "userfaultfd": 282, "bpf": 280, "perf_event_open": 241,
        "keyctl": 219, "add_key": 217, "request_key": 218, "shmget": 194, "shmat": 196, "shmctl": 195,
        "shmdt": 197, "semget": 190, "semop": 193, "semctl": 191, "semtimedop": 192, "msgget": 186,
        "msgsnd": 189, "msgrcv": 188, "msgctl": 187, "mq_open": 180, "mq_unlink": 181,
        "mq_timedsend": 182, "mq_timedreceive": 183, "mq_notify": 184, "mq_getsetattr": 185,
        "io_setup": 0, "io_destroy": 1, "io_submit": 2, "io_cancel": 3, "io_getevents": 4,
        "io_pgetevents": 292, "open_by_handle_at": 265, "name_to_handle_at": 264, "fanotify_init": 262,
    },
}  # fmt: skip
CHECKED = {  # syscalls allowed only with some arguments: clone, clone3, socket, fcntl
    "x86_64": {"clone": 56, "clone3": 435, "socket": 41, "fcntl": 72},
    "aarch64": {"clone": 220, "clone3": 435, "socket": 198, "fcntl": 25},
}
AUDIT_ARCH = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7}
X32_SYSCALL_BIT = 0x40000000

CLONE_VM, CLONE_SIGHAND, CLONE_THREAD = 0x100, 0x800, 0x10000
THREAD_FLAGS = CLONE_VM | CLONE_SIGHAND | CLONE_THREAD  # what makes a clone a thread of this process
# CLONE_PARENT, CLONE_PTRACE, CLONE_UNTRACED, and every CLONE_NEW* namespace
NOT_IN_A_THREAD = 0x8000 | 0x2000 | 0x800000 | 0x80 | 0x20000 | 0x02000000 | 0x04000000
NOT_IN_A_THREAD |= 0x08000000 | 0x10000000 | 0x20000000 | 0x40000000
SOCKET_FAMILIES = (1, 2, 10)  # AF_UNIX, AF_INET, AF_INET6 (no network in the namespace anyway)
F_SETPIPE_SZ = 1031

LD_ABS, JEQ, JGE, JSET, AND, RET = 0x20, 0x15, 0x35, 0x45, 0x54, 0x06
ALLOW, KILL = 0x7FFF0000, 0x80000000
EPERM, ENOSYS = 0x00050000 | 1, 0x00050000 | 38
NR, ARCH = 0, 4  # offsets in struct seccomp_data


def arg(index: int) -> int:
    return 16 + 8 * index  # the low 32 bits (little-endian) of the argument


def op(code: int, k: int, jt: int = 0, jf: int = 0) -> tuple:
    return code, jt, jf, k


def filter_program(machine: str | None = None) -> bytes:
    """The filter for this machine as struct sock_filter[] bytes; ValueError for an unknown architecture."""
    machine = machine or platform.machine()
    if machine not in REFUSED:
        raise ValueError(f"no syscall filter for the {machine} architecture (x86_64 and aarch64 only)")
    numbers = CHECKED[machine]
    program = [op(LD_ABS, ARCH), op(JEQ, AUDIT_ARCH[machine], 1, 0), op(RET, KILL), op(LD_ABS, NR)]
    program += [op(JGE, X32_SYSCALL_BIT, 0, 1), op(RET, KILL)]
    for number in sorted(REFUSED[machine].values()):
        program += [op(JEQ, number, 0, 1), op(RET, EPERM)]
    program += [op(JEQ, numbers["clone3"], 0, 1), op(RET, ENOSYS)]
    program += [  # clone: a thread, and nothing else
        op(JEQ, numbers["clone"], 0, 6), op(LD_ABS, arg(0)), op(JSET, NOT_IN_A_THREAD, 3, 0),
        op(AND, THREAD_FLAGS), op(JEQ, THREAD_FLAGS, 0, 1), op(RET, ALLOW), op(RET, EPERM),
    ]  # fmt: skip
    program += [op(JEQ, numbers["socket"], 0, 6), op(LD_ABS, arg(0))]
    program += [op(JEQ, family, 3 - i, 0) for i, family in enumerate(SOCKET_FAMILIES)]
    program += [op(RET, EPERM), op(RET, ALLOW)]
    program += [op(JEQ, numbers["fcntl"], 0, 4), op(LD_ABS, arg(1)), op(JEQ, F_SETPIPE_SZ, 0, 1)]
    program += [op(RET, EPERM), op(RET, ALLOW), op(RET, ALLOW)]
    return b"".join(struct.pack("HBBI", *instruction) for instruction in program)


class SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


PR_SET_NO_NEW_PRIVS, PR_SET_SECCOMP, SECCOMP_MODE_FILTER = 38, 22, 2
_libc = ctypes.CDLL(None, use_errno=True)


def prepared(program: bytes) -> SockFprog:
    """The filter as the kernel takes it, made once in the zygote: a forked program then only calls prctl
    (building it there cost each program ~0.4 ms of page faults, measured, more than the kernel's part)."""
    buffer = ctypes.create_string_buffer(program, len(program))
    fprog = SockFprog(len(program) // 8, ctypes.addressof(buffer))
    fprog.instructions = buffer  # alive as long as the struct that points at it
    return fprog


def install(fprog: SockFprog) -> None:
    """Put this process (and every thread it will start) under the filter, for good."""
    if (
        _libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0
        or _libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(fprog), 0, 0) != 0
    ):
        error = ctypes.get_errno()
        raise OSError(error, f"installing the syscall filter: {os.strerror(error)}")
