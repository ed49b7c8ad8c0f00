"""The ARM templates against Azure's published resource schemas (infra/arm/schemas, pinned).

Every resource's type and API version must have a published schema at the template's scope, and
every resource must validate against it: as written (expressions stand for any value) and as
evaluated for each environment's parameter file in both Temporal auth modes (where the evaluator
of arm_support computes the values). The validator itself is tested on small resources first, so
a pass below means something.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.infra.arm_schemas import (
    INDEX,
    SCHEMAS_DIR,
    Finding,
    check_evaluated,
    check_resource,
    check_template,
    index,
    template_scope,
)
from tests.infra.arm_support import (
    ENVIRONMENTS,
    load,
    main_context,
    module_contexts,
    module_files,
    resources,
    template_files,
)


@dataclass(frozen=True)
class SchemaDefect:
    """A finding that is the published schema's mistake, not the template's."""

    resource_type: str
    path: re.Pattern[str]
    message: str
    reason: str

    def explains(self, finding: Finding) -> bool:
        return (
            finding.resource_type == self.resource_type
            and self.path.fullmatch(finding.path) is not None
            and self.message in finding.message
        )


# Each entry says why the template is right and the schema wrong; the last test checks that
# every entry still explains a finding, so a fixed schema retires its entry.
SCHEMA_DEFECTS = (
    SchemaDefect(
        "Microsoft.Insights/metricAlerts",
        re.compile(r"properties\.criteria\.(allOf|odata\.type)"),
        "is not of type 'object'",
        "the criteria union carries additionalProperties {type: object} next to its oneOf, so "
        "every criteria property (the allOf list, the odata.type string) fails it; the REST API "
        "and the template reference take exactly these properties",
    ),
    SchemaDefect(
        "Microsoft.App/containerApps",
        re.compile(r"properties\.template\.containers\.\d+\.resources\.cpu"),
        "is not of type 'integer'",
        "the schema types cpu as integer while its own description says 'e.g. 0.5'; the REST "
        "API takes a double, and Consumption replicas need 0.25-4 in steps of 0.25",
    ),
    SchemaDefect(
        "Microsoft.App/jobs",
        re.compile(r"properties\.template\.containers\.\d+\.resources\.cpu"),
        "is not of type 'integer'",
        "as for containerApps: cpu is a double in the REST API",
    ),
    SchemaDefect(
        "Microsoft.Resources/tags",
        re.compile(r"properties\.tags"),
        "is not of type 'string'",
        "the schema flattens the Tags body into a map of strings; the REST API and the template "
        "reference take properties.tags as that map",
    ),
)
used_defects: set[SchemaDefect] = set()


def real(findings: list[Finding]) -> list[str]:
    """The findings no known schema defect explains."""
    left = []
    for finding in findings:
        defect = next((d for d in SCHEMA_DEFECTS if d.explains(finding)), None)
        if defect is None:
            left.append(str(finding))
        else:
            used_defects.add(defect)
    return left


# --------------------------------------------------------------------------- the validator


def container_app(**properties: object) -> dict[str, object]:
    return {
        "type": "Microsoft.App/containerApps",
        "apiVersion": "2025-01-01",
        "name": "orderflow-dev-weu-api",
        "location": "westeurope",
        "properties": properties,
    }


def probe(**fields: object) -> dict[str, object]:
    template = {"containers": [{"name": "api", "image": "x", "probes": [fields]}]}
    return container_app(template=template)


def messages(resource: dict[str, object]) -> list[str]:
    return [f.message for f in check_resource(resource, "resourceDefinitions", "test")]


def test_an_expression_stands_for_any_value() -> None:
    assert messages(probe(type="[parameters('kind')]", failureThreshold="[variables('n')]")) == []
    assert messages(container_app(template="[variables('template')]")) == []


def test_enums_bounds_unknown_properties_and_required_fields_are_caught() -> None:
    assert any("'Sometimes'" in m for m in messages(probe(type="Sometimes")))
    assert messages(probe(type="Startup", failureThreshold=24)) == [
        "24 is above the documented maximum 10"
    ]
    assert messages(probe(type="Startup", failureThreshold=0)) == [
        "0 is below the documented minimum 1"
    ]
    assert messages(probe(type="Startup", failureThresold=3)) == [
        "'failureThresold' is not a property of this object"
    ]
    missing_location = {k: v for k, v in container_app().items() if k != "location"}
    assert messages(missing_location) == ["'location' is a required property"]


def test_an_unknown_type_or_api_version_is_a_finding() -> None:
    unknown = {**container_app(), "apiVersion": "2031-01-01"}
    assert "no published schema for Microsoft.App/containerApps@2031-01-01" in messages(unknown)[0]


# --------------------------------------------------------------------------- the vendored set


def used_types() -> set[tuple[str, str, str]]:
    used = set()
    for path in template_files():
        template = load(path)
        for item in resources(template):
            used.add((item["type"], item["apiVersion"], template_scope(template)))
    return used


def test_every_type_and_api_version_in_use_is_vendored_from_the_pinned_commit() -> None:
    document = index()
    assert re.fullmatch(r"[0-9a-f]{40}", document["commit"])
    assert document["source"] == "https://github.com/Azure/azure-resource-manager-schemas"
    expected = {f"{t}@{v}@{s}" for t, v, s in used_types()}
    assert set(document["resources"]) == expected, "run infra/arm/schemas/refresh.py"
    for entry in document["resources"].values():
        assert (SCHEMAS_DIR / entry["file"]).is_file(), entry
    readme = (SCHEMAS_DIR / "README.md").read_text(encoding="utf-8")
    assert document["commit"] in readme
    vendored = {p.relative_to(SCHEMAS_DIR).as_posix() for p in SCHEMAS_DIR.glob("*/*.json")}
    files = {e["file"] for e in document["resources"].values()} | {"common/definitions.json"}
    assert vendored == files, "stale or missing vendored files: run refresh.py"
    assert INDEX.is_file()


# --------------------------------------------------------------------------- the templates


@pytest.mark.parametrize("path", template_files(), ids=lambda p: p.name)
def test_template_as_written_matches_the_schemas(path: Path) -> None:
    assert real(check_template(path)) == []


def evaluated(environment: str, mode: str) -> list[Finding]:
    """Findings of main.json and of every module deployment, evaluated for one environment."""
    findings = check_evaluated(
        main_context(environment, temporalAuthMode=mode), f"{environment}/main.json"
    )
    for module in module_files():
        for context in module_contexts(environment, module, temporalAuthMode=mode):
            findings += check_evaluated(context, f"{environment}/{module.name}")
    return findings


@pytest.mark.parametrize("mode", ["apiKey", "mtls"])
@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_resources_as_evaluated_for_each_environment_match_the_schemas(
    environment: str, mode: str
) -> None:
    assert real(evaluated(environment, mode)) == []


def test_every_known_schema_defect_still_explains_a_finding() -> None:
    for path in template_files():
        real(check_template(path))
    for environment in ENVIRONMENTS:
        real(evaluated(environment, "apiKey"))
    assert set(SCHEMA_DEFECTS) - used_defects == set()
