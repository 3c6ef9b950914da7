//! W3C `traceparent` headers from outside: parsing never panics, and what parses is written
//! back as a header that parses the same.
#![no_main]
use libfuzzer_sys::fuzz_target;
use rouge_kernel::trace::TraceContext;

fuzz_target!(|header: &str| {
    if let Some(ctx) = TraceContext::parse(header) {
        assert_eq!(TraceContext::parse(&ctx.header()), Some(ctx));
    }
});
