"""The error the built-in rewards' option checks raise."""


class OptionError(ValueError):
    """An option of a built-in reward has a value the reward cannot use; the message names it.

    Raised by the `check_options` functions the built-ins declare, so
    `rewardkit.variant` reports a bad variant at import, naming it.
    """
