"""Replaying requests through the service: recorded bodies, fixtures, training lines, dataset checks, the report."""
