"""A small model of the Azure (and Temporal, and api) state the deploy scripts act on.

The deploy-script tests put ``az``, ``temporal``, ``curl`` and ``orderflow`` on ``PATH`` as
wrappers running this file with the tool's name first. Each call is appended to ``$FAKE_LOG``
(``{"tool", "argv", "stdin"}``). The model keeps its state in one JSON file (``$FAKE_STATE``) and
answers the commands the scripts run the way the real tools do, from that state:

* the documents Azure returns (``az containerapp show``, ``revision show/list``, ``ingress
  traffic show``, ``job execution show``, ``deployment group show``, ``acr manifest
  show-metadata``, ``keyvault secret show``) with ``--query`` evaluated as JMESPath and
  ``-o tsv/json`` formatted as the CLI does;
* the changes as the CLI makes them: ``ingress traffic set`` with the weight arithmetic of the
  CLI's ``_update_revision_weights``/``_update_weights`` (a named weight added next to
  ``latestRevision: true`` leaves that entry at 0), ``revision label add`` moving a label,
  ``update`` creating a revision that is first ``Provisioning`` and becomes ``Provisioned`` (or
  ``Failed`` when its image cannot be pulled by the app: another registry, or a digest that
  registry does not hold) on the next look;
* what a request to the api would meet: ``curl`` to the app's FQDN reaches the revision that
  holds its traffic, to ``<app>---<label>.<domain>`` the labelled revision, and ``/health/ready``
  fails on a revision of an image marked broken; every request records the traffic it saw.

Initial states are built by the tests (``AzureState``) as ARM leaves them: traffic
``latestRevision: true`` with no revision name, the first revisions created by ARM.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jmespath

NOT_FOUND = 3  # az exits 3 for a missing resource


class AzError(Exception):
    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


@dataclass
class Args:
    """An argv as the CLI reads it: positional words, and options with their values."""

    words: list[str]
    options: dict[str, list[str]]

    @classmethod
    def parse(cls, argv: list[str]) -> Args:
        words: list[str] = []
        options: dict[str, list[str]] = {}
        current: str | None = None
        for arg in argv:
            if arg.startswith("-") and not arg.startswith("-o=") and arg != "-":
                current = arg
                options.setdefault(arg, [])
            elif current is not None:
                options[current].append(arg)
            else:
                words.append(arg)
        return cls(words, options)

    def one(self, *names: str, default: str | None = None) -> str:
        for name in names:
            if self.options.get(name):
                return self.options[name][0]
        if default is None:
            raise AzError(f"the following arguments are required: {names[0]}", 2)
        return default

    def many(self, name: str) -> list[str]:
        return self.options.get(name, [])

    def flag(self, name: str) -> bool:
        return name in self.options


def _tsv_cell(value: Any) -> str:
    if isinstance(value, list):
        return str(len(value))
    if isinstance(value, dict):
        return ""
    return value if isinstance(value, str) else str(value)


def _tsv_row(value: Any) -> str:
    if isinstance(value, dict):
        return "\t".join(_tsv_cell(v) for _, v in sorted(value.items()))
    if isinstance(value, list):
        return "\t".join(_tsv_cell(v) for v in value)
    return _tsv_cell(value)


def _tsv(value: Any) -> str:
    """``-o tsv`` as the CLI (knack) prints it: a list gives one row per item, a row's list or
    dict its cells tab-separated (a null cell as ``None``); a null result prints nothing."""
    if value is None:
        return ""
    rows = value if isinstance(value, list) else [value]
    return "".join(_tsv_row(row) + "\n" for row in rows)


class Cloud:
    """The state file and the commands that read and change it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.state: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))

    def save(self) -> None:
        self.path.write_text(json.dumps(self.state, indent=1), encoding="utf-8")

    def tick(self) -> str:
        self.state["clock"] += 1
        return f"2026-01-01T00:{self.state['clock'] // 60:02d}:{self.state['clock'] % 60:02d}Z"

    # --- output ---------------------------------------------------------------------------

    def answer(self, args: Args, document: Any) -> str:
        query = args.options.get("--query")
        if query:
            document = jmespath.search(query[0], document)
        output = args.one("-o", "--output", default="json")
        if output == "tsv":
            return _tsv(document)
        if output == "none":
            return ""
        return json.dumps(document, indent=2) + "\n"

    # --- lookups ----------------------------------------------------------------------------

    def app(self, args: Args) -> dict[str, Any]:
        name = args.one("-n", "--name")
        if args.one("-g", "--resource-group") != self.state["resourceGroup"]:
            raise AzError(f"Resource group '{args.one('-g')}' could not be found.", NOT_FOUND)
        try:
            app: dict[str, Any] = self.state["apps"][name]
        except KeyError:
            raise AzError(f"The containerapp '{name}' does not exist", NOT_FOUND) from None
        return app

    @staticmethod
    def revision(app: dict[str, Any], name: str) -> dict[str, Any]:
        for revision in app["revisions"]:
            if revision["name"].lower() == name.lower():
                return revision  # type: ignore[no-any-return]
        raise AzError(f"Revision '{name}' is not a valid revision name.")

    def job(self, args: Args) -> dict[str, Any]:
        name = args.one("-n", "--name")
        try:
            job: dict[str, Any] = self.state["jobs"][name]
        except KeyError:
            raise AzError(f"The containerapp job '{name}' does not exist", NOT_FOUND) from None
        return job

    # --- documents as Azure returns them ------------------------------------------------------

    def weight_of(self, app: dict[str, Any], revision_name: str) -> int:
        total = 0
        for entry in app.get("traffic", []):
            target = (
                app["latestRevisionName"]
                if entry.get("latestRevision")
                else entry.get("revisionName")
            )
            if target == revision_name:
                total += int(entry["weight"])
        return total

    def revision_document(self, app: dict[str, Any], revision: dict[str, Any]) -> dict[str, Any]:
        return {
            "name": revision["name"],
            "type": "Microsoft.App/containerApps/revisions",
            "properties": {
                "active": revision["active"],
                "createdTime": revision["createdTime"],
                "fqdn": f"{revision['name']}.{self.state['domain']}" if app["ingress"] else "",
                "provisioningState": revision["provisioningState"],
                "runningState": "Running" if revision["active"] else "Stopped",
                "template": {"containers": [{"image": revision["image"], "env": revision["env"]}]},
                "trafficWeight": self.weight_of(app, revision["name"]),
            },
        }

    def app_document(self, name: str, app: dict[str, Any]) -> dict[str, Any]:
        latest = self.revision(app, app["latestRevisionName"])
        configuration: dict[str, Any] = {
            "activeRevisionsMode": app["mode"],
            "registries": [{"server": app["registry"], "identity": app["identity"]}],
        }
        if app["ingress"]:
            configuration["ingress"] = {
                "fqdn": f"{name}.{self.state['domain']}",
                "traffic": app["traffic"],
            }
        return {
            "name": name,
            "type": "Microsoft.App/containerApps",
            "properties": {
                "configuration": configuration,
                "latestRevisionName": app["latestRevisionName"],
                "latestReadyRevisionName": app["latestReadyRevisionName"],
                "provisioningState": "Succeeded",
                "template": {"containers": [{"image": latest["image"], "env": latest["env"]}]},
            },
        }

    # --- az ---------------------------------------------------------------------------------

    def az(self, argv: list[str]) -> str:
        args = Args.parse(argv)
        words = args.words
        handler = {
            ("deployment", "group", "show"): self.deployment_show,
            ("acr", "import"): self.acr_import,
            ("acr", "manifest", "show-metadata"): self.acr_manifest,
            ("keyvault", "secret", "show"): self.keyvault_secret,
            ("containerapp", "show"): self.containerapp_show,
            ("containerapp", "update"): self.containerapp_update,
            ("containerapp", "ingress", "traffic", "show"): self.traffic_show,
            ("containerapp", "ingress", "traffic", "set"): self.traffic_set,
            ("containerapp", "revision", "show"): self.revision_show,
            ("containerapp", "revision", "list"): self.revision_list,
            ("containerapp", "revision", "label", "add"): self.label_add,
            ("containerapp", "revision", "activate"): self.revision_activate,
            ("containerapp", "revision", "deactivate"): self.revision_deactivate,
            ("containerapp", "job", "update"): self.job_update,
            ("containerapp", "job", "start"): self.job_start,
            ("containerapp", "job", "execution", "show"): self.job_execution_show,
        }.get(tuple(words))
        if handler is None:
            raise AzError(f"the model does not know 'az {' '.join(words)}'", 2)
        return handler(args)

    def deployment_show(self, args: Args) -> str:
        if args.one("-g") != self.state["resourceGroup"] or args.one("-n") != "orderflow":
            raise AzError("Deployment not found", NOT_FOUND)
        outputs = {k: {"type": "String", "value": v} for k, v in self.state["outputs"].items()}
        return self.answer(
            args, {"properties": {"provisioningState": "Succeeded", "outputs": outputs}}
        )

    def registry(self, name: str) -> dict[str, Any]:
        try:
            registry: dict[str, Any] = self.state["registries"][name]
        except KeyError:
            raise AzError(
                f"The resource with name '{name}' could not be found.", NOT_FOUND
            ) from None
        return registry

    def acr_import(self, args: Args) -> str:
        registry = self.registry(args.one("--name", "-n"))
        source = args.one("--source")
        if source not in self.state["sources"]:
            raise AzError(f"Failed to import {source}: not found or unauthorized")
        expected = self.state["sources"][source]
        if expected.get("username") and (
            args.one("--username", default="") != expected["username"]
            or args.one("--password", default="") != expected["password"]
        ):
            raise AzError(f"Failed to import {source}: unauthorized")
        repository, tag = args.one("--image").split(":", 1)
        digest = source.split("@", 1)[1]
        registry["manifests"].setdefault(repository, {})[digest] = sorted(
            {*registry["manifests"].get(repository, {}).get(digest, []), tag}
        )
        return ""

    def acr_manifest(self, args: Args) -> str:
        registry = self.registry(args.one("--registry", "-r"))
        repository, digest = args.one("--name", "-n").split("@", 1)
        if digest not in registry["manifests"].get(repository, {}):
            raise AzError(f"manifest unknown: {repository}@{digest}", NOT_FOUND)
        tags = registry["manifests"][repository][digest]
        return self.answer(args, {"digest": digest, "tags": tags})

    def keyvault_secret(self, args: Args) -> str:
        vault = self.state["keyVaults"].get(args.one("--vault-name"))
        if vault is None:
            raise AzError("VaultNotFound")
        name = args.one("--name", "-n")
        if name not in vault:
            raise AzError(
                f"(SecretNotFound) A secret with (name/id) {name} was not found in this key vault."
            )
        return self.answer(args, {"name": name, "value": vault[name]})

    def containerapp_show(self, args: Args) -> str:
        app = self.app(args)
        return self.answer(args, self.app_document(args.one("-n"), app))

    def pullable(self, app: dict[str, Any], image: str) -> bool:
        """Can the app's identity pull ``image`` through its registry entry (and network)?"""
        server, _, reference = image.partition("/")
        if server != app["registry"]:
            return False
        repository, _, digest = reference.partition("@")
        for registry in self.state["registries"].values():
            if registry["loginServer"] == server:
                return digest in registry["manifests"].get(repository, {})
        return False

    def containerapp_update(self, args: Args) -> str:
        name = args.one("-n")
        app = self.app(args)
        latest = self.revision(app, app["latestRevisionName"])
        image = args.one("--image", default=latest["image"])
        env = [dict(e) for e in latest["env"]]
        for pair in args.many("--set-env-vars"):
            key, value = pair.split("=", 1)
            env = [e for e in env if e["name"] != key] + [{"name": key, "value": value}]
        # Without a suffix Azure makes one up.
        suffix = args.one("--revision-suffix", default=f"r{self.state['clock'] + 1:06d}")
        revision_name = f"{name}--{suffix}"
        if any(r["name"] == revision_name for r in app["revisions"]):
            raise AzError(
                f"(ContainerAppRevisionSuffixAlreadyExists) revision {revision_name} exists"
            )
        failed = not self.pullable(app, image) or image in self.state["failingImages"]
        revision = {
            "name": revision_name,
            "image": image,
            "env": env,
            "active": True,
            "provisioningState": "Provisioning",
            "becomes": "Failed" if failed else "Provisioned",
            "createdTime": self.tick(),
        }
        app["revisions"].append(revision)
        app["latestRevisionName"] = revision_name
        if app["mode"] == "Single":
            # Single-revision mode: the new revision replaces the old once it is ready.
            self.settle(app, revision)
        return ""

    def settle(self, app: dict[str, Any], revision: dict[str, Any]) -> None:
        if revision["provisioningState"] != "Provisioning":
            return
        revision["provisioningState"] = revision.pop("becomes")
        if revision["provisioningState"] == "Provisioned":
            app["latestReadyRevisionName"] = revision["name"]
            if app["mode"] == "Single":
                for other in app["revisions"]:
                    other["active"] = other is revision

    def traffic_show(self, args: Args) -> str:
        app = self.app(args)
        if not app["ingress"]:
            raise AzError("Ingress must be enabled to show ingress traffic.")
        return self.answer(args, app["traffic"])

    def traffic_set(self, args: Args) -> str:
        """The CLI's set_ingress_traffic, its weight arithmetic included."""
        app = self.app(args)
        if app["mode"] != "Multiple":
            raise AzError("Containerapp is configured for single revision.")
        weights = args.many("--revision-weight")
        if sum(int(w.split("=", 1)[1]) for w in weights) > 100:
            raise AzError("Traffic sums may not exceed 100.")
        traffic = [dict(t) for t in app["traffic"]]
        old_sum = 0
        for pair in weights:
            revision, weight = pair.split("=", 1)
            if revision.lower() != "latest":
                self.revision(app, revision)
            for entry in traffic:
                if (entry.get("latestRevision") and revision.lower() == "latest") or (
                    entry.get("revisionName") or ""
                ).lower() == revision.lower():
                    old_sum += int(entry["weight"])
                    entry["weight"] = int(weight)
                    break
            else:
                traffic.append(
                    {
                        "revisionName": None if revision.lower() == "latest" else revision,
                        "weight": int(weight),
                        "latestRevision": revision.lower() == "latest",
                    }
                )
        new_sum = sum(int(w.split("=", 1)[1]) for w in weights)
        named = {w.split("=", 1)[0].lower() for w in weights}
        divisor = sum(int(t["weight"]) for t in traffic) - new_sum
        if divisor:
            scale = (old_sum - new_sum) / divisor + 1
            for entry in traffic:
                key = (
                    "latest"
                    if entry.get("latestRevision")
                    else (entry.get("revisionName") or "").lower()
                )
                if key not in named:
                    entry["weight"] = round(scale * entry["weight"])
            total, index = sum(int(t["weight"]) for t in traffic), 0
            while total < 100:
                traffic[index % len(traffic)]["weight"] += 1
                index, total = index + 1, total + 1
        app["traffic"] = [self.clean(t) for t in traffic]
        return ""

    @staticmethod
    def clean(entry: dict[str, Any]) -> dict[str, Any]:
        """An entry as Azure stores it: no null name, no null label, latestRevision only if set."""
        out = {k: v for k, v in entry.items() if v is not None and v is not False}
        out["weight"] = int(entry["weight"])
        return out

    def revision_show(self, args: Args) -> str:
        app = self.app(args)
        revision = self.revision(app, args.one("--revision"))
        document = self.revision_document(app, revision)
        self.settle(app, revision)  # provisioning finishes while the caller waits
        return self.answer(args, document)

    def revision_list(self, args: Args) -> str:
        app = self.app(args)
        documents = [self.revision_document(app, r) for r in app["revisions"]]
        if not args.flag("--all"):
            documents = [d for d in documents if d["properties"]["active"]]
        return self.answer(args, documents)

    def label_add(self, args: Args) -> str:
        """The CLI's add_revision_label: a label lives on one traffic entry; --yes moves it."""
        app = self.app(args)
        label, name = args.one("--label"), args.one("--revision")
        self.revision(app, name)
        added = False
        for entry in app["traffic"]:
            if (entry.get("label") or "").lower() == label.lower():
                if not args.flag("--yes") and entry.get("revisionName") != name:
                    raise AzError("cannot specify existing label without agreeing to remove it")
                entry.pop("label")
            if (
                not entry.get("latestRevision")
                and (entry.get("revisionName") or "").lower() == name.lower()
            ):
                entry["label"] = label
                added = True
        if not added:
            app["traffic"].append({"revisionName": name, "weight": 0, "label": label})
        return ""

    def revision_activate(self, args: Args) -> str:
        app = self.app(args)
        self.revision(app, args.one("--revision"))["active"] = True
        return ""

    def revision_deactivate(self, args: Args) -> str:
        app = self.app(args)
        self.revision(app, args.one("--revision"))["active"] = False
        return ""

    def job_update(self, args: Args) -> str:
        job = self.job(args)
        job["image"] = args.one("--image")
        return ""

    def job_start(self, args: Args) -> str:
        job = self.job(args)
        name = f"{args.one('-n')}-x{len(job['executions']) + 1}"
        failed = job["image"] in self.state["failingSetup"] or not self.pullable(job, job["image"])
        job["executions"][name] = {
            "status": "Running",
            "becomes": "Failed" if failed else "Succeeded",
        }
        return self.answer(args, {"name": name, "id": f"/jobs/{args.one('-n')}/executions/{name}"})

    def job_execution_show(self, args: Args) -> str:
        job = self.job(args)
        execution = job["executions"][args.one("--job-execution-name")]
        status = execution["status"]
        if status == "Running":
            execution["status"] = execution.pop("becomes")
        return self.answer(
            args, {"name": args.one("--job-execution-name"), "properties": {"status": status}}
        )

    # --- what a request to the api meets -----------------------------------------------------

    def target(self, host: str) -> dict[str, Any] | None:
        """The api revision a request to ``host`` reaches, or None."""
        domain = self.state["domain"]
        if not host.endswith(f".{domain}"):
            return None
        first = host.removesuffix(f".{domain}")
        for name, app in self.state["apps"].items():
            if not app["ingress"]:
                continue
            if first == name:
                full = [t for t in app["traffic"] if t["weight"] == 100]
                if not full:
                    return None
                entry = full[0]
                revision_name = (
                    app["latestRevisionName"]
                    if entry.get("latestRevision")
                    else entry["revisionName"]
                )
                return self.revision(app, revision_name)
            if first.startswith(f"{name}---"):
                label = first.removeprefix(f"{name}---")
                for entry in app["traffic"]:
                    if entry.get("label") == label:
                        return self.revision(app, entry["revisionName"])
                return None
            for revision in app["revisions"]:
                if revision["name"] == first:
                    return revision  # type: ignore[no-any-return]
        return None

    def healthy(self, revision: dict[str, Any] | None) -> bool:
        return (
            revision is not None
            and revision["active"]
            and revision["provisioningState"] == "Provisioned"
            and revision["image"] not in self.state["brokenImages"]
        )

    def curl(self, argv: list[str], stdin: str) -> tuple[str, int]:
        url = argv[-1]
        host, _, path = url.removeprefix("https://").partition("/")
        revision = self.target(host)
        api = self.state["apps"][self.state["apiApp"]]
        self.state["requests"].append(
            {
                "url": url,
                "revision": None if revision is None else revision["name"],
                "weights": {r["name"]: self.weight_of(api, r["name"]) for r in api["revisions"]},
            }
        )
        if not self.healthy(revision):
            return "", 22
        if path == "health/ready":
            return "", 0
        if path.startswith("orders/"):
            token = self.state["keyVaults"][self.state["outputs"]["keyVaultName"]]["api-token"]
            if stdin.strip() != f"Authorization: Bearer {token}":
                return "", 22
            order = self.state["orders"].get(path.removeprefix("orders/"))
            if order is None:
                return "", 22
            order["looks"] += 1
            if order["looks"] < 2:  # the workflow opens it a moment after it was produced
                return "", 22
            return json.dumps({"OrderID": order["id"], "StatusCode": 1000}), 0
        return "", 22

    def produce(self, stdin: str) -> tuple[str, int]:
        vault = self.state["keyVaults"][self.state["outputs"]["keyVaultName"]]
        if os.environ.get("ORDERFLOW_KAFKA__SASL_PASSWORD") != vault.get(
            "kafka-sasl-password-smoke"
        ):
            return "SASL authentication failed\n", 1
        if (
            os.environ.get("ORDERFLOW_KAFKA__BOOTSTRAP_SERVERS")
            != self.state["outputs"]["kafkaBootstrapServers"]
        ):
            return "no such broker\n", 1
        order = json.loads(stdin)
        self.state["orders"][order["OrderID"]] = {"id": order["OrderID"], "looks": 0}
        return (
            f"order.create.v1[0]@{len(self.state['orders'])} key={order['ShipFromLocationID']}\n",
            0,
        )

    # --- temporal ---------------------------------------------------------------------------

    def temporal(self, argv: list[str]) -> tuple[str, int]:
        vault = self.state["keyVaults"][self.state["outputs"]["keyVaultName"]]
        authenticated = os.environ.get("TEMPORAL_API_KEY") == vault.get("temporal-api-key") or (
            os.environ.get("TEMPORAL_TLS_CLIENT_CERT_DATA") == vault.get("temporal-tls-client-cert")
            and os.environ.get("TEMPORAL_TLS_CLIENT_KEY_DATA")
            == vault.get("temporal-tls-client-key")
        )
        if not authenticated or not os.environ.get("TEMPORAL_ADDRESS"):
            return "Error: failed reaching server: unauthenticated\n", 1
        args = Args.parse(argv)
        build_id = args.one("--build-id")
        versions = self.state["temporal"]["versions"]
        worker = self.state["apps"][self.state["workerApp"]]
        running = {
            e["value"]
            for r in worker["revisions"]
            if r["active"] and r["provisioningState"] == "Provisioned"
            for e in r["env"]
            if e["name"] == "ORDERFLOW_WORKER__BUILD_ID"
        }
        if "describe-version" in args.words:
            if build_id in running:
                versions[build_id] = versions.get(build_id, 0) + 1
            # A worker's first poll registers the version a moment after it started.
            if versions.get(build_id, 0) < 2:
                return f"Error: version {build_id} not found\n", 1
            return json.dumps({"buildId": build_id}), 0
        if "set-current-version" in args.words:
            if versions.get(build_id, 0) < 2:
                return f"Error: version {build_id} not found\n", 1
            self.state["temporal"]["current"] = build_id
            return "", 0
        return "unknown temporal command\n", 2


def main() -> int:
    tool, argv = sys.argv[1], sys.argv[2:]
    stdin = "" if sys.stdin is None or sys.stdin.isatty() else sys.stdin.read()
    with Path(os.environ["FAKE_LOG"]).open("a", encoding="utf-8") as log:
        log.write(json.dumps({"tool": tool, "argv": argv, "stdin": stdin}) + "\n")
    cloud = Cloud(Path(os.environ["FAKE_STATE"]))
    try:
        if tool == "az":
            out, code = cloud.az(argv), 0
        elif tool == "curl":
            out, code = cloud.curl(argv, stdin)
        elif tool == "orderflow":
            out, code = cloud.produce(stdin)
        elif tool == "temporal":
            out, code = cloud.temporal(argv)
        else:
            out, code = f"no model of {tool}\n", 127
    except AzError as error:
        cloud.save()
        sys.stderr.write(f"ERROR: {error}\n")
        return error.code
    cloud.save()
    (sys.stdout if code == 0 else sys.stderr).write(out)
    return code


if __name__ == "__main__":
    sys.exit(main())
