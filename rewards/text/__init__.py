"""Text against a reference: `exact_match`."""

from .exact import exact_match

__all__ = ["exact_match"]
