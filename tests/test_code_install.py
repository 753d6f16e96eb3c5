"""code_tests served as root from an install the sandbox user cannot read (a checkout and its virtual
environment under a 0700 folder, as under /root on many GPU hosts and containers)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path
from typing import Iterator

import httpx
import pytest

from tests.served import Served, free_port, rewardkit_command, started

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "rewards" / "fixtures" / "code_tests.reward.jsonl"

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0, reason="needs root: the case is a service run as root, whose sandbox runs as nobody, "
    "with rewardkit where nobody cannot look")


@pytest.fixture(scope="module")
def private_install() -> Iterator[Path]:
    """A copy of the checkout and a virtual environment that imports it, in a `mktemp -d` folder (mode 0700).

    The environment has no pip and takes rewardkit's dependencies from this one's site-packages (a .pth
    line): an install, minus the download."""
    folder = Path(tempfile.mkdtemp(prefix="rewardkit-private-"))
    try:
        assert folder.stat().st_mode & 0o777 == 0o700
        for package in ("rewardkit", "rewards"):
            shutil.copytree(REPO / package, folder / "checkout" / package,
                            ignore=shutil.ignore_patterns("__pycache__"))
        venv = folder / "checkout" / ".venv"
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
        site = Path(subprocess.run([str(venv / "bin" / "python"), "-c",
                                    "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                   check=True, capture_output=True, text=True).stdout.strip())
        (site / "rewardkit-checkout.pth").write_text(f"{folder / 'checkout'}\n{sysconfig.get_paths()['purelib']}\n")
        yield venv / "bin" / "python"
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def served_privately(private_install: Path) -> Iterator[Served]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REWARDKIT_", "PYTHON", "VIRTUAL_ENV"))}
    command = [str(private_install), "-m", "rewardkit", "serve", "rewards", "--workers", "2",
               "--host", "127.0.0.1", "--port", str(port)]
    with started(command, env, f"http://127.0.0.1:{port}", timeout=90, cwd=private_install.parents[3]) as served:
        yield served


def test_the_install_really_is_out_of_the_sandbox_users_reach(private_install: Path):
    imported = subprocess.run([str(private_install), "-c", "import rewardkit; print(rewardkit.__file__)"],
                              capture_output=True, text=True, check=True, cwd="/").stdout.strip()
    assert imported.startswith(str(private_install.parents[2]))  # the private copy, not this checkout
    nobody = subprocess.run(["ls", imported], capture_output=True, text=True, user=65534, group=65534,
                            extra_groups=[])
    assert nobody.returncode != 0 and "Permission denied" in nobody.stderr


def test_the_code_fixtures_pass_through_a_served_private_install_in_both_contracts(served_privately: Served):
    # Every code_tests fixture (stdin, function and assert tests; correct, wrong, crashing, hanging programs;
    # Vertex and DashScope bodies), replayed over HTTP against the privately installed server.
    replay = subprocess.run([*rewardkit_command(), "replay", "--url", served_privately.url, "--format", "json",
                             str(FIXTURES)], capture_output=True, text=True, timeout=600)
    report = json.loads(replay.stdout)
    failed = [r for r in report["results"] if not r.get("passed")]
    assert replay.returncode == 0 and not failed, (failed[:3], replay.stderr[-2000:], served_privately.output()[-3000:])
    contracts = {r["contract"] for r in report["results"]}
    assert {"vertex", "dashscope"} <= contracts and len(report["results"]) >= 70
    assert "cannot isolate" not in served_privately.output()
    assert "Permission denied" not in served_privately.output()


@pytest.mark.parametrize(("contract", "program", "expected"), [
    ("vertex", "print(int(input()) * 2)", 1.0),
    ("dashscope", "print(int(input()) * 2)", 1.0),
    ("vertex", "import os\nprint(os.getuid() * 0 + 2 * int(input()) if os.getuid() == 65534 else -1)", 1.0),
    ("dashscope", "import json, collections, re\nprint(int(input()) + 1)", 0.5),
])
def test_isolated_programs_run_as_nobody_from_the_private_install(served_privately: Served, contract, program,
                                                                  expected):
    from rewardkit.contracts import get
    from rewardkit.testing import request

    tests = [{"input": "2\n", "output": "4\n"}, {"input": "1\n", "output": "2\n"}]
    response = f"```python\n{program}\n```"
    body = (request("vertex", response, references={"tests": json.dumps(tests)})[0] if contract == "vertex"
            else request("dashscope", response, reference=tests)[0])
    answer = httpx.post(served_privately.url + get(contract).route_for("code_tests"), json=body, timeout=60)
    read = get(contract).read_answer(answer.status_code, answer.json())
    assert read.error_code is None and read.scores == (expected,), answer.text


def test_an_interpreter_the_sandbox_user_cannot_read_is_named_with_the_way_out(private_install: Path):
    # Chosen explicitly (REWARDKIT_SANDBOX_PYTHON), the private venv's own Python cannot run the sandbox:
    # the start-up check says which folder and what to do, instead of a bare "Permission denied".
    script = ("from rewardkit.sandbox import SandboxError, check_isolation\n"
              "try:\n    check_isolation()\nexcept SandboxError as exc:\n    print(exc)\n")
    env = {"PATH": "/usr/bin:/bin", "REWARDKIT_SANDBOX_PYTHON": str(private_install)}
    said = subprocess.run([str(private_install), "-c", script], capture_output=True, text=True, timeout=60,
                          cwd="/", env=env).stdout
    assert "cannot reach" in said and str(private_install.parents[1]) in said, said
    assert "REWARDKIT_SANDBOX_PYTHON" in said and "python3" in said
