"""Request bodies checked against small declared schemas, which also feed the OpenAPI document."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from typing import Any

from telepractice.errors import InvalidField, MalformedRequest

_JSON_TYPES = {str: "string", int: "integer", bool: "boolean"}


@dataclasses.dataclass(frozen=True)
class Field:
    name: str
    type: type = str
    required: bool = True
    nullable: bool = False
    max_length: int = 200
    min_length: int = 1
    choices: Sequence[str] | None = None
    minimum: int | None = None
    maximum: int | None = None
    list_of: type | None = None
    max_items: int = 50
    description: str = ""
    secret: bool = False

    def check(self, value: Any) -> Any:
        if value is None:
            if self.nullable:
                return None
            raise InvalidField(f"'{self.name}' may not be null.", field=self.name)
        if self.list_of is not None:
            return self._check_list(value)
        return self._check_scalar(value, self.type)

    def _check_list(self, value: Any) -> list[Any]:
        if not isinstance(value, list):
            raise InvalidField(f"'{self.name}' must be a list.", field=self.name)
        if len(value) > self.max_items:
            raise InvalidField(f"'{self.name}' has more than {self.max_items} items.", field=self.name)
        return [self._check_scalar(item, self.list_of or str) for item in value]

    def _check_scalar(self, value: Any, expected: type) -> Any:
        # bool is an int in Python; JSON true is not a number.
        if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
            raise InvalidField(f"'{self.name}' must be of type {_JSON_TYPES[expected]}.", field=self.name)
        if expected is str:
            if not self.min_length <= len(value) <= self.max_length:
                raise InvalidField(
                    f"'{self.name}' must be {self.min_length} to {self.max_length} characters long.",
                    field=self.name,
                )
            if self.choices is not None and value not in self.choices:
                raise InvalidField(f"'{self.name}' must be one of: {', '.join(self.choices)}.", field=self.name)
        if expected is int:
            if (self.minimum is not None and value < self.minimum) or (
                self.maximum is not None and value > self.maximum
            ):
                raise InvalidField(
                    f"'{self.name}' must be from {self.minimum} to {self.maximum}.", field=self.name
                )
        return value

    def json_schema(self) -> dict[str, Any]:
        if self.list_of is not None:
            schema: dict[str, Any] = {"type": "array", "maxItems": self.max_items, "items": {"type": _JSON_TYPES[self.list_of]}}
        else:
            schema = {"type": _JSON_TYPES[self.type]}
            if self.type is str:
                schema.update(minLength=self.min_length, maxLength=self.max_length)
                if self.choices is not None:
                    schema["enum"] = list(self.choices)
            if self.type is int:
                schema.update({k: v for k, v in (("minimum", self.minimum), ("maximum", self.maximum)) if v is not None})
        if self.nullable:
            schema = {"anyOf": [schema, {"type": "null"}]}
        if self.description:
            schema["description"] = self.description
        return schema


@dataclasses.dataclass(frozen=True)
class Schema:
    name: str
    fields: tuple[Field, ...]

    def __init__(self, name: str, *fields: Field) -> None:
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "fields", fields)

    def validate(self, data: Any) -> dict[str, Any]:
        """The body as a dict of known fields, or InvalidField naming the first problem."""
        if not isinstance(data, Mapping):
            raise InvalidField("The request body must be a JSON object.")
        known = {field.name: field for field in self.fields}
        unknown = sorted(set(data) - set(known))
        if unknown:
            raise InvalidField(f"Unknown field '{unknown[0]}'.", field=unknown[0])
        result: dict[str, Any] = {}
        for field in self.fields:
            if field.name in data:
                result[field.name] = field.check(data[field.name])
            elif field.required:
                raise InvalidField(f"'{field.name}' is required.", field=field.name)
        return result

    def json_schema(self) -> dict[str, Any]:
        return {
            "type": "object",
            "additionalProperties": False,
            "required": [f.name for f in self.fields if f.required],
            "properties": {f.name: f.json_schema() for f in self.fields},
        }


def _refuse_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise MalformedRequest(f"The key '{key}' appears twice.")
        result[key] = value
    return result


def parse_json(raw: bytes) -> Any:
    """Strict JSON: UTF-8, no duplicate keys, no NaN or Infinity."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedRequest("The request body is not UTF-8.") from None

    def _no_constants(name: str) -> Any:
        raise MalformedRequest(f"'{name}' is not valid JSON.")

    try:
        return json.loads(text, object_pairs_hook=_refuse_duplicate_keys, parse_constant=_no_constants)
    except json.JSONDecodeError as error:
        raise MalformedRequest(f"The request body is not valid JSON ({error.msg}).") from None
