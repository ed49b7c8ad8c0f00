"""Building blocks shared by every Orderflow dashboard.

Each dashboard gets a datasource variable (``$datasource``, any Prometheus-type source, so the
same JSON works against Azure Managed Grafana's Azure Monitor workspace and a self-hosted
Prometheus) and, where it shows logs, a Loki one (``$loki``). Every panel and every query names
its datasource through that variable. Panel IDs are assigned in order, rows included, so they
are unique per dashboard and stable between generations.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from grafana_foundation_sdk.builders import common as common_builders
from grafana_foundation_sdk.builders import dashboard as dashboard_builders
from grafana_foundation_sdk.builders import logs, loki, prometheus, stat, table, timeseries
from grafana_foundation_sdk.cog import variants
from grafana_foundation_sdk.cog.builder import Builder
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import common as common_models
from grafana_foundation_sdk.models import dashboard as dashboard_models
from grafana_foundation_sdk.models import prometheus as prometheus_models

PROMETHEUS = dashboard_models.DataSourceRef(type_val="prometheus", uid="${datasource}")
LOKI = dashboard_models.DataSourceRef(type_val="loki", uid="${loki}")

# Grafana's rate window: at least four scrape intervals, wider when zoomed out.
RATE = "$__rate_interval"

THRESHOLDS_FILE = Path(__file__).resolve().parents[2] / "prometheus" / "rules" / "thresholds.yml"
_THRESHOLD_RECORD = re.compile(r"^orderflow:alert_threshold:(\w+)$")
_VECTOR = re.compile(r"^\s*vector\(\s*([0-9.eE+-]+)\s*\)\s*$")


def alert_thresholds(path: Path = THRESHOLDS_FILE) -> dict[str, float]:
    """The alert thresholds (``consumer_lag_records`` -> 60000.0) from the recording rules, so
    the dashboards draw exactly the lines the alerts fire at."""
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    values: dict[str, float] = {}
    for group in document["groups"]:
        for rule in group["rules"]:
            name = _THRESHOLD_RECORD.match(rule.get("record", ""))
            number = _VECTOR.match(rule["expr"])
            if name and number:
                values[name.group(1)] = float(number.group(1))
    return values


@dataclass(frozen=True)
class Query:
    """One PromQL (or LogQL) query of a panel and its legend."""

    expr: str
    legend: str = ""
    instant: bool = False


def quantiles(metric: str, by: str = "", qs: Sequence[float] = (0.5, 0.95, 0.99)) -> list[Query]:
    """p50/p95/p99 of histogram ``metric`` (base name), optionally per label(s) ``by``."""
    group = f"{by}, le" if by else "le"
    prefix = f"{{{{{by}}}}} " if by and "," not in by else ""
    return [
        Query(
            f"histogram_quantile({q}, sum by ({group}) (rate({metric}_bucket[{RATE}])))",
            f"{prefix}p{round(q * 100)}",
        )
        for q in qs
    ]


def _prometheus_targets(
    queries: Sequence[Query], *, table_format: bool = False
) -> list[Builder[variants.Dataquery]]:
    targets: list[Builder[variants.Dataquery]] = []
    for index, query in enumerate(queries):
        target = (
            prometheus.Dataquery()
            .expr(query.expr)
            .legend_format(query.legend or "__auto")
            .ref_id(chr(ord("A") + index))
            .datasource(PROMETHEUS)
        )
        target = target.instant() if query.instant else target.range()
        if table_format:
            target = target.format(prometheus_models.PromQueryFormat.TABLE)
        targets.append(target)
    return targets


def _threshold_steps(
    line: float | None, *, base: str = "green", over: str = "red"
) -> dashboard_builders.ThresholdsConfig:
    steps = [dashboard_models.Threshold(value=None, color=base)]
    if line is not None:
        steps.append(dashboard_models.Threshold(value=line, color=over))
    return (
        dashboard_builders.ThresholdsConfig()
        .mode(dashboard_models.ThresholdsMode.ABSOLUTE)
        .steps(steps)
    )


def graph(
    title: str,
    description: str,
    queries: Sequence[Query],
    *,
    unit: str = "short",
    threshold: float | None = None,
    stacked: bool = False,
    width: int = 12,
    height: int = 8,
) -> timeseries.Panel:
    """A time series; ``threshold`` draws a dashed red line at that value (an alert's or a
    target's), so a reader sees at a glance how far a series is from it."""
    panel = (
        timeseries.Panel()
        .title(title)
        .description(description)
        .datasource(PROMETHEUS)
        .targets(_prometheus_targets(queries))
        .unit(unit)
        .min(0)
        .span(width)
        .height(height)
        .fill_opacity(10)
        .legend(
            common_builders.VizLegendOptions()
            .display_mode(common_models.LegendDisplayMode.TABLE)
            .placement(common_models.LegendPlacement.BOTTOM)
            .show_legend(True)
            .calcs(["mean", "max", "lastNotNull"])
        )
        .tooltip(
            common_builders.VizTooltipOptions()
            .mode(common_models.TooltipDisplayMode.MULTI)
            .sort(common_models.SortOrder.DESCENDING)
        )
        .thresholds(_threshold_steps(threshold))
    )
    if threshold is not None:
        panel = panel.thresholds_style(
            common_builders.GraphThresholdsStyleConfig().mode(
                common_models.GraphThresholdsStyleMode.DASHED
            )
        )
    if stacked:
        panel = panel.stacking(
            common_builders.StackingConfig().mode(common_models.StackingMode.NORMAL)
        )
    return panel


def single_stat(
    title: str,
    description: str,
    query: Query,
    *,
    unit: str = "short",
    threshold: float | None = None,
    mappings: Sequence[dashboard_models.ValueMapping] = (),
    width: int = 4,
    base_color: str = "green",
    over_color: str = "red",
) -> stat.Panel:
    """A big number (last value) with a sparkline, red above ``threshold``."""
    panel = (
        stat.Panel()
        .title(title)
        .description(description)
        .datasource(PROMETHEUS)
        .targets(_prometheus_targets([query]))
        .unit(unit)
        .span(width)
        .height(4)
        .color_mode(common_models.BigValueColorMode.BACKGROUND)
        .graph_mode(common_models.BigValueGraphMode.AREA)
        .reduce_options(common_builders.ReduceDataOptions().calcs(["lastNotNull"]))
        .thresholds(_threshold_steps(threshold, base=base_color, over=over_color))
    )
    if mappings:
        panel = panel.mappings(list(mappings))
    return panel


def up_down_mapping() -> list[dashboard_models.ValueMapping]:
    """1 -> "Ready" (green), 0 -> "NOT READY" (red)."""
    return [
        dashboard_models.ValueMap(
            options={
                "1": dashboard_models.ValueMappingResult(text="Ready", color="green", index=0),
                "0": dashboard_models.ValueMappingResult(text="NOT READY", color="red", index=1),
            }
        )
    ]


def instant_table(
    title: str, description: str, queries: Sequence[Query], *, width: int = 24, height: int = 9
) -> table.Panel:
    """A table of instant query results, one row per series."""
    targets = _prometheus_targets(
        [Query(q.expr, q.legend, instant=True) for q in queries], table_format=True
    )
    return (
        table.Panel()
        .title(title)
        .description(description)
        .datasource(PROMETHEUS)
        .targets(targets)
        .span(width)
        .height(height)
        .with_transformation(
            dashboard_models.DataTransformerConfig(
                id_val="organize",
                options={"excludeByName": {"Time": True}},
            )
        )
    )


def loki_graph(
    title: str, description: str, queries: Sequence[Query], *, width: int = 12
) -> timeseries.Panel:
    """A time series of LogQL metric queries (counts of lines)."""
    targets: list[Builder[variants.Dataquery]] = [
        loki.Dataquery()
        .expr(query.expr)
        .legend_format(query.legend)
        .ref_id(chr(ord("A") + index))
        .datasource(LOKI)
        for index, query in enumerate(queries)
    ]
    return (
        timeseries.Panel()
        .title(title)
        .description(description)
        .datasource(LOKI)
        .targets(targets)
        .unit("short")
        .min(0)
        .span(width)
        .height(8)
        .draw_style(common_models.GraphDrawStyle.BARS)
        .fill_opacity(60)
        .stacking(common_builders.StackingConfig().mode(common_models.StackingMode.NORMAL))
    )


def log_lines(title: str, description: str, expr: str, *, height: int = 12) -> logs.Panel:
    """Raw log lines, newest first, with their parsed fields one click away."""
    return (
        logs.Panel()
        .title(title)
        .description(description)
        .datasource(LOKI)
        .targets([loki.Dataquery().expr(expr).ref_id("A").max_lines(1000).datasource(LOKI)])
        .span(24)
        .height(height)
        .show_time(True)
        .wrap_log_message(True)
        .prettify_log_message(False)
        .enable_log_details(True)
        .sort_order(common_models.LogsSortOrder.DESCENDING)
    )


class Board:
    """One dashboard under construction: rows and panels in reading order."""

    def __init__(self, uid: str, title: str, description: str, *, with_loki: bool = False):
        self._next_id = 1
        self._builder = (
            dashboard_builders.Dashboard(title)
            .uid(uid)
            .description(description)
            .tags(["orderflow"])
            .editable()
            .time("now-1h", "now")
            .refresh("30s")
            .timezone("browser")
            .tooltip(dashboard_models.DashboardCursorSync.CROSSHAIR)
            .with_variable(
                dashboard_builders.DatasourceVariable("datasource")
                .label("Prometheus")
                .description("Prometheus-type data source: Azure Monitor workspace or self-hosted")
                .type("prometheus")
            )
            .link(
                dashboard_builders.DashboardLink("Orderflow dashboards")
                .type(dashboard_models.DashboardLinkType.DASHBOARDS)
                .tags(["orderflow"])
                .as_dropdown(True)
                .include_vars(True)
                .keep_time(True)
            )
        )
        if with_loki:
            self._builder = self._builder.with_variable(
                dashboard_builders.DatasourceVariable("loki").label("Loki").type("loki")
            )

    def variable(self, variable: Builder[dashboard_models.VariableModel]) -> Board:
        self._builder = self._builder.with_variable(variable)
        return self

    def row(self, title: str) -> Board:
        self._builder = self._builder.with_row(dashboard_builders.Row(title).id(self._take_id()))
        return self

    def panel(self, panel: Any) -> Board:
        """Add a panel builder (any panel kind) and give it the next ID."""
        self._builder = self._builder.with_panel(panel.id(self._take_id()))
        return self

    def panels(self, *panels: Any) -> Board:
        for panel in panels:
            self.panel(panel)
        return self

    def to_json(self) -> str:
        """The dashboard as Grafana's JSON model, keys sorted, so regenerating is stable."""
        return json.dumps(self._builder.build(), cls=JSONEncoder, indent=2, sort_keys=True) + "\n"

    def _take_id(self) -> int:
        taken = self._next_id
        self._next_id += 1
        return taken
