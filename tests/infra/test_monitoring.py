"""Monitoring as code: the metric catalogue, alert rules, dashboards, Alloy config and the
operations doc, checked against each other and with the real tools (promtool, a Prometheus
server). Offline and fast: nothing here needs the app's services."""

from __future__ import annotations

import functools
import json
import re
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from orderflow.devstack.net import free_port, http_ok
from tests.helpers.tools import REPO_ROOT, tool

MONITORING = REPO_ROOT / "infra" / "monitoring"
RULES_DIR = MONITORING / "prometheus" / "rules"
RULE_TESTS_DIR = MONITORING / "prometheus" / "tests"
DASHBOARDS_DIR = MONITORING / "grafana" / "dashboards"
GENERATOR = MONITORING / "grafana" / "generate_dashboards.py"
ALLOY_CONFIG = MONITORING / "alloy" / "config.alloy"
DOC = REPO_ROOT / "docs" / "operations" / "monitoring.md"

COMPONENTS = {"worker", "bridge", "api"}
RUNBOOK_URL = re.compile(
    r"^https://github\.com/<org>/orderflow/blob/main/docs/operations/monitoring\.md"
    r"#(?P<anchor>[a-z0-9-]+)$"
)
LOKI_LABELS = {"service", "environment", "level"}

# Grafana's template variables, replaced by what Grafana would send for a one-hour view.
GRAFANA_VARIABLES = {
    "$__rate_interval": "1m",
    "$__interval": "15s",
    "$__range": "1h",
}


# --------------------------------------------------------------------------- loading


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


@functools.cache
def catalogue() -> dict[str, dict[str, Any]]:
    return {m["name"]: m for m in load_yaml(MONITORING / "metrics.yaml")["metrics"]}


def rule_files() -> list[Path]:
    return sorted(RULES_DIR.glob("*.yml"))


@functools.cache
def rules() -> list[dict[str, Any]]:
    return [
        rule
        for path in rule_files()
        for group in load_yaml(path)["groups"]
        for rule in group["rules"]
    ]


@functools.cache
def alerts() -> dict[str, dict[str, Any]]:
    return {rule["alert"]: rule for rule in rules() if "alert" in rule}


def recorded_names() -> set[str]:
    return {rule["record"] for rule in rules() if "record" in rule}


@functools.cache
def dashboards() -> dict[str, dict[str, Any]]:
    return {
        path.name: json.loads(path.read_text(encoding="utf-8"))
        for path in sorted(DASHBOARDS_DIR.glob("*.json"))
    }


def panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel, rows and panels nested in collapsed rows included."""
    for panel in dashboard.get("panels", []):
        yield panel
        yield from panel.get("panels", [])


def queries(kind: str) -> list[tuple[str, str, str]]:
    """(dashboard file, panel title, expression) of every query of datasource type ``kind``."""
    found = []
    for name, dashboard in dashboards().items():
        for panel in panels(dashboard):
            for target in panel.get("targets", []):
                if target["datasource"]["type"] == kind:
                    found.append((name, panel["title"], target["expr"]))
    return found


_STRING = re.compile(r'"(?:\\.|[^"\\])*"|\'(?:\\.|[^\'\\])*\'|`[^`]*`')
_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_HISTOGRAM_SUFFIX = re.compile(r"_(bucket|sum|count)$")


def metric_names(promql: str) -> set[str]:
    """Names of Orderflow and Temporal metrics a PromQL expression selects.

    String literals (label values, regexes) are removed first, so ``job="orderflow-api"`` or
    ``route!~"/metrics"`` never count; names with a colon are recording rules (checked apart).
    """
    code = _STRING.sub('""', promql)
    return {
        token
        for token in _NAME.findall(code)
        if token.startswith(("orderflow_", "temporal_")) and ":" not in token
    }


def referenced_metrics() -> dict[str, str]:
    """Every metric an alert/recording rule or a dashboard panel reads, with where (the first
    place that reads it)."""
    used: dict[str, str] = {}
    for rule in rules():
        for name in metric_names(rule["expr"]):
            used.setdefault(name, f"rule {rule.get('alert') or rule.get('record')}")
    for dashboard, title, expr in queries("prometheus"):
        for name in metric_names(expr):
            used.setdefault(name, f"{dashboard}: {title}")
    return used


def recording_rule_references(promql: str) -> set[str]:
    return {t for t in _NAME.findall(_STRING.sub('""', promql)) if t.count(":") >= 2}


def catalogued(name: str, metrics: dict[str, dict[str, Any]]) -> bool:
    if name in metrics:
        return True
    base = _HISTOGRAM_SUFFIX.sub("", name)
    return base != name and metrics.get(base, {}).get("type") == "histogram"


def github_anchors(markdown: str) -> set[str]:
    """The anchors GitHub gives the headings of ``markdown``."""
    anchors = set()
    for line in markdown.splitlines():
        heading = re.match(r"^#{1,6}\s+(.*?)\s*$", line)
        if heading:
            text = heading.group(1).strip().lower()
            text = re.sub(r"[^\w\- ]", "", text)
            anchors.add(text.replace(" ", "-"))
    return anchors


def duration_seconds(text: str) -> int:
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    return sum(int(n) * units[u] for n, u in re.findall(r"(\d+)([smhd])", text))


# --------------------------------------------------------------------------- catalogue


def test_catalogue_entries_are_well_formed() -> None:
    entries = load_yaml(MONITORING / "metrics.yaml")["metrics"]
    names = [entry["name"] for entry in entries]
    assert len(names) == len(set(names)), "duplicate metric names"
    for entry in entries:
        name = entry["name"]
        assert re.fullmatch(r"(orderflow|temporal)_[a-z0-9_]+", name), name
        assert entry["type"] in {"counter", "gauge", "histogram"}, name
        assert entry["source"] in {"orderflow", "temporal-meter", "temporal-sdk"}, name
        assert entry["components"], name
        assert set(entry["components"]) <= COMPONENTS, name
        assert entry["help"].strip(), name
        for label in entry["labels"]:
            assert re.fullmatch(r"[a-z_][a-z0-9_]*", label), (name, label)
            assert label not in {"job", "instance", "le", "__name__"}, (name, label)
        assert not _HISTOGRAM_SUFFIX.search(name), f"{name}: list histograms by base name"
        if entry["type"] == "counter":
            assert name.endswith("_total"), f"{name}: counters end in _total"
        if entry["type"] == "histogram" and entry["source"] != "orderflow":
            # Temporal's unit_suffix appends the unit: every histogram it exports is a duration.
            assert name.endswith("_seconds"), name
        if entry["source"] == "temporal-sdk":
            assert entry["components"] == ["worker"], name


# --------------------------------------------------------------------------- promtool


def test_promtool_check_rules() -> None:
    result = subprocess.run(
        [tool("promtool"), "check", "rules", *map(str, rule_files())],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_unit_tests_of_the_rules_pass() -> None:
    test_files = sorted(RULE_TESTS_DIR.glob("*.yml"))
    assert test_files
    result = subprocess.run(
        [tool("promtool"), "test", "rules", *map(str, test_files)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("SUCCESS") == len(test_files), result.stdout


def test_promtool_check_config_of_the_local_prometheus() -> None:
    config = MONITORING / "prometheus" / "prometheus.yml"
    result = subprocess.run(
        [tool("promtool"), "check", "config", str(config)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    # Every rule file of rules/ is loaded.
    assert f"SUCCESS: {len(rule_files())} rule files found" in result.stdout + result.stderr
    jobs = {job["job_name"] for job in load_yaml(config)["scrape_configs"]}
    assert jobs == {f"orderflow-{component}" for component in COMPONENTS}


# --------------------------------------------------------------------------- alert rules


def test_every_alert_has_severity_summary_description_and_runbook() -> None:
    assert alerts()
    for name, rule in alerts().items():
        assert re.fullmatch(r"Orderflow[A-Za-z0-9]+", name), name
        assert rule["labels"]["severity"] in {"critical", "warning"}, name
        for annotation in ("summary", "description", "runbook_url"):
            assert rule["annotations"].get(annotation, "").strip(), (name, annotation)


def test_every_runbook_url_points_to_a_section_of_the_monitoring_doc() -> None:
    anchors = github_anchors(DOC.read_text(encoding="utf-8"))
    for name, rule in alerts().items():
        url = RUNBOOK_URL.match(rule["annotations"]["runbook_url"])
        assert url, f"{name}: runbook_url does not follow the documented form"
        assert url.group("anchor") in anchors, f"{name}: no section #{url.group('anchor')}"
        assert url.group("anchor") == name.lower(), name


def test_the_issue_s_alerts_exist() -> None:
    expected = {
        "OrderflowConsumerLagHigh",
        "OrderflowOldestUnprocessedRecordTooOld",
        "OrderflowDeadLetterRateHigh",
        "OrderflowApiLatencyP95High",
        "OrderflowApiErrorRateHigh",
        "OrderflowNotReady",
        "OrderflowNoOrdersOpenedWhileLagGrows",
        "OrderflowWorkerTaskSlotsExhausted",
        "OrderflowWorkflowTaskScheduleToStartHigh",
        "OrderflowActivityScheduleToStartHigh",
        "OrderflowBridgePausedTooLong",
        "OrderflowDbPoolExhausted",
    }
    assert expected <= set(alerts())


def test_every_alert_is_unit_tested_firing_and_not_firing() -> None:
    """Each alert fires in some promtool test, and some other test (a healthy shape, not
    just a `for` still pending) asserts at a time past its `for` that it does not."""
    fires: set[str] = set()
    stays_silent: set[str] = set()
    for path in sorted(RULE_TESTS_DIR.glob("*.yml")):
        for case in load_yaml(path)["tests"]:
            checks = case.get("alert_rule_test", [])
            fired_here = {c["alertname"] for c in checks if c.get("exp_alerts")}
            fires |= fired_here
            for check in checks:
                name = check["alertname"]
                if check.get("exp_alerts") or name in fired_here or name not in alerts():
                    continue
                hold = duration_seconds(str(alerts()[name].get("for", "0s")))
                if duration_seconds(check["eval_time"]) > hold:
                    stays_silent.add(name)
    assert not set(alerts()) - fires, f"never fired in a test: {set(alerts()) - fires}"
    missing = set(alerts()) - stays_silent
    assert not missing, f"no test where these stay silent: {missing}"


def test_the_lag_alert_fires_for_a_paused_bridge_with_growing_lag_and_age() -> None:
    """The acceptance shape: orderflow_bridge_paused=1 while lag and oldest age grow."""
    for path in sorted(RULE_TESTS_DIR.glob("*.yml")):
        for case in load_yaml(path)["tests"]:
            series = {s["series"].split("{")[0]: s["values"] for s in case["input_series"]}
            fired = {c["alertname"] for c in case["alert_rule_test"] if c.get("exp_alerts")}
            if (
                "OrderflowConsumerLagHigh" in fired
                and " 1x" in series.get("orderflow_bridge_paused", "")
                and "+" in series.get("orderflow_bridge_consumer_lag", "")
                and "+" in series.get("orderflow_bridge_oldest_unprocessed_age_seconds", "")
            ):
                return
    pytest.fail("no promtool test fires the lag alert for a paused bridge with growing series")


def test_thresholds_are_defined_once_and_all_used() -> None:
    thresholds = {n for n in recorded_names() if n.startswith("orderflow:alert_threshold:")}
    used: set[str] = set()
    for rule in alerts().values():
        references = recording_rule_references(rule["expr"])
        assert references <= recorded_names(), f"{rule['alert']}: unknown {references}"
        used |= references
    assert thresholds == used, f"defined but unused: {thresholds - used}"
    doc = DOC.read_text(encoding="utf-8")
    assert all(f"`{name}`" in doc for name in thresholds)


def test_every_metric_in_rules_and_dashboards_is_in_the_catalogue() -> None:
    metrics = catalogue()
    used = referenced_metrics()
    assert used, "no metric found in rules or dashboards"
    unknown = {name: where for name, where in used.items() if not catalogued(name, metrics)}
    assert not unknown, f"not in infra/monitoring/metrics.yaml: {unknown}"


def test_metric_name_parsing_ignores_strings_and_recording_rules() -> None:
    expr = (
        'sum(rate(orderflow_api_request_duration_seconds_bucket{route!~"/orderflow_x",'
        ' job="temporal_y"}[5m])) > on() group_left() orderflow:alert_threshold:z'
    )
    assert metric_names(expr) == {"orderflow_api_request_duration_seconds_bucket"}
    assert recording_rule_references(expr) == {"orderflow:alert_threshold:z"}
    assert catalogued("orderflow_api_request_duration_seconds_bucket", catalogue())
    assert not catalogued("orderflow_bridge_paused_count", catalogue())


# --------------------------------------------------------------------------- dashboards


def test_dashboards_exist_for_every_area() -> None:
    assert set(dashboards()) == {
        "order-flow.json",
        "kafka.json",
        "temporal-worker.json",
        "database.json",
        "api.json",
        "logs.json",
    }


def test_dashboards_are_valid_with_unique_ids_and_the_datasource_variables() -> None:
    uids = set()
    for name, dashboard in dashboards().items():
        assert dashboard["uid"] not in uids, name
        uids.add(dashboard["uid"])
        assert "orderflow" in dashboard["tags"]
        variables = {v["name"]: v for v in dashboard["templating"]["list"]}
        assert variables["datasource"]["type"] == "datasource"
        assert variables["datasource"]["query"] == "prometheus"
        ids = [panel["id"] for panel in panels(dashboard)]
        assert len(ids) == len(set(ids)), f"{name}: duplicate panel IDs"
        kinds_used = set()
        for panel in panels(dashboard):
            if panel["type"] == "row":
                continue
            source = panel["datasource"]
            expected = {"prometheus": "${datasource}", "loki": "${loki}"}[source["type"]]
            assert source["uid"] == expected, (name, panel["title"])
            assert panel["targets"], (name, panel["title"])
            ref_ids = [target["refId"] for target in panel["targets"]]
            assert all(ref_ids), (name, panel["title"])
            assert len(ref_ids) == len(set(ref_ids)), (name, panel["title"])
            for target in panel["targets"]:
                assert target["datasource"] == source, (name, panel["title"])
                kinds_used.add(source["type"])
        if "loki" in kinds_used:
            assert variables["loki"]["type"] == "datasource"
            assert variables["loki"]["query"] == "loki"
    assert "loki" in {v["name"] for v in dashboards()["logs.json"]["templating"]["list"]}


def test_dashboard_panels_do_not_overlap() -> None:
    for name, dashboard in dashboards().items():
        taken: dict[tuple[int, int], str] = {}
        for panel in dashboard["panels"]:
            grid = panel["gridPos"]
            assert grid["x"] + grid["w"] <= 24, (name, panel["title"])
            for x in range(grid["x"], grid["x"] + grid["w"]):
                for y in range(grid["y"], grid["y"] + grid["h"]):
                    assert (x, y) not in taken, (name, panel["title"], taken[(x, y)])
                    taken[(x, y)] = panel["title"]


def test_api_latency_panels_draw_the_100ms_line() -> None:
    latency_panels = [
        panel
        for panel in panels(dashboards()["api.json"])
        if any(
            "orderflow_api_request_duration_seconds" in t["expr"] for t in panel.get("targets", [])
        )
        and panel["type"] == "timeseries"
    ]
    assert len(latency_panels) >= 3  # p50, p95, p99 by route
    for panel in latency_panels:
        defaults = panel["fieldConfig"]["defaults"]
        assert defaults["unit"] == "s"
        assert 0.1 in [step["value"] for step in defaults["thresholds"]["steps"]], panel["title"]
        assert defaults["custom"]["thresholdsStyle"]["mode"] != "off", panel["title"]


def test_committed_dashboards_are_what_the_code_generates(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(GENERATOR), "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    generated = {p.name: p.read_text(encoding="utf-8") for p in tmp_path.glob("*.json")}
    committed = {p.name: p.read_text(encoding="utf-8") for p in DASHBOARDS_DIR.glob("*.json")}
    assert generated.keys() == committed.keys()
    stale = sorted(name for name in generated if generated[name] != committed[name])
    assert not stale, f"stale, run {GENERATOR.relative_to(REPO_ROOT)}: {stale}"


def test_loki_queries_select_streams_by_the_promised_labels_only() -> None:
    loki_queries = queries("loki")
    assert loki_queries
    for dashboard, title, expr in loki_queries:
        for selector in re.findall(r"\{([^}]*)\}", expr):
            labels = set(re.findall(r"([a-zA-Z_]\w*)\s*(?:=~|!~|!=|=)", selector))
            assert labels, (dashboard, title, expr)
            assert labels <= LOKI_LABELS, (dashboard, title, expr)


@pytest.fixture(scope="module")
def prometheus_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real Prometheus (Debian's package) with no scrape targets, on a free port."""
    workdir = tmp_path_factory.mktemp("prometheus")
    config = workdir / "prometheus.yml"
    config.write_text("global:\n  scrape_interval: 15s\n", encoding="utf-8")
    port = free_port()
    log_path = workdir / "prometheus.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [
                tool("prometheus"),
                f"--config.file={config}",
                f"--storage.tsdb.path={workdir / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(f"{url}/-/ready", process, log_path)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


