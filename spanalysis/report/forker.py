"""Warm kernels forked from one process that has imported what a report needs (issue 24).

A worker of ``spanalysis report`` keeps one kernel for report after report
(:mod:`spanalysis.report.execution`), but each kernel still pays once for its own start:
Python and ipykernel, then pandas, matplotlib, SciPy, pingouin and the report modules
(:data:`spanalysis.report.kernel.WARM_IMPORTS`), about 4 s of CPU. On Linux the report
command's local pool starts one **kernel forker** as the run starts, beside the
workers' forkserver: a fresh, single-threaded process, started as the kernel is (the kernel
spec's Python and its options), that imports all of that once, in the environment a kernel
has, and then forks a kernel for each worker that asks. A forked kernel is what
``python -m ipykernel_launcher -f CONNECTION_FILE`` would start (the same arguments,
environment, working folder and session of its own; stdin from ``/dev/null``, stdout and
stderr to the worker's kernel log), with those modules already in memory.

Elsewhere kernels are launched: on macOS, system libraries that NumPy may use (Accelerate)
are not safe in a child forked after they started, which is why Python spawns there. Only a
kernel whose command is the forker's own (its Python and options, then ``-m
ipykernel_launcher``) and whose spec sets no environment is forked. Any other kernel, the
kernels of a Dask worker, and every kernel when the forker could not start or answer, are
started by jupyter_client as before (:func:`launch`'s answer is then None). The forker ends
its kernels and itself when the run ends, however it ends: it watches a pipe that only the
run holds.

Standard library only, apart from what :func:`main` imports in the forker itself.
"""
from __future__ import annotations

import contextlib
import json
import os
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

__all__ = ["Forker", "start", "launch", "ForkedKernel", "kill_kernel", "KERNEL_MODULE"]

#: the module a kernel's command runs (``python [options] -m ipykernel_launcher ...``)
KERNEL_MODULE = "ipykernel_launcher"
#: seconds a worker waits for a fork, including the forker's imports when it asks early
FORK_WAIT = 60.0
_HEADER = struct.Struct("!I")


# =============================================================================================
# The run's side
# =============================================================================================

def _command_prefix(argv: list[str]) -> list[str] | None:
    """The kernel command up to ``-m ipykernel_launcher`` (its Python and options), or None
    when the command is not that shape."""
    for i in range(1, len(argv) - 1):
        if argv[i] == "-m":
            return list(argv[:i]) if argv[i + 1] == KERNEL_MODULE else None
        if not argv[i].startswith("-") or argv[i] in ("-c", "-W", "-X"):
            return None      # a script, -c code, or an option taking a separate value
    return None


class Forker:
    """The run's handle on its kernel forker: :attr:`address` (given to the workers) and
    :meth:`stop`."""

    def __init__(self, process: subprocess.Popen, folder: str, prefix: list[str]):
        self.process, self.folder, self.prefix = process, folder, prefix
        self.address = os.path.join(folder, "forker.sock")

    @property
    def info(self) -> tuple[str, list[str]]:
        """What a worker needs: the socket and the command prefix of a forkable kernel."""
        return self.address, list(self.prefix)

    def stop(self, wait: float = 5.0) -> None:
        """End the forker and the kernels it forked, now (even while it imports: a run with
        nothing to render does not wait for it)."""
        with contextlib.suppress(OSError):
            self.process.stdin.close()
        with contextlib.suppress(OSError):
            self.process.terminate()
        try:
            self.process.wait(wait)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        shutil.rmtree(self.folder, ignore_errors=True)


def start(kernel_name: str) -> Forker | None:
    """Start the forker for kernel ``kernel_name``; None where none is used (not Linux,
    a kernel not started as ``python -m ipykernel_launcher``, a spec with its own
    environment, a kernel that is not installed: that is reported later, by the checks)."""
    if not sys.platform.startswith("linux"):
        # macOS has fork, but its system libraries (Accelerate, which NumPy may use) are
        # not safe to use in a child forked after they started: Python spawns there too
        return None
    try:
        from jupyter_client.kernelspec import KernelSpecManager

        spec = KernelSpecManager().get_kernel_spec(kernel_name)
    except Exception:   # noqa: BLE001 - check_kernel says what is wrong, before any report
        return None
    prefix = _command_prefix(list(spec.argv))
    if prefix is None or spec.env:
        return None
    folder = tempfile.mkdtemp(prefix="spanalysis-forker-")   # private (mode 0700)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        # bound and listening here, before the forker starts: a worker asking early waits
        # in the backlog; once the forker holds the only copy, a forker that died refuses
        listener.bind(os.path.join(folder, "forker.sock"))
        listener.listen(64)
        with open(os.path.join(folder, "forker.log"), "wb") as log:
            process = subprocess.Popen(
                prefix + ["-m", "spanalysis.report.forker", str(listener.fileno())],
                stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=log,
                pass_fds=(listener.fileno(),),
                start_new_session=True)    # Ctrl-C is the run's to handle, not the forker's
    except OSError:
        shutil.rmtree(folder, ignore_errors=True)
        return None
    finally:
        listener.close()
    return Forker(process, folder, prefix)


