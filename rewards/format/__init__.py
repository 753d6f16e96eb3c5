"""Response shape: `think_format`, `boxed_format`, `length_penalty`, `repetition_penalty`."""

from .rewards import boxed_format, length_penalty, repeated_ratio, repetition_penalty, think_format

__all__ = ["think_format", "boxed_format", "length_penalty", "repetition_penalty", "repeated_ratio"]
