"""Resource limits and filesystem/network confinement applied inside a worker.

Everything here runs in the freshly forked worker, before any student code:
``setrlimit`` for CPU, memory, file size and processes, and Landlock (an unprivileged
Linux security module) so the worker can read the Python installation and its own scratch
folder and nothing else: no hidden check, reference or mutant file, no TCP, no signals
to processes outside the sandbox. Where the kernel lacks Landlock the worker still runs,
and the report's environment says the filesystem was not confined.
"""

from __future__ import annotations

import ctypes
import functools
import os
import resource
import signal
import site
import stat
import sys
import sysconfig
from collections.abc import Iterable
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field


@functools.cache
def installation_roots() -> tuple[str, ...]:
    """What every worker may read besides its own files: the Python installation, system
    libraries and this package, as they exist (the zygote computes them once and every
    fork inherits them; the judge keeps nothing secret under them)."""
    package = str(Path(__file__).parents[1])  # autograder/, as the judge imported it
    roots = {
        sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix,
        sysconfig.get_paths()["stdlib"], sysconfig.get_paths()["purelib"],
        sysconfig.get_paths()["platlib"], package,
        "/usr/lib", "/usr/lib64", "/lib", "/lib64", "/usr/share", "/etc",
        "/dev/urandom", "/sys/devices/system/cpu",
    }
    roots.update(site.getsitepackages())
    return tuple(r for r in roots if r and os.path.exists(r))


_SYS_LANDLOCK_CREATE_RULESET = 444
_SYS_LANDLOCK_ADD_RULE = 445
_SYS_LANDLOCK_RESTRICT_SELF = 446
_LANDLOCK_CREATE_RULESET_VERSION = 1
_LANDLOCK_RULE_PATH_BENEATH = 1
_PR_SET_NO_NEW_PRIVS = 38

# Filesystem rights, by the Landlock ABI version that introduced them.
_FS_EXECUTE = 1 << 0
_FS_WRITE_FILE = 1 << 1
_FS_READ_FILE = 1 << 2
_FS_READ_DIR = 1 << 3
_FS_V1_ALL = (1 << 13) - 1
_FS_REFER = 1 << 13  # ABI 2
_FS_TRUNCATE = 1 << 14  # ABI 3
_FS_IOCTL_DEV = 1 << 15  # ABI 5
_NET_ALL = (1 << 0) | (1 << 1)  # ABI 4: bind and connect TCP
_SCOPE_ALL = (1 << 0) | (1 << 1)  # ABI 6: abstract unix sockets and signals

_READ_ONLY = _FS_EXECUTE | _FS_READ_FILE | _FS_READ_DIR
_FILE_RIGHTS = _FS_EXECUTE | _FS_WRITE_FILE | _FS_READ_FILE | _FS_TRUNCATE | _FS_IOCTL_DEV


class _RulesetAttr(ctypes.Structure):
    _fields_ = [
        ("handled_access_fs", ctypes.c_uint64),
        ("handled_access_net", ctypes.c_uint64),
        ("scoped", ctypes.c_uint64),
    ]