# =============================================================================================
# The worker's side
# =============================================================================================

def kill_kernel(pid: int) -> None:
    """Kill kernel ``pid`` and its session's processes. The process itself is killed too:
    a kernel forked a moment ago may not have made its session yet (``setsid`` is its first
    step), and its group would not be found."""
    for kill in (os.killpg, os.kill):
        with contextlib.suppress(OSError):
            kill(pid, signal.SIGKILL)


class ForkedKernel:
    """A forked kernel's process, as jupyter_client's local provisioner uses a ``Popen``.

    The kernel is the forker's child, not the worker's: it is polled by signal 0 (the
    forker reaps its children at once, so a kernel that ended does not linger), and its
    exit status is not known (-1)."""

    stdin = stdout = stderr = None

    def __init__(self, pid: int):
        self.pid = pid
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            try:
                os.kill(self.pid, 0)
            except (ProcessLookupError, PermissionError):   # (or reused by another user)
                self.returncode = -1
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        end = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if end is not None and time.monotonic() > end:
                raise subprocess.TimeoutExpired(f"kernel {self.pid}", timeout)
            time.sleep(0.02)
        return self.returncode

    def send_signal(self, signum: int) -> None:
        if self.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signum)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)


def launch(info: tuple[str, list[str]] | None, cmd: list[str], *, env: dict | None,
           cwd, stdout, stderr) -> tuple[int | None, str | None]:
    """Ask the forker ``info`` (:attr:`Forker.info`) for a kernel running ``cmd``.

    Returns ``(pid, None)``, or ``(None, reason)`` when this kernel is not forked (the
    caller then starts it as usual; the reason goes to the kernel's log).
    """
    if info is None:
        return None, None
    address, prefix = info
    if list(cmd[:len(prefix) + 2]) != prefix + ["-m", KERNEL_MODULE]:
        return None, "this kernel's command is not the forker's"
    env = dict(os.environ if env is None else env)
    env["JPY_PARENT_PID"] = str(os.getpid())     # as jupyter_client's launcher sets it
    request = json.dumps({"argv": list(cmd[len(prefix) + 2:]), "env": env,
                          "cwd": os.fspath(cwd) if cwd else os.getcwd()}).encode()
    fds = [stream.fileno() if hasattr(stream, "fileno") else int(stream)
           for stream in (stdout, stderr)]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.connect(address)
            conn.settimeout(FORK_WAIT)
            # the descriptors travel with the length (one small message), then the request
            socket.send_fds(conn, [_HEADER.pack(len(request))], fds)
            conn.sendall(request)
            answer = _read_message(conn)
    except (OSError, ValueError) as exc:
        return None, (f"the kernel forker did not answer ({type(exc).__name__}: {exc})"
                      + _last_words(address))
    pid = answer.get("pid")
    if not isinstance(pid, int) or pid <= 0:
        return None, f"the kernel forker could not fork: {answer.get('error', answer)}"
    return pid, None


def _last_words(address: str) -> str:
    """The last line the forker wrote to its log (an import that failed), if any."""
    try:
        with open(os.path.join(os.path.dirname(address), "forker.log"), "rb") as log:
            lines = [ln.strip() for ln in log.read()[-4000:].decode(errors="replace")
                     .splitlines() if ln.strip()]
    except OSError:
        return ""
    return f"; it wrote: {lines[-1][:300]}" if lines else ""


