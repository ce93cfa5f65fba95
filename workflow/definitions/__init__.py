"""Workflow definitions: the YAML files shipped here, their schema and their loader."""

from .loader import DefinitionInvalid, Problem, load_text, parse, shipped_files, validate_path
from .schema import Definition, FieldSpec, TimerSpec, TransitionSpec

__all__ = [
    "Definition", "DefinitionInvalid", "FieldSpec", "Problem", "TimerSpec", "TransitionSpec",
    "load_text", "parse", "shipped_files", "validate_path",
]
