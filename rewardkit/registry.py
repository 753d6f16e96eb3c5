"""Rewards as data: the registry that names them and the helpers that find or hang a spec on a function.

What serving, trainer adapters and reward factories use; a reward author writes rewards with the decorators
at the top level (`rewardkit.reward`, `rewardkit.variant`, ...) and never needs these.

    from rewardkit.registry import Registry, spec_of
    app = rewardkit.create_app(Registry([spec_of(exact), spec_of(tidy)]))
"""

from __future__ import annotations

from ._public import show_as
from ._registry import NATIVE_TWIN, Registry, attach, collect, spec_of
from ._sample import DEFAULT_REFERENCE_KEYS

__all__ = ["Registry", "collect", "spec_of", "attach", "NATIVE_TWIN", "DEFAULT_REFERENCE_KEYS"]

show_as(__name__, Registry)
