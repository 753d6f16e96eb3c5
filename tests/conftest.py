import json
from pathlib import Path
from typing import Any, Iterator

import pytest
from fastapi.testclient import TestClient

import rewardkit

REPO = Path(__file__).resolve().parents[1]
# The shared contract material sits beside the repository (../shared), in CI too.
SHARED_EXAMPLES = REPO / ".." / "shared" / "examples"
EXAMPLE_REWARDS = str(REPO / "tests" / "example_rewards.py")


def shared_example(name: str) -> Any:
    path = SHARED_EXAMPLES / name
    assert path.is_file(), f"missing {path}: the tests read the contract examples from ../shared/examples"
    return json.loads(path.read_text())


@pytest.fixture
def example_client() -> Iterator[TestClient]:
    """The app serving tests/example_rewards.py in-process."""
    with TestClient(rewardkit.create_app(EXAMPLE_REWARDS)) as client:
        yield client


@pytest.fixture(scope="session")
def builtin_client() -> Iterator[TestClient]:
    """The app serving the built-in `rewards` package (the default target)."""
    with TestClient(rewardkit.create_app()) as client:
        yield client
