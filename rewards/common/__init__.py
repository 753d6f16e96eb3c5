"""What the families of ready-made rewards share: option errors and checks, response cleaning, shortened text.

A family imports another family only through the names its package exports; what two families need
in common lives here.
"""

from .options import OptionError, require_choice, require_key
from .text import answer_block, shorten, strip_code_blocks, strip_thinking, tag_pattern

__all__ = ["OptionError", "require_choice", "require_key", "strip_thinking", "strip_code_blocks", "tag_pattern",
           "shorten", "answer_block"]
