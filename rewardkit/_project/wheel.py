"""A wheel of the running rewardkit, for projects that must install it without a package index.

`rewardkit init` puts it in the new project's `wheels/`, as DashScope's own
workflow ships an offline SDK wheel: the project's pip commands and its
Dockerfile install rewardkit from there. An editable install (a checkout) is
built with pip; a regular install is packed back into a wheel from the files
pip recorded, so no source tree or network is needed.
"""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
import sys
import zipfile
from importlib import metadata
from pathlib import Path
from urllib.parse import unquote, urlparse

from .._errors import RewardkitError

DISTRIBUTION = "rewardkit"
# dist-info files that describe one installation, not the package: a wheel must not carry them.
_INSTALL_ONLY = {"INSTALLER", "REQUESTED", "direct_url.json", "RECORD"}
_WHEEL_FILE = "Wheel-Version: 1.0\nGenerator: rewardkit\nRoot-Is-Purelib: true\nTag: py3-none-any\n"


class WheelError(RewardkitError):
    """The running rewardkit cannot be turned into a wheel."""


def wheel_name(version: str) -> str:
    return f"{DISTRIBUTION}-{version}-py3-none-any.whl"


def _editable_source(dist: metadata.Distribution) -> Path | None:
    text = dist.read_text("direct_url.json")
    if not text:
        return None
    info = json.loads(text)
    if not info.get("dir_info", {}).get("editable"):
        return None
    return Path(unquote(urlparse(info["url"]).path))


def _build(source: Path, folder: Path) -> Path:
    command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(folder), str(source)]
    # Without build isolation first: no download when this environment can build (setuptools with bdist_wheel).
    done = subprocess.run([*command, "--no-build-isolation"], capture_output=True, text=True)
    if done.returncode != 0:
        done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise WheelError(f"building rewardkit's wheel from {source} failed:\n{done.stderr.strip()[-2000:]}")
    return folder / wheel_name(metadata.version(DISTRIBUTION))


def _digest(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def _repack(dist: metadata.Distribution, folder: Path) -> Path:
    """The installed files as a wheel: the package files pip recorded, the metadata, a fresh RECORD."""
    version = dist.version
    info_dir = f"{DISTRIBUTION}-{version}.dist-info"
    entries: dict[str, bytes] = {}
    for file in dist.files or ():
        name = file.as_posix()
        top = name.split("/", 1)[0]
        if name.startswith("..") or "__pycache__" in name or name.endswith(".pyc"):
            continue  # console scripts (pip writes them again from entry_points.txt) and bytecode
        if top == info_dir and name.split("/")[-1] in _INSTALL_ONLY:
            continue
        entries[name] = Path(file.locate()).read_bytes()
    if not any(name.startswith("rewardkit/") for name in entries):
        raise WheelError(f"the installed rewardkit at {dist.locate_file('')} lists none of its own files")
    entries.setdefault(f"{info_dir}/WHEEL", _WHEEL_FILE.encode())
    record = [f"{name},{_digest(data)},{len(data)}" for name, data in entries.items()]
    record.append(f"{info_dir}/RECORD,,")
    path = folder / wheel_name(version)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as wheel:
        for name, data in entries.items():
            wheel.writestr(name, data)
        wheel.writestr(f"{info_dir}/RECORD", "\n".join(record) + "\n")
    return path


def write_wheel(folder: Path) -> Path:
    """Put a wheel of the running rewardkit into `folder`; its path."""
    # What pip installed has a RECORD; a checkout's *.egg-info on sys.path (the working directory) does not.
    installed = [d for d in metadata.distributions(name=DISTRIBUTION) if d.read_text("RECORD") is not None]
    if not installed:
        raise WheelError("rewardkit is imported from a folder, not installed: install it (pip install .) so "
                         "its wheel can be made")
    dist = installed[0]
    folder.mkdir(parents=True, exist_ok=True)
    source = _editable_source(dist)
    return _build(source, folder) if source is not None else _repack(dist, folder)
