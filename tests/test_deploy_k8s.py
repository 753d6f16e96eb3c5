"""deploy/k8s: the manifests agree with the image and the server, and the server answers the probes as a pod runs it.

There is no cluster here (kubectl is a client only, with no API server to apply to; kubeconform is not
installed), so nothing asserts that a cluster accepts the objects. What is asserted instead:
- the manifests, read with PyYAML, against the things they depend on: the Dockerfile's USER, EXPOSE and
  ENV, the server's settings (workers, grace period) and its worker pool's start-up and stop limits;
- the probes at start-up (nothing answers before every worker is up), while serving and while draining
  after SIGTERM, on a real `rewardkit serve` started as the pod starts it: the container's command and
  the image's ENV with the Deployment's env on top (PORT moved to a free port, the host to loopback);
- as root, the pod's securityContext as far as Linux here can apply it (its uid and gid, no capability,
  no_new_privs, a read-only root with the emptyDir volumes writable, the memory limit's per-worker share):
  the probes answer, math_accuracy scores, and code_tests' sandbox still isolates model-written code;
- with kubectl's own Kustomize, when kubectl is installed: the kustomization renders these objects, and
  the code-sandbox component changes exactly the container's seccomp and AppArmor profiles.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest
import yaml

from rewardkit._engine.pool import STARTUP_TIMEOUT, STOP_TIMEOUT
from rewardkit._settings import load_settings

from .conftest import REPO, contract_example
from .faulty import vertex
from .served import TAG_VARIABLE, Served, free_port, rewardkit_command, started
from .test_container_contract import env_pairs, parse_dockerfile

K8S = REPO / "deploy" / "k8s"
SANDBOX_COMPONENT = K8S / "code-sandbox"
ENGINE_REWARDS = str(REPO / "tests" / "engine_rewards.py")
PROBES = ("startupProbe", "readinessProbe", "livenessProbe")
_QUANTITY = re.compile(r"(\d+(?:\.\d+)?)(m|k|M|G|T|Ki|Mi|Gi|Ti)?")
_FACTOR = {None: 1, "m": 1e-3, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12,
           "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40}


def quantity(text: str | int) -> float:
    """A Kubernetes resource quantity ("2", "500m", "2Gi") as a number of cores or bytes."""
    match = _QUANTITY.fullmatch(str(text))
    assert match, f"not a resource quantity: {text!r}"
    return float(match.group(1)) * _FACTOR[match.group(2)]


def documents(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]


def kustomization() -> dict[str, Any]:
    return documents(K8S / "kustomization.yaml")[0]


def objects() -> dict[str, dict[str, Any]]:
    """The objects `kubectl apply -k deploy/k8s` creates, by kind (one of each)."""
    found: dict[str, dict[str, Any]] = {}
    for resource in kustomization()["resources"]:
        for doc in documents(K8S / resource):
            assert doc["kind"] not in found, f"two {doc['kind']} objects"
            found[doc["kind"]] = doc
    return found


def deployment() -> dict[str, Any]:
    return objects()["Deployment"]


def container() -> dict[str, Any]:
    containers = deployment()["spec"]["template"]["spec"]["containers"]
    assert [c["name"] for c in containers] == ["rewardkit"]
    return containers[0]


def container_env() -> dict[str, str]:
    """The Deployment's literal env values (those from a Secret are left out: they may not exist)."""
    return {e["name"]: e["value"] for e in container().get("env", []) if "value" in e}


def image_env_and_cmd() -> tuple[dict[str, str], list[str], str]:
    """The runtime stage's ENV (without PATH, which names the image's venv), exec-form CMD and USER."""
    runtime = parse_dockerfile((REPO / "Dockerfile").read_text())[-1]
    env: dict[str, str] = {}
    for instruction in runtime.all("ENV"):
        env.update(env_pairs(instruction, env))
    env.pop("PATH")
    command = runtime.all("CMD")[-1].exec_form()
    assert command and command[0] == "rewardkit", command
    return env, command, runtime.all("USER")[-1].args