def _read_exactly(conn: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = conn.recv(size - len(data))
        if not chunk:
            raise ValueError("connection closed")
        data += chunk
    return data


def _read_message(conn: socket.socket) -> dict:
    (size,) = _HEADER.unpack(_read_exactly(conn, _HEADER.size))
    return json.loads(_read_exactly(conn, size))


def _send_message(conn: socket.socket, message: dict) -> None:
    data = json.dumps(message).encode()
    conn.sendall(_HEADER.pack(len(data)) + data)


# =============================================================================================
# The forker itself (python -m spanalysis.report.forker LISTENING_SOCKET_FD)
# =============================================================================================

def _reap(*_args) -> None:   # pragma: no cover - runs in the forker
    """Collect every child that ended, so that none lingers as a zombie (which signal 0
    would still find)."""
    while True:
        try:
            pid, _status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        _CHILDREN.discard(pid)


_CHILDREN: set[int] = set()


def _imports() -> None:   # pragma: no cover - runs in the forker
    """What a kernel imports, imported as a starting kernel would have them: matplotlib's
    backend from ``MPLBACKEND`` as ipykernel sets it, before matplotlib is imported."""
    import importlib

    from spanalysis.processes import kept_for_life
    from spanalysis.report.kernel import WARM_IMPORTS

    if not os.environ.get("MPLBACKEND"):
        os.environ["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"
    with kept_for_life():
        import ipykernel.kernelapp  # noqa: F401 - the kernel itself
        for name in WARM_IMPORTS:
            importlib.import_module(name)


def _become_kernel(request: dict, fds: list[int], closing: list) -> None:  # pragma: no cover
    """In the forked child: become the kernel ``request`` describes (never returns)."""
    code = 1
    try:
        os.setsid()                          # a session of its own, as jupyter_client's
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        for item in closing:
            with contextlib.suppress(OSError):
                item.close()
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(fds[0], 1)
        os.dup2(fds[1], 2)
        for fd in {null, *fds}:
            if fd > 2:
                os.close(fd)
        os.environ.clear()
        os.environ.update(request["env"])
        os.chdir(request["cwd"])
        import importlib.util
        import random

        import numpy as np

        random.seed()                        # a kernel of its own draws its own numbers
        np.random.seed()
        # as `python -m ipykernel_launcher ARGS` run in that folder
        sys.argv = [importlib.util.find_spec(KERNEL_MODULE).origin, *request["argv"]]
        _end_with_worker(int(request["env"]["JPY_PARENT_PID"]))
        from ipykernel import kernelapp

        kernelapp.launch_new_instance()
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:
        import traceback

        traceback.print_exc()
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)


def _end_with_worker(worker: int) -> None:   # pragma: no cover - runs in a forked kernel
    """End this kernel when the worker that asked for it is gone, as a launched kernel
    ends when its parent (that worker) is: ipykernel's own poller watches only its parent
    process, which here is the forker."""
    import threading

    def watch() -> None:
        while True:
            time.sleep(1.0)
            try:
                os.kill(worker, 0)
            except (ProcessLookupError, PermissionError):
                os._exit(1)

    threading.Thread(target=watch, name="spanalysis-worker-watch", daemon=True).start()


def _serve(listener: socket.socket) -> None:   # pragma: no cover - runs in the forker
    import threading

    control = sys.stdin.buffer
    while True:
        ready, _, _ = select.select([control, listener], [], [])
        if control in ready and not control.read1(1024):
            return                            # the run is gone (or stopping): end
        if listener not in ready:
            continue
        conn, _ = listener.accept()
        fds: list[int] = []
        with conn:
            try:
                conn.settimeout(10)
                header, fds, _flags, _addr = socket.recv_fds(conn, _HEADER.size, 2)
                if len(header) < _HEADER.size:
                    header += _read_exactly(conn, _HEADER.size - len(header))
                (size,) = _HEADER.unpack(header)
                request = json.loads(_read_exactly(conn, size))
                if len(fds) != 2:
                    raise ValueError("expected the kernel's stdout and stderr")
                if threading.active_count() > 1:   # forking is only safe single-threaded
                    raise RuntimeError("the forker has started a thread")
                pid = os.fork()
                if pid == 0:
                    _become_kernel(request, fds, [conn, listener, control])
                _CHILDREN.add(pid)
                _send_message(conn, {"pid": pid})
            except Exception as exc:   # noqa: BLE001 - the worker starts its kernel itself
                with contextlib.suppress(OSError):
                    _send_message(conn, {"error": f"{type(exc).__name__}: {exc}"})
            finally:
                for fd in fds:
                    with contextlib.suppress(OSError):
                        os.close(fd)


def _stopped(*_args) -> None:   # pragma: no cover - runs in the forker
    raise SystemExit(0)


def main(listener_fd: int) -> None:   # pragma: no cover - runs in the forker
    # as ipykernel_launcher does first: the folder it was started in is not searched
    if sys.path and (sys.path[0] == "" or Path(sys.path[0]) == Path.cwd()):
        del sys.path[0]
    signal.signal(signal.SIGCHLD, _reap)
    signal.signal(signal.SIGTERM, _stopped)   # the run's stop: end the kernels too
    listener = socket.socket(fileno=listener_fd)   # bound and listening (see start)
    try:
        _imports()
        _serve(listener)
    finally:
        listener.close()
        for pid in list(_CHILDREN):   # the run ended: so do its kernels (their groups)
            kill_kernel(pid)


if __name__ == "__main__":   # pragma: no cover
    main(int(sys.argv[1]))
    sys.exit(0)
