//! The bridge between Rouge's W3C trace context (`rouge_kernel::trace`, kept with every event)
//! and OpenTelemetry spans, used when the server exports traces (`OTEL_EXPORTER_OTLP_ENDPOINT`).
//! Without an exporter the spans carry no OpenTelemetry context and these do nothing.

use opentelemetry::trace::TraceContextExt;
use std::sync::atomic::{AtomicBool, Ordering};
use tracing_opentelemetry::OpenTelemetrySpanExt;

static ENABLED: AtomicBool = AtomicBool::new(false);

/// Says that spans are exported (the server installed an OpenTelemetry layer).
pub fn enable() {
    ENABLED.store(true, Ordering::Release);
}

/// Whether spans are exported: the request path skips this bridge otherwise.
pub fn enabled() -> bool {
    ENABLED.load(Ordering::Acquire)
}

/// Makes `span` (new, not yet entered) a child of the `traceparent` it was given (a new root
/// otherwise) and returns its own context in Rouge's form; `None` when no OpenTelemetry layer
/// records spans.
pub fn adopt(span: &tracing::Span, traceparent: Option<&str>) -> Option<crate::TraceContext> {
    if !enabled() {
        return None;
    }
    if let Some(header) = traceparent {
        let carrier = std::collections::HashMap::from([("traceparent".to_owned(), header.to_owned())]);
        let parent = opentelemetry::global::get_text_map_propagator(|p| p.extract(&carrier));
        if parent.span().span_context().is_valid() {
            let _ = span.set_parent(parent);
        }
    }
    own(span)
}

/// `span`'s own context in Rouge's form; `None` when no OpenTelemetry layer records spans.
pub fn own(span: &tracing::Span) -> Option<crate::TraceContext> {
    if !enabled() {
        return None;
    }
    let ctx = span.context();
    let own = ctx.span().span_context().clone();
    own.is_valid().then(|| crate::TraceContext {
        trace_id: own.trace_id().to_string(),
        span_id: own.span_id().to_string(),
        sampled: own.is_sampled(),
    })
}
