"""Imported by the forkserver only (it is in its preload list): see `_orphans.guard_forkserver`."""

from .orphans import guard_forkserver

guard_forkserver()
