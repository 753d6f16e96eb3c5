"""The error the built-in rewards' option checks raise."""

from rewardkit import RewardkitError


class OptionError(RewardkitError, ValueError):
    """An option of a built-in reward has a value the reward cannot use; the message names it.

    Raised by the `check_options` functions the built-ins declare, so
    `rewardkit.variant` reports a bad variant at import, naming it.
    """


def require_choice(name: str, value: object, choices: tuple[str, ...]) -> None:
    """OptionError unless `value` is one of `choices`."""
    if value not in choices:
        raise OptionError(f"{name} must be one of {', '.join(map(repr, choices))}, got {value!r}")


def require_key(name: str, value: object) -> None:
    """OptionError unless `value` is a non-empty string (a references key)."""
    if not isinstance(value, str) or not value:
        raise OptionError(f"{name} must be a non-empty string, got {value!r}")
