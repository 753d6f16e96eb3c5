import json
from pathlib import Path
from typing import Any, Iterator

import pytest
from fastapi.testclient import TestClient

import rewardkit

REPO = Path(__file__).resolve().parents[1]
# Request and response bodies exactly as each platform sends and reads them (see its README.md).
CONTRACT_EXAMPLES = REPO / "tests" / "contract_examples"
EXAMPLE_REWARDS = str(REPO / "tests" / "example_rewards.py")


def contract_example(name: str) -> Any:
    return json.loads((CONTRACT_EXAMPLES / name).read_text())


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
