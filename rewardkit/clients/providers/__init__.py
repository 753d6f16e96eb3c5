"""Judge providers: one module per model API, and the registry `AsyncJudge(provider=...)` looks names up in.

Add an API without touching rewardkit: subclass `Provider` (two methods, `request` and
`reply`), then either call `register(MyProvider())` in the module that defines your rewards,
or declare it in your package's metadata::

    [project.entry-points."rewardkit.judge_providers"]
    gemini = "mypackage.gemini:GeminiProvider"

The entry point names a `Provider` subclass or instance; it is loaded the first time a
provider is looked up by name. See docs/architecture.md.
"""

from __future__ import annotations

from ..._plugins import Registry
from .base import Chat, HTTPRequest, Provider, ProviderError, Reply, TokenLogprob, trim

__all__ = ["Chat", "HTTPRequest", "Provider", "ProviderError", "Reply", "TokenLogprob", "ENTRY_POINT_GROUP",
           "DEFAULT", "get", "register", "registered", "trim"]

ENTRY_POINT_GROUP = "rewardkit.judge_providers"
DEFAULT = "openai"
_BUILTIN = ("openai_compatible",)  # modules, imported when first listed

_registry = Registry[Provider](Provider, "rewardkit.clients.providers.Provider", "judge provider",
                               ("name", "default_base_url"), (__name__, _BUILTIN, "PROVIDER", ENTRY_POINT_GROUP))
# register(provider): make it available to judges as provider="<its name>" (a class is instantiated; again: a
# no-op). registered(): every provider, the built-in ones first. get(name): the provider called name (a
# Provider passes through); RegistrationError listing the registered names when there is none.
register, registered, get = _registry.register, _registry.registered, _registry.get
