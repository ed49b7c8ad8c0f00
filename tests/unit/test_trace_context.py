"""W3C trace context across Kafka: what the bridge reads from a record's headers."""

from __future__ import annotations

from opentelemetry import trace

from bridges.consumer import producer_context

TRACE_ID = 0x4BF92F3577B34DA6A3CE929D0E0E4736
SPAN_ID = 0x00F067AA0BA902B7


def test_a_producer_s_traceparent_becomes_the_parent_context() -> None:
    headers = [
        ("correlation-id", b"c-1"),
        ("traceparent", f"00-{TRACE_ID:032x}-{SPAN_ID:016x}-01".encode()),
        ("tracestate", b"vendor=abc"),
    ]
    parent = trace.get_current_span(producer_context(headers)).get_span_context()
    assert (parent.trace_id, parent.span_id) == (TRACE_ID, SPAN_ID)
    assert parent.is_remote
    assert parent.trace_flags.sampled
    assert parent.trace_state.get("vendor") == "abc"


def test_no_or_a_malformed_traceparent_starts_a_new_trace() -> None:
    for headers in ([], [("traceparent", b"not-a-trace")], [("traceparent", b"")]):
        context = producer_context(headers)
        assert not trace.get_current_span(context).get_span_context().is_valid
