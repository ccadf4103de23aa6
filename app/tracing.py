"""OpenTelemetry tracing, off by default. CREDIT_TRACING=console prints spans (debugging);
CREDIT_TRACING=otlp sends them to CREDIT_OTLP_ENDPOINT (OTLP over HTTP). With tracing off,
the orchestrator's spans go to OpenTelemetry's no-op tracer and cost about a microsecond."""

from __future__ import annotations

from typing import Literal

from opentelemetry import trace

TracingMode = Literal["off", "console", "otlp"]


def configure_tracing(mode: TracingMode, otlp_endpoint: str | None = None,
                      service_name: str = "credit-decisions") -> trace.TracerProvider | None:
    if mode == "off":
        return None
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter

    provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
    if mode == "console":
        exporter = ConsoleSpanExporter()
    else:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter(endpoint=otlp_endpoint) if otlp_endpoint else OTLPSpanExporter()
    provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    return provider
