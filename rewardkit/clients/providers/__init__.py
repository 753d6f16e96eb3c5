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

from ..._errors import RegistrationError
from ..._plugins import Loader
from .base import Chat, HTTPRequest, Provider, ProviderError, Reply, TokenLogprob, trim

__all__ = ["Chat", "HTTPRequest", "Provider", "ProviderError", "Reply", "TokenLogprob", "ENTRY_POINT_GROUP",
           "DEFAULT", "get", "register", "registered", "trim"]

ENTRY_POINT_GROUP = "rewardkit.judge_providers"
DEFAULT = "openai"
_BUILTIN = ("openai_compatible",)  # modules, imported when first listed

_providers: dict[str, Provider] = {}


def register(provider: Provider | type[Provider]) -> Provider:
    """Make `provider` available to judges as `provider="<its name>"`; registering it again is a no-op.

    An incomplete provider is refused naming the methods it lacks; a taken name, naming both modules."""
    if isinstance(provider, type):
        missing = sorted(getattr(provider, "__abstractmethods__", ())) if issubclass(provider, Provider) else []
        if missing:
            raise TypeError(f"judge provider {provider.__module__}.{provider.__qualname__} does not implement "
                            f"{', '.join(missing)}: a Provider needs request() and reply()")
        provider = provider()
    if not isinstance(provider, Provider):
        raise TypeError(f"register() takes a rewardkit.clients.providers.Provider, got {type(provider).__name__}")
    name = getattr(provider, "name", None)
    if not isinstance(name, str) or not name or not isinstance(getattr(provider, "default_base_url", None), str):
        raise TypeError(f"judge provider {type(provider).__module__}.{type(provider).__qualname__} must set the "
                        "class attributes name and default_base_url (strings)")
    current = _providers.get(name)
    if current is not None:
        if type(current) is type(provider):
            return current
        raise RegistrationError(f"judge provider {name!r} ({type(provider).__module__}) has the same name as the "
                                f"registered provider from {type(current).__module__}")
    _providers[name] = provider
    return provider


_load = Loader(__name__, _BUILTIN, "PROVIDER", ENTRY_POINT_GROUP, "judge provider", register)


def registered() -> tuple[Provider, ...]:
    """Every registered provider: the built-in ones first, then plug-ins, in registration order."""
    _load()
    return tuple(_providers.values())


def get(provider: str | Provider) -> Provider:
    """The provider called `provider` (a Provider passes through); RegistrationError lists the names when none."""
    if isinstance(provider, Provider):
        return provider
    _load()
    try:
        return _providers[provider]
    except KeyError:
        raise RegistrationError(f"no judge provider {provider!r}; registered: {', '.join(_providers)} "
                                f"(plug-ins declare entry points in the {ENTRY_POINT_GROUP!r} group)") from None
