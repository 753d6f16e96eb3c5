"""What the families of ready-made rewards share: option errors and checks, and response cleaning.

A family imports another family only through the names its package exports; what two families need
in common lives here.
"""

from .options import OptionError, require_choice, require_key
from .text import answer_block, strip_code_blocks, strip_thinking

__all__ = ["OptionError", "require_choice", "require_key", "strip_thinking", "strip_code_blocks", "answer_block"]
