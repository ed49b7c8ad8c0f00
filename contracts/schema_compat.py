"""Backward-compatibility check between two versions of a message's JSON Schema.

A change is compatible when every message valid under the old schema is still valid under the new
one (producers keep working) and every field consumers of the old schema read is still there with
the same meaning. Concretely, for every object reachable in the old schema:

* no property disappears and no property becomes required;
* a property's allowed JSON types, enum values and string formats may only widen;
* length, range and digit limits may only relax; a ``pattern`` may not change;
* ``additionalProperties`` may not go from allowed to forbidden.

It is a conservative, structural check (it may refuse a change that is in fact compatible, never
the reverse for the rules above); anything it refuses deserves a new major version (``.v2``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

Schema = Mapping[str, Any]

_LOWER_BOUNDS = ("minLength", "minimum", "exclusiveMinimum", "minItems", "minProperties")
_UPPER_BOUNDS = ("maxLength", "maximum", "exclusiveMaximum", "maxItems", "maxProperties")


def _resolve(node: Schema, root: Schema) -> Schema:
    seen = 0
    while "$ref" in node:
        ref: str = node["$ref"]
        if not ref.startswith("#/"):
            raise ValueError(f"only local $refs are supported, got {ref!r}")
        target: Any = root
        for part in ref[2:].split("/"):
            target = target[part]
        node = target
        seen += 1
        if seen > 50:
            raise ValueError("$ref cycle")
    return node


def _variants(node: Schema, root: Schema) -> list[Schema]:
    """The alternatives of an ``anyOf``/``oneOf`` (or the node itself), refs resolved."""
    node = _resolve(node, root)
    for key in ("anyOf", "oneOf"):
        if key in node:
            out: list[Schema] = []
            for sub in node[key]:
                out.extend(_variants(sub, root))
            return out
    return [node]


def _types(variants: list[Schema]) -> set[str]:
    types: set[str] = set()
    for variant in variants:
        declared = variant.get("type")
        if declared is None:
            types.add("any")
        elif isinstance(declared, list):
            types.update(declared)
        else:
            types.add(declared)
    return types


def _by_type(variants: list[Schema], json_type: str) -> Schema | None:
    for variant in variants:
        declared = variant.get("type")
        if declared == json_type or (isinstance(declared, list) and json_type in declared):
            return variant
    return None


def compare(old: Schema, new: Schema) -> list[str]:
    """Every backward-incompatible difference from ``old`` to ``new`` (empty when compatible)."""
    problems: list[str] = []
    _compare_node(old, new, old, new, "$", problems, depth=0)
    return problems


def _compare_node(
    old: Schema,
    new: Schema,
    old_root: Schema,
    new_root: Schema,
    path: str,
    problems: list[str],
    depth: int,
) -> None:
    if depth > 40:
        return
    old_variants, new_variants = _variants(old, old_root), _variants(new, new_root)
    old_types, new_types = _types(old_variants), _types(new_variants)
    if "any" not in new_types and not old_types <= new_types:
        problems.append(f"{path}: types narrowed from {sorted(old_types)} to {sorted(new_types)}")
    for json_type in sorted(old_types & new_types):
        old_variant = _by_type(old_variants, json_type)
        new_variant = _by_type(new_variants, json_type)
        if old_variant is None or new_variant is None:
            continue
        _compare_constraints(old_variant, new_variant, path, problems)
        if json_type == "object":
            _compare_objects(old_variant, new_variant, old_root, new_root, path, problems, depth)
        if json_type == "array" and "items" in old_variant and "items" in new_variant:
            _compare_node(
                old_variant["items"],
                new_variant["items"],
                old_root,
                new_root,
                f"{path}[]",
                problems,
                depth + 1,
            )


def _compare_constraints(old: Schema, new: Schema, path: str, problems: list[str]) -> None:
    for key in _LOWER_BOUNDS:
        if key in new and (key not in old or new[key] > old[key]):
            problems.append(f"{path}: {key} tightened from {old.get(key)} to {new[key]}")
    for key in _UPPER_BOUNDS:
        if key in new and (key not in old or new[key] < old[key]):
            problems.append(f"{path}: {key} tightened from {old.get(key)} to {new[key]}")
    if "pattern" in new and new.get("pattern") != old.get("pattern"):
        problems.append(
            f"{path}: pattern changed from {old.get('pattern')!r} to {new['pattern']!r}"
        )
    if "enum" in new and not set(old.get("enum", [])) <= set(new["enum"]):
        problems.append(f"{path}: enum values removed")
    if "enum" in new and "enum" not in old:
        problems.append(f"{path}: enum added")
    if "const" in new and new.get("const") != old.get("const"):
        problems.append(f"{path}: const changed")
    if "format" in new and new.get("format") != old.get("format"):
        problems.append(f"{path}: format changed from {old.get('format')!r} to {new['format']!r}")


def _compare_objects(
    old: Schema,
    new: Schema,
    old_root: Schema,
    new_root: Schema,
    path: str,
    problems: list[str],
    depth: int,
) -> None:
    old_props: Mapping[str, Schema] = old.get("properties", {})
    new_props: Mapping[str, Schema] = new.get("properties", {})
    for name in sorted(set(old_props) - set(new_props)):
        problems.append(f"{path}.{name}: property removed")
    newly_required = set(new.get("required", [])) - set(old.get("required", []))
    for name in sorted(newly_required):
        problems.append(f"{path}.{name}: property became required")
    if (
        old.get("additionalProperties", True) is not False
        and new.get("additionalProperties") is False
    ):
        problems.append(f"{path}: additional properties are now forbidden")
    for name in sorted(set(old_props) & set(new_props)):
        _compare_node(
            old_props[name],
            new_props[name],
            old_root,
            new_root,
            f"{path}.{name}",
            problems,
            depth + 1,
        )