def wait_until_ready(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 30
    while not http_ok(url):
        if process.poll() is not None:
            pytest.fail(f"prometheus exited: {log.read_text(errors='replace')[-2000:]}")
        if time.monotonic() > deadline:
            pytest.fail(f"prometheus not ready: {log.read_text(errors='replace')[-2000:]}")
        time.sleep(0.1)


def substitute_grafana_variables(expr: str) -> str:
    for variable, value in GRAFANA_VARIABLES.items():
        expr = expr.replace(variable, value)
    assert "$" not in expr, f"unreplaced Grafana variable in {expr}"
    return expr


def prometheus_answer(prometheus_url: str, expr: str) -> dict[str, Any]:
    """Prometheus' JSON answer to the instant query ``expr`` (errors included, not raised)."""
    body = urllib.parse.urlencode({"query": expr}).encode()
    request = urllib.request.Request(f"{prometheus_url}/api/v1/query", data=body)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            answer: dict[str, Any] = json.load(response)
    except urllib.error.HTTPError as exc:
        answer = json.load(exc)
    return answer


def test_every_dashboard_promql_query_evaluates(prometheus_url: str) -> None:
    prometheus_queries = queries("prometheus")
    assert len(prometheus_queries) > 50
    failures = []
    for dashboard, title, expr in prometheus_queries:
        answer = prometheus_answer(prometheus_url, substitute_grafana_variables(expr))
        if answer.get("status") != "success":
            failures.append((dashboard, title, expr, answer.get("error")))
    assert not failures


# --------------------------------------------------------------------------- logs (Alloy)


def alloy_code() -> str:
    """config.alloy without comments and string contents (braces in strings don't count)."""
    text = ALLOY_CONFIG.read_text(encoding="utf-8")
    text = re.sub(r'"(?:\\.|[^"\\])*"', '""', text)
    return re.sub(r"//[^\n]*", "", text)


def test_alloy_config_is_structurally_sound() -> None:
    code = alloy_code()
    depth = 0
    for char in code:
        depth += {"{": 1, "}": -1}.get(char, 0)
        assert depth >= 0, "unbalanced braces"
    assert depth == 0, "unbalanced braces"
    declared = set(re.findall(r"^([a-z_]+\.[a-z_.]+)\s+\"\"\s*\{", code, re.M))
    text = ALLOY_CONFIG.read_text(encoding="utf-8")
    components = dict(re.findall(r'^([a-z_]+\.[a-z_.]+)\s+"([a-z_]+)"\s*\{', text, re.M))
    assert declared == set(components)
    names = {f"{kind}.{label}" for kind, label in re.findall(r'^([a-z_.]+)\s+"(\w+)"', text, re.M)}
    for reference in re.findall(
        r"\b((?:local|discovery|loki)\.[a-z_.]+?\.\w+)\.(?:receiver|targets|output)\b", code
    ):
        assert reference in names, f"{reference} is referenced but not declared"
    assert "loki.write" in components
    assert "loki.process" in components


def test_alloy_ships_only_the_low_cardinality_labels() -> None:
    text = ALLOY_CONFIG.read_text(encoding="utf-8")
    keep = re.search(r"stage\.label_keep\s*\{\s*values\s*=\s*\[([^\]]*)\]", text)
    assert keep, "config.alloy must end its pipeline with stage.label_keep"
    assert set(re.findall(r'"(\w+)"', keep.group(1))) == LOKI_LABELS
    label_stages = re.findall(r"stage\.(?:labels|static_labels)\s*\{(.*?)\n  \}", text, re.S)
    assert label_stages
    for stage in label_stages:
        for forbidden in ("order_id", "correlation_id", "workflow_id", "trace_id"):
            assert forbidden not in stage


# --------------------------------------------------------------------------- the doc


def test_the_doc_lists_every_metric_as_catalogued() -> None:
    """Each metric has its row in the doc's table, exactly as metrics.yaml says."""
    doc = DOC.read_text(encoding="utf-8")
    for entry in catalogue().values():
        labels = ", ".join(f"`{label}`" for label in entry["labels"]) or "—"
        meaning = " ".join(entry["help"].split()).replace("|", "\\|")
        row = (
            f"| `{entry['name']}` | {entry['type']} | {labels} | "
            f"{', '.join(entry['components'])} | {meaning} |"
        )
        assert row in doc, f"docs/operations/monitoring.md needs this row:\n{row}"


def test_the_doc_has_a_runbook_for_every_alert_and_lists_every_dashboard() -> None:
    doc = DOC.read_text(encoding="utf-8")
    sections = re.split(r"^### ", doc, flags=re.M)
    for name in alerts():
        section = next((s for s in sections if s.startswith(f"{name}\n")), None)
        assert section, f"no section for {name}"
        assert "First checks:" in section, name
        assert re.search(r"^3\. ", section, re.M), f"{name}: fewer than three checks"
        assert "```bash" in section, f"{name}: no command to run"
    for name, dashboard in dashboards().items():
        assert f"`{name}`" in doc, name
        assert dashboard["title"] in doc, name
