"""Text against a reference: `exact_match`, `transcript_accuracy` (1 - CER / WER)."""

from .exact import exact_match
from .transcript import transcript_accuracy

__all__ = ["exact_match", "transcript_accuracy"]
