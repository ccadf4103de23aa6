"""OpenTelemetry spans per stage of a decision (exporter configurable, off by default)."""

import asyncio

from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from app.simulators.server import application_for_row
from tests.integration.rollout_app import client, settings_for


def test_a_decision_is_one_trace_with_a_span_per_stage(data_dir, simulators_url):
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)  # the process-wide provider, as app/tracing.py sets it

    async def scenario():
        async with client(settings_for(data_dir, simulators_url)) as (c, _):
            r = await c.post("/v1/decisions", json=application_for_row(3, application_id="TR-3"))
            assert r.status_code == 200, r.text

    asyncio.run(scenario())
    spans = {s.name: s for s in exporter.get_finished_spans()}
    stages = {"idempotency", "enrichment", "features", "score_explain", "audit"}
    assert stages <= set(spans)
    root = spans["decision"]
    assert root.attributes["credit.country"] == "ES"
    assert {spans[s].context.trace_id for s in stages} == {root.context.trace_id}
    assert all(spans[s].parent.span_id == root.context.span_id for s in stages)
