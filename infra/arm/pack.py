"""Pack main.json and its linked modules into one self-contained ARM template.

The templates link their modules with ``templateLink.relativePath``. Azure resolves a relative
path only when the parent template itself came from a URI or a template spec, so a template
given as a local file (``az deployment group create --template-file``, ``what-if``, or the
``template:`` dict of Ansible's ``azure.azcollection.azure_rm_deployment``) cannot use it.
This script replaces every such link with the module's content as a nested template evaluated
in its own scope (``expressionEvaluationOptions.scope = inner``), which ARM deploys exactly like
the linked template: same parameters, same outputs, same deployment names.

Usage: ``python infra/arm/pack.py [--output FILE]`` (default: standard output).
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
from pathlib import Path
from typing import Any

MAIN_TEMPLATE = Path(__file__).resolve().parent / "main.json"
DEPLOYMENT_TYPE = "Microsoft.Resources/deployments"


class PackError(RuntimeError):
    """A linked template is missing or links back to itself."""


def load_template(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as handle:
        template: dict[str, Any] = json.load(handle)
    return template


def pack(path: Path, _seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    """The template at ``path`` with every relativePath link inlined, recursively."""
    path = path.resolve()
    if path in _seen:
        raise PackError(f"{path} links to itself through {' -> '.join(p.name for p in _seen)}")
    template = copy.deepcopy(load_template(path))
    for resource in template.get("resources", []):
        properties = resource.get("properties", {})
        link = properties.get("templateLink", {})
        if resource.get("type") != DEPLOYMENT_TYPE or "relativePath" not in link:
            continue
        linked = (path.parent / link["relativePath"]).resolve()
        if not linked.is_file():
            raise PackError(f"{path.name}: {resource.get('name')} links to missing {linked}")
        del properties["templateLink"]
        properties["expressionEvaluationOptions"] = {"scope": "inner"}
        properties["template"] = pack(linked, (*_seen, path))
    return template


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--template", type=Path, default=MAIN_TEMPLATE, help="template to pack")
    parser.add_argument("--output", type=Path, help="where to write (default: standard output)")
    args = parser.parse_args(argv)
    try:
        packed = pack(args.template)
    except PackError as exc:
        print(f"pack: {exc}", file=sys.stderr)
        return 1
    text = json.dumps(packed, indent=2) + "\n"
    if args.output is None:
        sys.stdout.write(text)
    else:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