def pod_environment(port: int, **extra: str) -> dict[str, str]:
    """What the container's process gets: the image's ENV, then the Deployment's env, then `extra`.
    PORT moves to a free port and the host to loopback: tests listen on loopback only."""
    image_env, _, _ = image_env_and_cmd()
    return {**image_env, **container_env(), "PORT": str(port), "REWARDKIT_HOST": "127.0.0.1", **extra}


def pod_command() -> list[str]:
    """The container's argv as Kubernetes builds it: `command` replaces the image's ENTRYPOINT (it has
    none) and drops its CMD; `args` replaces CMD."""
    _, cmd, _ = image_env_and_cmd()
    spec = container()
    if "command" in spec:
        return [*spec["command"], *spec.get("args", [])]
    return spec.get("args", cmd)


def served_as_the_pod(**extra: str) -> Iterator[Served]:
    """The container's command, its `rewardkit` being this environment's, with the container's environment."""
    command = pod_command()
    assert command[:2] == ["rewardkit", "serve"], command
    port = free_port()
    return started([*rewardkit_command(), *command[1:]], {**os.environ, **pod_environment(port, **extra)},
                   f"http://127.0.0.1:{port}", timeout=90)


def probe(url: str, spec: dict[str, Any], headers: dict[str, str] | None = None) -> httpx.Response:
    """The kubelet's HTTP probe: GET the path, on a new connection, within the probe's timeoutSeconds."""
    get = spec["httpGet"]
    return httpx.get(url + get["path"], timeout=spec.get("timeoutSeconds", 1), headers=headers)


# ---- the manifests, against what they depend on -----------------------------------------