class _PathBeneathAttr(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


class Limits(BaseModel):
    """Every limit of grading one submission, with the one set of defaults.

    Read from ``[limits]`` in ``assignment.toml``. The wall-clock limits are enforced by the
    judge, from outside the worker; the others by the worker on itself, right after fork,
    before any student code (see :func:`apply_rlimits`).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    check_seconds: float = Field(20, gt=0, description="wall clock for one check")
    submission_seconds: float = Field(180, gt=0, description="wall clock for all checks of "
                                      "one submission")
    cpu_seconds: int = Field(300, gt=0, description="CPU time of one worker process")
    memory_mb: int = Field(3072, gt=0, description="memory a worker may allocate beyond its "
                           "start size")
    cell_seconds: float = Field(10, gt=0, description="wall clock for one notebook cell")
    notebook_seconds: float = Field(60, gt=0, description="wall clock for running all cells "
                                    "of a submitted notebook")
    file_size_mb: int = Field(16, gt=0, description="largest file a worker may write")
    max_processes: int = Field(64, gt=0, description="processes (and threads) of the user a "
                               "worker may have")
    open_files: int = Field(256, gt=0, description="files a worker may hold open")

    @property
    def operation_cpu_seconds(self) -> float:
        """CPU time of one operation. The same for every operation of a worker, whatever the
        judge's wall-clock limit for it, so student code cannot tell runs apart by it (a test
        that reads its limit would otherwise know a mutant run from the reference run)."""
        return max(self.check_seconds, self.notebook_seconds)


@functools.cache
def _libc() -> ctypes.CDLL:
    # The process's own symbols include libc's. (ctypes.util.find_library would run ldconfig
    # or gcc in a subprocess: slow, and impossible once the worker is confined.)
    return ctypes.CDLL(None, use_errno=True)


def landlock_abi() -> int:
    """The kernel's Landlock ABI version, or 0 where Landlock is unavailable."""
    try:
        version = _libc().syscall(_SYS_LANDLOCK_CREATE_RULESET, None, 0,
                                  _LANDLOCK_CREATE_RULESET_VERSION)
    except (OSError, AttributeError):
        return 0
    return max(int(version), 0)


def apply_rlimits(limits: Limits) -> None:
    """Limit the current process; called in the worker right after fork."""
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu_seconds, limits.cpu_seconds + 1))
    size = limits.file_size_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))
    # Writing past the size limit should raise OSError in the student's code, not kill us.
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_NOFILE, (limits.open_files, limits.open_files))
    # torch maps gigabytes of libraries: the budget is on top of what is mapped already.
    mapped = _current_virtual_memory()
    budget = mapped + limits.memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (budget, budget))
    try:
        resource.setrlimit(resource.RLIMIT_NPROC, (limits.max_processes, limits.max_processes))
    except (ValueError, OSError):
        pass


# Where a worker's own user and group ids start when the grader runs as root: far above the
# ids of real users and of the usual subordinate ranges of containers (/etc/subuid), one id
# per worker (its pid added), so RLIMIT_NPROC counts that worker's processes alone and no
# worker may signal, trace or write to another's files.
UNPRIVILEGED_ID_BASE = 1_500_000_000


def drop_root(writable: Path, readable: Iterable[str]) -> int | None:
    """Become an unprivileged user of our own when running as root; returns its id (None
    when not root). As root ``RLIMIT_NPROC`` does not bind and, where Landlock is missing,
    every file is open to the worker. The scratch folder ``writable`` becomes the new
    user's; the folders above it and above each ``readable`` path get the right to pass
    through them (to look up a name, not to list), so the worker still reaches them."""
    if os.geteuid() != 0:
        return None
    worker_id = UNPRIVILEGED_ID_BASE + os.getpid()
    os.chown(writable, worker_id, worker_id, follow_symlinks=False)
    for folder, folders, files in os.walk(writable):
        for name in folders + files:
            os.chown(os.path.join(folder, name), worker_id, worker_id, follow_symlinks=False)
    for path in [writable, *map(Path, readable)]:
        for folder in [*reversed(path.parents), path]:
            _allow_passing_through(folder)
    os.setgroups([])
    os.setresgid(worker_id, worker_id, worker_id)
    os.setresuid(worker_id, worker_id, worker_id)
    return worker_id


def _allow_passing_through(folder: Path) -> None:
    try:
        mode = os.stat(folder, follow_symlinks=False).st_mode
        if stat.S_ISDIR(mode) and not mode & stat.S_IXOTH:
            os.chmod(folder, stat.S_IMODE(mode) | stat.S_IXOTH)
    except OSError:
        pass


