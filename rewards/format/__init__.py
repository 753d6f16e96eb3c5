"""Response shape: `think_format`, `boxed_format`, `length_penalty`, `repetition_penalty`."""

from .length import length_penalty, repeated_ratio, repetition_penalty
from .thinking import boxed_format, think_format

__all__ = ["think_format", "boxed_format", "length_penalty", "repetition_penalty", "repeated_ratio"]
