"""Vendor the Azure resource schemas that the ARM templates use, from a pinned commit.

Azure publishes a JSON Schema for every resource type and API version in the repository
``Azure/azure-resource-manager-schemas`` (``schemas/<apiVersion>/<Provider>.json``, plus
``schemas/common/definitions.json``). This script reads that repository from a local clone at one
commit, finds the definition of every ``type``/``apiVersion`` pair used by ``infra/arm/main.json``
and its modules (at the template's deployment scope), and writes next to itself:

* ``<apiVersion>/<file>.json`` - each provider file used, pruned to the definitions reachable
  from the resource definitions used (the rest of a provider's file is not needed and can be
  large: the network provider's is 0.9 MB); the kept definitions are unchanged;
* ``common/definitions.json`` - the shared definitions they reference;
* ``index.json`` - the source commit and, per ``type@apiVersion@scope``, the file and definition.

Standard library and ``git`` only. Usage::

    git clone https://github.com/Azure/azure-resource-manager-schemas /tmp/arm-schemas
    python infra/arm/schemas/refresh.py --source /tmp/arm-schemas [--commit SHA]

Without ``--commit`` the commit already recorded in ``index.json`` is used (so a template change
vendors the new types from the same snapshot); pass ``--commit HEAD`` to move to the newest.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ARM_DIR = HERE.parent
INDEX = HERE / "index.json"
SCHEMA_HOST = "https://schema.management.azure.com/schemas/"
COMMON = "common/definitions.json"
# Which resourceDefinitions collection applies, by the template's own $schema.
SCOPES = {
    "deploymentTemplate.json": "resourceDefinitions",
    "subscriptionDeploymentTemplate.json": "subscription_resourceDefinitions",
}
# Extension resources (role assignments, diagnostic settings) are listed there too.
FALLBACK_SCOPE = "extension_resourceDefinitions"
DEPLOYMENTS = "microsoft.resources/deployments"


class RefreshError(RuntimeError):
    """A type or API version the templates use is not in the schema repository."""


def template_files() -> list[Path]:
    return [ARM_DIR / "main.json", *sorted((ARM_DIR / "modules").glob("*.json"))]


def _resources(template: dict[str, Any], scope: str) -> Iterator[tuple[str, str, str]]:
    for resource in template.get("resources", []):
        yield resource["type"], resource["apiVersion"], scope
        inline = resource.get("properties", {}).get("template")
        if resource["type"].lower() == DEPLOYMENTS and isinstance(inline, dict):
            yield from _resources(inline, template_scope(inline))


def template_scope(template: dict[str, Any]) -> str:
    schema_name = str(template.get("$schema", "")).rstrip("#").rsplit("/", 1)[-1]
    return SCOPES.get(schema_name, "resourceDefinitions")


def used_resource_types() -> set[tuple[str, str, str]]:
    """Every (type, apiVersion, scope collection) the templates deploy."""
    used: set[tuple[str, str, str]] = set()
    for path in template_files():
        template = json.loads(path.read_text(encoding="utf-8"))
        used.update(_resources(template, template_scope(template)))
    return used


class Source:
    """The schema repository at one commit, read with ``git show``."""

    def __init__(self, clone: Path, commit: str) -> None:
        self.clone = clone
        self.commit = self._git("rev-parse", f"{commit}^{{commit}}").strip()
        self._cache: dict[str, dict[str, Any]] = {}

    def _git(self, *args: str) -> str:
        argv = ["git", "-C", str(self.clone), *args]
        # git from PATH, argv built here, never a shell.
        return subprocess.run(argv, capture_output=True, text=True, check=True).stdout  # noqa: S603

    def files(self, api_version: str) -> list[str]:
        listing = self._git("ls-tree", "--name-only", f"{self.commit}:schemas/{api_version}")
        return sorted(f"{api_version}/{name}" for name in listing.split())

    def load(self, path: str) -> dict[str, Any]:
        if path not in self._cache:
            text = self._git("show", f"{self.commit}:schemas/{path}")
            self._cache[path] = json.loads(text)
        return self._cache[path]


def _declares(definition: dict[str, Any], resource_type: str, api_version: str) -> bool:
    properties = definition.get("properties", {})
    types = [t.lower() for t in properties.get("type", {}).get("enum", [])]
    return resource_type.lower() in types and api_version in properties.get("apiVersion", {}).get(
        "enum", []
    )


def locate(source: Source, resource_type: str, api_version: str, scope: str) -> dict[str, str]:
    """The file and definition that declare ``resource_type`` at ``api_version``."""
    provider = resource_type.split("/", 1)[0].lower()
    try:
        candidates = [
            f for f in source.files(api_version) if f.split("/")[1].lower().startswith(provider)
        ]
    except subprocess.CalledProcessError as exc:
        raise RefreshError(f"no schemas for API version {api_version}") from exc
    # Shortest file name first: Microsoft.App.json before Microsoft.App.ContainerApps.json.
    candidates.sort(key=lambda f: (len(f), f))
    for collection in (scope, FALLBACK_SCOPE):
        for path in candidates:
            definitions = source.load(path).get(collection, {})
            for name, definition in definitions.items():
                if _declares(definition, resource_type, api_version):
                    return {"file": path, "collection": collection, "definition": name}
    raise RefreshError(f"{resource_type}@{api_version} is not in the schemas of {api_version}")


_REF = re.compile(r"^(?P<file>[^#]*)#(?P<pointer>/.*)?$")


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _refs(item)


def _pointer(document: dict[str, Any], pointer: str) -> Any:
    node: Any = document
    for part in pointer.strip("/").split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def _file_of(ref: str, current: str) -> str:
    target = ref.split("#", 1)[0]
    if not target:
        return current
    if not target.startswith(SCHEMA_HOST):
        raise RefreshError(f"{current}: reference outside the schema repository: {ref}")
    return target.removeprefix(SCHEMA_HOST)


def prune(source: Source, roots: dict[str, set[str]]) -> dict[str, dict[str, Any]]:
    """Each file reduced to the roots plus every definition reachable from them.

    ``roots`` maps a file to JSON pointers (``/resourceDefinitions/containerApps`` ...).
    """
    keep: dict[str, set[str]] = {path: set() for path in roots}
    pending = [(path, pointer) for path, pointers in roots.items() for pointer in pointers]
    while pending:
        path, pointer = pending.pop()
        # Keep whole definitions: a reference into one keeps all of it.
        pointer = "/" + "/".join(pointer.strip("/").split("/")[:2])
        if pointer in keep.setdefault(path, set()):
            continue
        keep[path].add(pointer)
        for ref in _refs(_pointer(source.load(path), pointer)):
            match = _REF.match(ref)
            if match is None or not match.group("pointer"):
                raise RefreshError(f"{path}: unsupported reference {ref}")
            pending.append((_file_of(ref, path), match.group("pointer")))
    pruned: dict[str, dict[str, Any]] = {}
    for path, pointers in keep.items():
        document = source.load(path)
        out = {k: v for k, v in document.items() if not isinstance(v, dict)}
        for pointer in sorted(pointers):
            collection, name = pointer.strip("/").split("/", 1)
            out.setdefault(collection, {})[name] = document[collection][name]
        pruned[path] = out
    return pruned


def refresh(source: Source) -> dict[str, Any]:
    """Write the vendored files and index.json; returns the index."""
    entries: dict[str, dict[str, str]] = {}
    roots: dict[str, set[str]] = {}
    for resource_type, api_version, scope in sorted(used_resource_types()):
        entry = locate(source, resource_type, api_version, scope)
        entries[f"{resource_type}@{api_version}@{scope}"] = entry
        roots.setdefault(entry["file"], set()).add(f"/{entry['collection']}/{entry['definition']}")
    pruned = prune(source, roots)
    for stale in HERE.glob("*/*.json"):
        if stale.relative_to(HERE).as_posix() not in pruned:
            stale.unlink()
    for path, document in pruned.items():
        target = HERE / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    for folder in HERE.iterdir():
        if folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()
    index = {
        "source": "https://github.com/Azure/azure-resource-manager-schemas",
        "commit": source.commit,
        "resources": entries,
    }
    INDEX.write_text(json.dumps(index, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return index


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, required=True, help="clone of the schema repo")
    parser.add_argument("--commit", help="commit to vendor (default: the one in index.json)")
    args = parser.parse_args(argv)
    commit = args.commit
    if commit is None:
        if not INDEX.is_file():
            parser.error("no index.json yet: pass --commit")
        commit = json.loads(INDEX.read_text(encoding="utf-8"))["commit"]
    try:
        index = refresh(Source(args.source, commit))
    except (RefreshError, subprocess.CalledProcessError) as exc:
        print(f"refresh: {exc}", file=sys.stderr)
        return 1
    print(f"vendored {len(index['resources'])} resource types from {index['commit']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