def set_cpu_deadline(seconds: float) -> None:
    """Lower the soft CPU limit so the next operation gets at most ``seconds`` of CPU."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    used = usage.ru_utime + usage.ru_stime
    _, hard = resource.getrlimit(resource.RLIMIT_CPU)
    soft = int(used + seconds) + 1
    if hard != resource.RLIM_INFINITY:
        soft = min(soft, hard)
    resource.setrlimit(resource.RLIMIT_CPU, (soft, hard))


def _current_virtual_memory() -> int:
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[0])
    return pages * os.sysconf("SC_PAGE_SIZE")


def confine(readable: Iterable[str], writable: Iterable[str]) -> int:
    """Restrict the process with Landlock; returns the ABI used (0: not confined)."""
    abi = landlock_abi()
    if abi <= 0:
        return 0
    libc = _libc()
    handled_fs = _FS_V1_ALL
    if abi >= 2:
        handled_fs |= _FS_REFER
    if abi >= 3:
        handled_fs |= _FS_TRUNCATE
    if abi >= 5:
        handled_fs |= _FS_IOCTL_DEV
    attr = _RulesetAttr(handled_fs, _NET_ALL if abi >= 4 else 0, _SCOPE_ALL if abi >= 6 else 0)
    attr_size = ctypes.sizeof(_RulesetAttr) if abi >= 6 else (16 if abi >= 4 else 8)
    ruleset = libc.syscall(_SYS_LANDLOCK_CREATE_RULESET, ctypes.byref(attr), attr_size, 0)
    if ruleset < 0:
        return 0
    try:
        for path, rights in [(p, _READ_ONLY) for p in readable] + [
            (p, handled_fs) for p in writable
        ]:
            _add_path_rule(libc, ruleset, path, rights)
        if libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            return 0
        if libc.syscall(_SYS_LANDLOCK_RESTRICT_SELF, ruleset, 0) != 0:
            return 0
    finally:
        os.close(ruleset)
    return abi


def _add_path_rule(libc: ctypes.CDLL, ruleset: int, path: str, rights: int) -> None:
    try:
        fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
    except OSError:
        return
    try:
        if not os.path.isdir(path):
            rights &= _FILE_RIGHTS
        rule = _PathBeneathAttr(rights, fd)
        libc.syscall(_SYS_LANDLOCK_ADD_RULE, ruleset, _LANDLOCK_RULE_PATH_BENEATH,
                     ctypes.byref(rule), 0)
    finally:
        os.close(fd)


# seccomp: no sockets but Unix ones. Landlock confines TCP only; this also stops UDP, raw and
# netlink sockets (and io_uring, which could open sockets past the filter).
_PR_SET_SECCOMP = 22
_SECCOMP_MODE_FILTER = 2
_SECCOMP_RET_ALLOW = 0x7FFF0000
_SECCOMP_RET_EACCES = 0x00050000 | 13
_AF_UNIX = 1
# machine -> (audit arch, socket syscall, io_uring_setup syscall, x32 bit or 0)
_SYSCALLS = {
    "x86_64": (0xC000003E, 41, 425, 0x40000000),
    "aarch64": (0xC00000B7, 198, 425, 0),
}


class _SockFilter(ctypes.Structure):
    _fields_ = [("code", ctypes.c_uint16), ("jt", ctypes.c_uint8), ("jf", ctypes.c_uint8),
                ("k", ctypes.c_uint32)]


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_uint16), ("filter", ctypes.POINTER(_SockFilter))]


def block_network_sockets() -> bool:
    """Install a seccomp filter refusing every socket but AF_UNIX; False where unsupported."""
    machine = os.uname().machine
    if machine not in _SYSCALLS:
        return False
    arch, socket_nr, io_uring_nr, x32 = _SYSCALLS[machine]
    load, jeq, jge, ret = 0x20, 0x15, 0x35, 0x06
    deny = (ret, 0, 0, _SECCOMP_RET_EACCES)
    program = [(load, 0, 0, 4), (jeq, 1, 0, arch), deny, (load, 0, 0, 0)]
    if x32:
        program += [(jge, 0, 1, x32), deny]
    program += [
        (jeq, 0, 1, io_uring_nr), deny,
        (jeq, 0, 3, socket_nr),
        (load, 0, 0, 16), (jeq, 1, 0, _AF_UNIX), deny,
        (ret, 0, 0, _SECCOMP_RET_ALLOW),
    ]
    filters = (_SockFilter * len(program))(*[_SockFilter(*f) for f in program])
    fprog = _SockFprog(len(program), filters)
    libc = _libc()
    if libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        return False
    return libc.prctl(_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER, ctypes.byref(fprog), 0, 0) == 0
