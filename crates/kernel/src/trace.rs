//! W3C trace context (`traceparent`, <https://www.w3.org/TR/trace-context/>): a request's trace
//! is carried to the events it causes (the outbox keeps it, the broker's messages carry it as a
//! `traceparent` header) and on to what consumers do with them, so one checkout is one trace
//! across replicas and consumers. The current context lives in the task that handles the
//! request or the event ([`within`], [`current`]).

use std::future::Future;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceContext {
    /// 32 lowercase hex digits, not all zero.
    pub trace_id: String,
    /// 16 lowercase hex digits, not all zero: the span that caused what follows.
    pub span_id: String,
    pub sampled: bool,
}

fn hex(s: &str, len: usize) -> bool {
    s.len() == len
        && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        && s.bytes().any(|b| b != b'0')
}

fn random_hex(len: usize) -> String {
    uuid::Uuid::new_v4().simple().to_string()[..len].to_owned()
}

impl TraceContext {
    /// Reads a `traceparent` header; `None` when it is malformed (a new trace is started then,
    /// as the specification says).
    pub fn parse(header: &str) -> Option<Self> {
        let mut parts = header.trim().split('-');
        let (version, trace_id, span_id, flags) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
        // Version 00 has exactly four parts; a later version may add more after them.
        if version.len() != 2 || !version.bytes().all(|b| b.is_ascii_hexdigit()) || version == "ff" {
            return None;
        }
        if version == "00" && parts.next().is_some() {
            return None;
        }
        if !hex(trace_id, 32) || !hex(span_id, 16) || flags.len() != 2 {
            return None;
        }
        let flags = u8::from_str_radix(flags, 16).ok()?;
        Some(Self { trace_id: trace_id.to_owned(), span_id: span_id.to_owned(), sampled: flags & 1 == 1 })
    }

    /// A new trace (no caller sent one).
    pub fn root() -> Self {
        Self { trace_id: random_hex(32), span_id: random_hex(16), sampled: true }
    }

    /// The same trace, under a new span of ours.
    #[must_use]
    pub fn child(&self) -> Self {
        Self { span_id: random_hex(16), ..self.clone() }
    }

    /// The `traceparent` header value.
    pub fn header(&self) -> String {
        format!("00-{}-{}-{:02x}", self.trace_id, self.span_id, u8::from(self.sampled))
    }
}

tokio::task_local! {
    static CURRENT: TraceContext;
}

/// Runs `f` (a request's or an event's handling) under `ctx`.
pub async fn within<F: Future>(ctx: TraceContext, f: F) -> F::Output {
    CURRENT.scope(ctx, f).await
}

/// The trace the current task works under, if any.
pub fn current() -> Option<TraceContext> {
    CURRENT.try_with(TraceContext::clone).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_and_writes_traceparent() {
        let h = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let t = TraceContext::parse(h).unwrap();
        assert_eq!((t.trace_id.as_str(), t.span_id.as_str(), t.sampled), (&h[3..35], &h[36..52], true));
        assert_eq!(t.header(), h);
        let c = t.child();
        assert_eq!(c.trace_id, t.trace_id);
        assert_ne!(c.span_id, t.span_id);
        assert!(TraceContext::parse(&c.header()).is_some());
        assert!(TraceContext::parse(&TraceContext::root().header()).is_some());
        assert!(!TraceContext::parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00").unwrap().sampled);
        // A later version may carry more.
        assert!(TraceContext::parse("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what").is_some());
    }

    #[test]
    fn refuses_malformed_traceparents() {
        for bad in [
            "",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-zz",
        ] {
            assert!(TraceContext::parse(bad).is_none(), "{bad}");
        }
    }

    #[tokio::test]
    async fn the_current_trace_is_the_tasks() {
        assert!(current().is_none());
        let t = TraceContext::root();
        assert_eq!(within(t.clone(), async { current() }).await, Some(t));
    }
}
