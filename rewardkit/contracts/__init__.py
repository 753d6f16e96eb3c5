"""Wire contracts: one module per platform, and the registry the service, replay and tests iterate over.

Add a platform without touching rewardkit: subclass `Contract`, then either
call `register(MyContract())` before the app is built (in the module that
defines your rewards, for instance), or declare it in your package's metadata::

    [project.entry-points."rewardkit.contracts"]
    mytrainer = "mypackage.contract:MyContract"

The entry point names a `Contract` subclass or instance; it is loaded the first
time the contracts are listed. See docs/architecture.md.
"""

from __future__ import annotations

from .._plugins import Loader
from .base import Answer, Contract, ContractError, OpenAPIEntry, Parsed, Prompt, Response, ToolCallValue

__all__ = [
    "Answer", "Contract", "ContractError", "OpenAPIEntry", "Parsed", "Prompt", "Response", "ToolCallValue",
    "ENTRY_POINT_GROUP", "get", "register", "registered",
]

ENTRY_POINT_GROUP = "rewardkit.contracts"
# The built-in contracts, imported when first listed so `import rewardkit` stays light. Nova before
# DashScope: a training line is recognised by the first contract whose `dataset_key` it has, and a
# Nova line has DashScope's 'messages' as well as its own 'reference_answer'.
_BUILTIN = ("vertex", "nova", "dashscope", "openrlhf", "slime")

_contracts: dict[str, Contract] = {}


def register(contract: Contract | type[Contract]) -> Contract:
    """Serve `contract` on every reward's `/rewards/{name}<suffix>` route (and its default route, if any).

    Its name, suffix and default route must be free; registering the same
    contract again is a no-op."""
    if isinstance(contract, type):
        contract = contract()
    if not isinstance(contract, Contract):
        raise TypeError(f"register() takes a rewardkit.contracts.Contract, got {type(contract).__name__}")
    current = _contracts.get(contract.name)
    if current is not None and type(current) is type(contract):
        return current
    for other in _contracts.values():
        clash = ("name" if other.name == contract.name else
                 "route" if other.suffix == contract.suffix else
                 "default route" if contract.default_route and other.default_route == contract.default_route else None)
        if clash:
            raise ContractError(f"contract {contract.name!r} ({type(contract).__module__}) has the same {clash} as "
                                f"the registered contract {other.name!r} ({type(other).__module__})")
    _contracts[contract.name] = contract
    return contract


_load = Loader(__name__, _BUILTIN, "CONTRACT", ENTRY_POINT_GROUP, "contract", register)


def registered() -> tuple[Contract, ...]:
    """Every registered contract: the built-in ones first, then plug-ins, in registration order."""
    _load()
    return tuple(_contracts.values())


def get(name: str) -> Contract:
    """The registered contract called `name`; ContractError lists the names when there is none."""
    _load()
    try:
        return _contracts[name]
    except KeyError:
        raise ContractError(f"no contract {name!r}; registered: {', '.join(_contracts)}") from None