def test_kustomization_applies_every_manifest_here_with_the_deployments_image():
    listed = set(kustomization()["resources"])
    here = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert listed == here, "a manifest in deploy/k8s that `kubectl apply -k` would not apply, or the reverse"
    assert set(objects()) == {"Deployment", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget"}
    (image,) = kustomization()["images"]
    assert image["name"] == container()["image"], "the images: entry must name the container's image to replace it"


def test_service_selects_the_deployments_pods_on_the_containers_named_port():
    pod_labels = deployment()["spec"]["template"]["metadata"]["labels"]
    service = objects()["Service"]
    assert service["spec"]["selector"].items() <= pod_labels.items()
    assert deployment()["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    assert objects()["PodDisruptionBudget"]["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    (port,) = service["spec"]["ports"]
    # Port 80: a trainer's URL is http://rewardkit.NAMESPACE.svc.cluster.local/rewards/NAME, no port in it.
    assert port["port"] == 80 and service["metadata"]["name"] == "rewardkit"
    assert port["targetPort"] in [p["name"] for p in container()["ports"]]


def test_container_port_is_the_port_the_image_exposes_and_the_server_listens_on():
    (port,) = container()["ports"]
    image_env, _, _ = image_env_and_cmd()
    exposed = [i.args for i in parse_dockerfile((REPO / "Dockerfile").read_text())[-1].all("EXPOSE")]
    assert str(port["containerPort"]) == container_env()["PORT"] == image_env["PORT"] == exposed[0]
    for name in PROBES:
        assert container()[name]["httpGet"]["port"] in (port["name"], port["containerPort"]), name


def test_pod_runs_as_the_images_non_root_user():
    _, _, user = image_env_and_cmd()
    uid, _, gid = user.partition(":")
    pod = deployment()["spec"]["template"]["spec"]["securityContext"]
    assert pod["runAsNonRoot"] is True
    assert (pod["runAsUser"], pod["runAsGroup"]) == (int(uid), int(gid or uid))
    hardened = container()["securityContext"]
    assert hardened["allowPrivilegeEscalation"] is False and hardened["capabilities"]["drop"] == ["ALL"]
    assert deployment()["spec"]["template"]["spec"]["automountServiceAccountToken"] is False


def test_as_shipped_the_pod_meets_the_restricted_pod_security_standard():
    """The README says `kubectl apply -k deploy/k8s` passes `restricted`: its controls that a pod spec can
    break (kubernetes.io/docs/concepts/security/pod-security-standards), checked one by one."""
    pod = deployment()["spec"]["template"]["spec"]
    assert not any(pod.get(field) for field in ("hostNetwork", "hostPID", "hostIPC", "hostUsers"))
    allowed_volumes = {"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim",
                       "projected", "secret"}
    assert all(set(volume) - {"name"} <= allowed_volumes for volume in pod["volumes"])
    for spec in pod["containers"]:
        context = {**pod["securityContext"], **spec["securityContext"]}  # the container's own fields win
        assert context["runAsNonRoot"] is True and context.get("runAsUser") != 0
        assert context["allowPrivilegeEscalation"] is False and not context.get("privileged")
        assert context["capabilities"]["drop"] == ["ALL"] and not context["capabilities"].get("add")
        assert context["seccompProfile"]["type"] in ("RuntimeDefault", "Localhost")
        assert context.get("appArmorProfile", {"type": "RuntimeDefault"})["type"] != "Unconfined"
        assert not any("hostPort" in port for port in spec["ports"])


def test_workers_equal_the_cpu_request_and_requests_equal_limits():
    resources = container()["resources"]
    assert resources["requests"] == resources["limits"], "requests = limits: Guaranteed QoS, a CPU quota that agrees"
    settings = load_settings(environ=container_env())
    cpus = quantity(resources["requests"]["cpu"])
    assert settings.worker_count == cpus, "one worker per requested CPU (README.md)"
    # The memory limit is what the server divides among the workers and itself: each share must hold a worker.
    share_mb = quantity(resources["limits"]["memory"]) / (settings.worker_count + 1) / 2**20
    assert share_mb >= 512, f"{share_mb:.0f} MiB per worker: raise the memory or lower the workers"


def test_hpa_scales_the_deployment_on_its_cpu_request():
    hpa = objects()["HorizontalPodAutoscaler"]
    assert hpa["apiVersion"] == "autoscaling/v2"
    target = hpa["spec"]["scaleTargetRef"]
    assert (target["apiVersion"], target["kind"], target["name"]) == ("apps/v1", "Deployment",
                                                                      deployment()["metadata"]["name"])
    (metric,) = hpa["spec"]["metrics"]
    assert metric["type"] == "Resource" and metric["resource"]["name"] == "cpu"
    assert metric["resource"]["target"]["type"] == "Utilization"  # of the request, which is one CPU per worker
    assert 1 <= hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]
    # A `replicas` here would reset the autoscaled count on every `kubectl apply`.
    assert "replicas" not in deployment()["spec"]


def test_termination_grace_outlasts_the_servers_drain():
    settings = load_settings(environ=container_env())
    pod = deployment()["spec"]["template"]["spec"]
    pre_stop = container()["lifecycle"]["preStop"]["sleep"]["seconds"]
    # Kubernetes counts the preStop hook inside the grace period; then SIGTERM, the server's grace period for
    # in-flight requests, and the worker pool's stop. SIGKILL must not come before all of that is over.
    assert pod["terminationGracePeriodSeconds"] > pre_stop + settings.grace_period + STOP_TIMEOUT
    assert settings.grace_period >= settings.timeout, "a reward call running at SIGTERM would be cut short"


def test_startup_probe_outlasts_the_worker_pools_own_startup_limit():
    startup = container()["startupProbe"]
    # Longer than the server's own limit: a pool that cannot start makes the server exit 2 with the reason in
    # its log, rather than being killed by the kubelet without one.
    assert startup["periodSeconds"] * startup["failureThreshold"] > STARTUP_TIMEOUT
    # A pod whose CPU quota is throttled under load may answer late for a while: only a loop stalled for 30 s
    # or more is restarted.
    liveness = container()["livenessProbe"]
    assert liveness["failureThreshold"] * liveness["periodSeconds"] >= 30


def test_auth_token_comes_from_an_optional_secret():
    (token,) = [e for e in container()["env"] if e["name"] == "REWARDKIT_AUTH_TOKEN"]
    ref = token["valueFrom"]["secretKeyRef"]
    assert ref["optional"] is True and ref["name"] == "rewardkit-auth" and ref["key"] == "token"


# ---- the real server, as the pod runs it ------------------------------------------------

def test_probes_answer_200_on_the_server_started_with_the_deployments_command_and_env():
    token = "k8s-secret-token"
    with served_as_the_pod(REWARDKIT_AUTH_TOKEN=token) as served:
        url = served.url
        for name in PROBES:  # the kubelet sends no Authorization header
            answer = probe(url, container()[name])
            assert answer.status_code == 200, f"{name}: {answer.status_code} {answer.text}"
        health = httpx.get(f"{url}/health").json()
        assert health["workers"]["size"] == int(container_env()["REWARDKIT_WORKERS"])
        # Every trainer URL deploy/k8s/README.md gives is a route this server lists for the reward.
        listed = httpx.get(f"{url}/rewards", headers={"Authorization": f"Bearer {token}"}).json()["rewards"]
        (math_routes,) = [set(r["routes"].values()) for r in listed if r["name"] == "math_accuracy"]
        readme = (K8S / "README.md").read_text()
        documented = set(re.findall(r"(?:svc\.cluster\.local|\.\.\.)(/rewards/NAME(?:/[a-z0-9/]+)?)", readme))
        assert len(documented) >= 5 and {d.replace("NAME", "math_accuracy") for d in documented} <= math_routes
        request = contract_example("vertex_request.json")
        assert httpx.post(f"{url}/rewards/math_accuracy", json=request, timeout=60).status_code == 401
        scored = httpx.post(f"{url}/rewards/math_accuracy", json=request, timeout=60,
                            headers={"Authorization": f"Bearer {token}"})
        assert scored.status_code == 200 and scored.json()["reward"] == 1.0, scored.text


def test_no_probe_answers_before_every_worker_has_run_its_setup(tmp_path):
    marker = tmp_path / "setup-started"
    target = tmp_path / "slow_setup_rewards.py"
    target.write_text(
        "import pathlib, time\n"
        "import rewardkit\n\n\n"
        "def load():\n"
        f"    pathlib.Path({str(marker)!r}).touch()\n"
        "    time.sleep(3)\n\n\n"
        "@rewardkit.reward(setup=load)\n"
        "def judged(response: str) -> float:\n"
        "    return 1.0\n")
    seen: list[str] = []

    def probe_during_setup(url: str) -> None:
        while not marker.exists():
            time.sleep(0.02)
        try:
            seen.append(str(probe(url, container()["startupProbe"]).status_code))
        except httpx.ConnectError:
            seen.append("refused")

    port = free_port()
    watcher = threading.Thread(target=probe_during_setup, args=(f"http://127.0.0.1:{port}",), daemon=True)
    watcher.start()
    command = pod_command()
    with started([*rewardkit_command(), *command[1:]],
                 {**os.environ, **pod_environment(port, REWARDKIT_TARGET=str(target))}, f"http://127.0.0.1:{port}",
                 timeout=90) as served:
        watcher.join(timeout=30)
        assert seen == ["refused"], "a probe answered while a worker was still running its setup"
        assert httpx.post(f"{served.url}/rewards/judged", json=vertex("x"), timeout=30).json()["reward"] == 1.0


def test_readiness_fails_at_sigterm_while_in_flight_requests_finish():
    readiness = container()["readinessProbe"]
    with served_as_the_pod(REWARDKIT_TARGET=ENGINE_REWARDS) as served:
        url, process = served.url, served.process
        async def scenario() -> tuple[httpx.Response, bool]:
            async with httpx.AsyncClient(base_url=url, timeout=60) as client:
                in_flight = asyncio.create_task(client.post("/rewards/sleepy", json=vertex("3")))
                while (await client.get("/health")).json()["workers"]["running"] == 0:
                    await asyncio.sleep(0.05)
                process.send_signal(signal.SIGTERM)
                refused = False
                for _ in range(100):  # the listener closes at SIGTERM; new connections are refused from then on
                    try:
                        await asyncio.to_thread(probe, url, readiness)
                    except httpx.ConnectError:
                        refused = True
                        break
                    await asyncio.sleep(0.05)
                return await in_flight, refused

        answer, refused = asyncio.run(scenario())
        assert refused, "the readiness probe still answered after SIGTERM: the Service would keep sending requests"
        assert answer.status_code == 200 and answer.json()["reward"] == 1.0, answer.text
        assert process.wait(timeout=deployment()["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]) == 0


# ---- the pod's securityContext, as far as this machine can apply it ----------------------

def _pod_interpreter(uid: int, gid: int) -> str | None:
    """A Python of this version that `uid` can run and that imports rewardkit from here (this venv's may not be)."""
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    for candidate in (shutil.which(f"python{version}", path="/usr/local/bin:/usr/bin:/bin"), sys.executable):
        if not candidate:
            continue
        check = subprocess.run([candidate, "-c", "import rewardkit, uvicorn"], cwd="/", capture_output=True,
                               env={"PYTHONPATH": _import_path()}, user=uid, group=gid, extra_groups=[], timeout=60)
        if check.returncode == 0:
            return candidate
    return None


def _import_path() -> str:
    paths = sysconfig.get_paths()
    return ":".join(dict.fromkeys([paths["purelib"], paths["platlib"], str(REPO)]))


def _pod_script(uid: int, gid: int, writable: list[str], env: dict[str, str], command: list[str],
                keep: list[str], holder: str) -> str:
    """A shell script for `unshare --mount`: the emptyDir volumes as tmpfs, the rest of / read-only (for this
    mount namespace only), then the command as uid:gid with no capability and no_new_privs.

    `keep` are folders the command needs (this checkout, its venv) that a stand-in volume would hide, as a
    checkout under /tmp is hidden by the /tmp volume: they are bound into `holder` first and bound back on
    top of the tmpfs after (the image has its code in /usr/local, under no volume)."""
    lines = ["set -e"]
    mounted = []
    for path in sorted(writable):
        existing = Path(path)
        while not existing.exists():
            existing = existing.parent
        assert existing != Path("/"), f"cannot stand in for the volume at {path}"
        mounted.append((existing, path))
    hidden = [k for k in sorted(set(keep)) if any(Path(k).is_relative_to(m) for m, _ in mounted)]
    hidden = [k for k in hidden if not any(k != o and Path(k).is_relative_to(o) for o in hidden)]
    for index, path in enumerate(hidden):
        lines += [f"mkdir -p {holder}/{index}", f"mount --bind {shlex.quote(path)} {holder}/{index}"]
    for existing, path in mounted:
        lines += [f"mount -t tmpfs -o mode=0777,size=256m tmpfs {shlex.quote(str(existing))}",
                  f"mkdir -p -m 0777 {shlex.quote(path)}"]
    for index, path in enumerate(hidden):  # the holder's own binds go: the pod has no mount there
        lines += [f"mkdir -p {shlex.quote(path)}", f"mount --bind {holder}/{index} {shlex.quote(path)}",
                  f"umount {holder}/{index}"]
    lines.append("mount -o remount,bind,ro /")  # MS_BIND: this mount's flags, in this namespace; not the file system
    assignments = " ".join(shlex.quote(f"{k}={v}") for k, v in env.items())
    lines.append(f"exec setpriv --reuid {uid} --regid {gid} --clear-groups --no-new-privs --inh-caps=-all "
                 f"--bounding-set=-all -- env -i {assignments} {shlex.join(command)}")
    return "\n".join(lines)


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("unshare") or not shutil.which("setpriv"),
                    reason="needs root, unshare and setpriv to apply the pod's uid, capabilities and read-only root")
def test_the_pods_security_context_serves_and_keeps_the_code_sandbox_working():
    pod = deployment()["spec"]["template"]["spec"]
    uid, gid = pod["securityContext"]["runAsUser"], pod["securityContext"]["runAsGroup"]
    assert container()["securityContext"]["readOnlyRootFilesystem"] is True
    python = _pod_interpreter(uid, gid)
    if python is None:
        pytest.skip(f"no Python {sys.version_info.major}.{sys.version_info.minor} here that uid {uid} can run with "
                    "rewardkit importable")
    volumes = {v["name"] for v in pod["volumes"] if "emptyDir" in v}
    writable = [m["mountPath"] for m in container()["volumeMounts"] if m["name"] in volumes]
    command = pod_command()
    home = next(p for p in writable if p.startswith("/home/"))
    settings = load_settings(environ=container_env())
    # What the server computes from the cgroup memory limit, which this process does not have.
    share_mb = int(quantity(container()["resources"]["limits"]["memory"]) // (settings.worker_count + 1) // 2**20)
    port, tag = free_port(), uuid.uuid4().hex
    env = {**pod_environment(port, REWARDKIT_WORKER_MEMORY_MB=str(share_mb)), "HOME": home,
           "PATH": "/usr/local/bin:/usr/bin:/bin", "PYTHONPATH": _import_path(), TAG_VARIABLE: tag}
    entry = [python, "-m", "rewardkit", *command[1:]]  # what the image's `rewardkit` script runs
    holder = tempfile.mkdtemp(prefix="rewardkit-k8s-keep-", dir="/var/tmp")  # under no stand-in volume
    script = _pod_script(uid, gid, writable, env, entry, keep=env["PYTHONPATH"].split(":"), holder=holder)
    try:
        _serve_as_the_pod(script, port, tag)
    finally:
        shutil.rmtree(holder, ignore_errors=True)  # its binds lived in the test's mount namespace only


def _serve_as_the_pod(script: str, port: int, tag: str) -> None:
    with started(["unshare", "--mount", "--propagation", "private", "sh", "-c", script],
                 {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}, f"http://127.0.0.1:{port}", timeout=90, cwd="/",
                 tag=tag) as served:
        url = served.url
        for name in PROBES:
            assert probe(url, container()[name]).status_code == 200, name
        math = httpx.post(f"{url}/rewards/math_accuracy", json=contract_example("vertex_request.json"), timeout=60)
        assert math.status_code == 200 and math.json()["reward"] == 1.0, math.text
        fixture = json.loads((REPO / "rewards" / "fixtures" / "code_tests.reward.jsonl").read_text().splitlines()[0])
        code = httpx.post(f"{url}/rewards/code_tests", json=fixture["request"], timeout=120)
        assert code.status_code == 200, code.text
        assert code.json()["reward"] == fixture["expect"]["score"], served.output()[-4000:]
        assert "SANDBOX ISOLATION IS OFF" not in served.output()


# ---- Kustomize itself ---------------------------------------------------------------------

def _kustomize(folder: Path) -> list[dict[str, Any]]:
    done = subprocess.run(["kubectl", "kustomize", str(folder)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc is not None]


def _rendered_container(docs: list[dict[str, Any]]) -> dict[str, Any]:
    (found,) = [d for d in docs if d["kind"] == "Deployment"]
    return found["spec"]["template"]["spec"]["containers"][0]


@pytest.mark.skipif(not shutil.which("kubectl"), reason="kubectl (its built-in Kustomize) is not installed")
def test_kustomize_renders_the_manifests_and_the_code_sandbox_component_only_unconfines_the_container(tmp_path):
    base = _kustomize(K8S)
    (image,) = kustomization()["images"]
    expected = {kind: json.loads(json.dumps(doc)) for kind, doc in objects().items()}
    expected["Deployment"]["spec"]["template"]["spec"]["containers"][0]["image"] = \
        f"{image['newName']}:{image['newTag']}"
    assert {doc["kind"]: doc for doc in base} == expected

    overlay = tmp_path / "overlay"
    overlay.mkdir()
    relative = os.path.relpath(K8S, overlay)
    (overlay / "kustomization.yaml").write_text(
        f"resources:\n  - {relative}\ncomponents:\n  - {relative}/{SANDBOX_COMPONENT.name}\n")
    relaxed = _rendered_container(_kustomize(overlay))
    profiles = relaxed["securityContext"]
    assert profiles["seccompProfile"] == profiles["appArmorProfile"] == {"type": "Unconfined"}
    # Everything else stays as hardened as the base: same uid, no capability, no escalation, read-only root.
    del profiles["seccompProfile"], profiles["appArmorProfile"]
    assert relaxed == _rendered_container(base)
