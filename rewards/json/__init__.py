"""JSON output: `json_schema` (valid against a schema) and `json_match` (field by field against a gold object)."""

from .rewards import json_match, json_schema, read_json, schema_validator

__all__ = ["json_schema", "json_match", "read_json", "schema_validator"]
