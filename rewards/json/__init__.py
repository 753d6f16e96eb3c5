"""JSON output: `json_schema` (valid against a schema) and `json_match` (field by field against a gold object)."""

from .match import json_match
from .reading import read_json
from .schema import json_schema, schema_validator

__all__ = ["json_schema", "json_match", "read_json", "schema_validator"]
