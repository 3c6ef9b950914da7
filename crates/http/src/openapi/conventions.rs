//! What holds for every operation, written into the document once rather than on each
//! handler: the problem answers a request can get (401/403 on secured routes, 400/415/422 where
//! a body is sent, 429 and 503 anywhere), all as `application/problem+json` with one `Problem`
//! schema; a description on every response; every path parameter declared; unique operation
//! ids; the RateLimit headers. Standard validators (openapi-spec-validator, Redocly) and
//! generated clients read the result unedited.

use utoipa::Modify;
use utoipa::openapi::path::{Operation, ParameterBuilder, ParameterIn};
use utoipa::openapi::{
    Content, HeaderBuilder, HttpMethod, ObjectBuilder, OpenApi, Ref, RefOr, Required, ResponseBuilder, Type,
};

pub struct Conventions;

const PROBLEM: &str = "application/problem+json";

fn problem_response(description: &str, retry_after: bool) -> RefOr<utoipa::openapi::Response> {
    let mut r = ResponseBuilder::new()
        .description(description)
        .content(PROBLEM, Content::new(Some(Ref::from_schema_name("Problem"))));
    if retry_after {
        r = r.header("Retry-After", retry_after_header());
    }
    RefOr::T(r.build())
}

fn retry_after_header() -> utoipa::openapi::Header {
    HeaderBuilder::new()
        .schema(Some(ObjectBuilder::new().schema_type(Type::Integer).minimum(Some(0))))
        .description(Some("Seconds to wait before trying again"))
        .build()
}

/// The standard wording of a status, for responses declared without a description.
fn describe(status: &str) -> &'static str {
    match status {
        "200" => "OK",
        "201" => "Created",
        "202" => "Accepted",
        "204" => "No content",
        "304" => "Not modified (the `If-None-Match` ETag still holds)",
        "400" => "Bad request: malformed JSON, parameters or headers",
        "401" => "No valid credential: send `Authorization: Bearer …`",
        "402" => "The payment was declined or needs the shopper's confirmation",
        "403" => "The credential lacks the permission this needs",
        "404" => "Not found",
        "408" => "The request took longer than the server allows",
        "409" => "Conflict with the current state (sold out, in progress, changed meanwhile)",
        "412" => "The resource changed since the ETag sent in `If-Match`",
        "413" => "The request body is larger than the limit",
        "415" => "The body must be sent as application/json",
        "422" => "The input is invalid; `errors` names each field",
        "429" => "The client's rate-limit budget is spent",
        "500" => "Internal error",
        "502" => "The payment provider failed",
        "503" => "A service this needs does not answer (or the outcome is not known yet); retry after `Retry-After`",
        _ => "Answer",
    }
}

/// The schema type of a path parameter by its name: ids are UUIDs.
fn path_param(name: &str) -> utoipa::openapi::path::Parameter {
    let uuid = name == "id" || name.ends_with("_id") || name == "event";
    let mut schema = ObjectBuilder::new().schema_type(Type::String);
    if uuid {
        schema = schema.format(Some(utoipa::openapi::SchemaFormat::KnownFormat(utoipa::openapi::KnownFormat::Uuid)));
    }
    ParameterBuilder::new()
        .name(name)
        .parameter_in(ParameterIn::Path)
        .required(Required::True)
        .schema(Some(schema))
        .build()
}

fn ensure(op: &mut Operation, status: &str, description: &str, retry_after: bool) {
    op.responses.responses.entry(status.to_owned()).or_insert_with(|| problem_response(description, retry_after));
}

fn operations(item: &mut utoipa::openapi::PathItem) -> Vec<(HttpMethod, &mut Operation)> {
    [
        (HttpMethod::Get, item.get.as_mut()),
        (HttpMethod::Put, item.put.as_mut()),
        (HttpMethod::Post, item.post.as_mut()),
        (HttpMethod::Delete, item.delete.as_mut()),
        (HttpMethod::Patch, item.patch.as_mut()),
        (HttpMethod::Head, item.head.as_mut()),
        (HttpMethod::Options, item.options.as_mut()),
    ]
    .into_iter()
    .filter_map(|(m, op)| op.map(|op| (m, op)))
    .collect()
}

/// `list_admin_dead_letters` → `List admin dead letters`.
fn summary_of(operation_id: &str) -> String {
    let words = operation_id.replace('_', " ");
    let mut chars = words.chars();
    chars.next().map(|c| c.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

impl Modify for Conventions {
    fn modify(&self, doc: &mut OpenApi) {
        // Relative to wherever the API is served, so a generated client works on any host.
        doc.servers = Some(vec![utoipa::openapi::Server::new("/")]);
        let mut seen_ids = std::collections::BTreeMap::<String, usize>::new();
        for item in doc.paths.paths.values_mut() {
            for (_, op) in operations(item) {
                if let Some(id) = &op.operation_id {
                    *seen_ids.entry(id.clone()).or_default() += 1;
                }
            }
        }
        for (path, item) in doc.paths.paths.iter_mut() {
            let names: Vec<String> =
                path.split('/').filter_map(|seg| seg.strip_prefix('{')?.strip_suffix('}').map(str::to_owned)).collect();
            let probe = matches!(path.as_str(), "/healthz" | "/readyz");
            for (method, op) in operations(item) {
                // Path parameters.
                let params = op.parameters.get_or_insert_with(Vec::new);
                for name in &names {
                    let declared = params
                        .iter()
                        .any(|p| matches!(p, RefOr::T(p) if p.name == *name && p.parameter_in == ParameterIn::Path));
                    if !declared {
                        params.push(RefOr::T(path_param(name)));
                    }
                }
                // Unique operation ids: a name two handlers share is spelled out from the path
                // (`list` on /v1/admin/dead-letters is `list_admin_dead_letters`).
                if let Some(id) = op.operation_id.clone()
                    && seen_ids.get(&id).copied().unwrap_or(0) > 1
                {
                    let place: Vec<String> = path
                        .split('/')
                        .filter(|seg| !seg.is_empty() && *seg != "v1" && !seg.starts_with('{'))
                        .map(|seg| seg.replace('-', "_"))
                        .collect();
                    op.operation_id = Some(format!("{id}_{}", place.join("_")));
                }
                if op.summary.as_deref().is_none_or(str::is_empty) {
                    op.summary = op.operation_id.as_deref().map(summary_of);
                }
                // The problems any request can get.
                let secured = op.security.as_ref().is_some_and(|s| !s.is_empty());
                if op.security.is_none() {
                    // Public: said so, rather than left to a global default.
                    op.security = Some(vec![utoipa::openapi::security::SecurityRequirement::default()]);
                }
                if secured {
                    ensure(op, "401", describe("401"), false);
                    ensure(op, "403", describe("403"), false);
                }
                if op.request_body.is_some() {
                    ensure(op, "400", describe("400"), false);
                    ensure(op, "415", describe("415"), false);
                    ensure(op, "422", describe("422"), false);
                }
                if !probe {
                    ensure(op, "429", describe("429"), true);
                }
                ensure(op, "503", describe("503"), true);
                if matches!(method, HttpMethod::Post | HttpMethod::Put | HttpMethod::Patch) {
                    ensure(op, "413", describe("413"), false);
                }
                for (status, response) in op.responses.responses.iter_mut() {
                    let RefOr::T(r) = response else { continue };
                    if r.description.is_empty() {
                        r.description = describe(status).to_owned();
                    }
                    // Whoever declared a 429 or 503, it says when to come back.
                    if matches!(status.as_str(), "429" | "503") && !r.headers.contains_key("Retry-After") {
                        r.headers.insert("Retry-After".to_owned(), retry_after_header().into());
                    }
                    // Errors are problem documents, whatever the annotation said.
                    if (status.starts_with('4') || status.starts_with('5'))
                        && let Some(content) = r.content.shift_remove("application/json")
                    {
                        r.content.insert(PROBLEM.to_owned(), content);
                    }
                    if status.starts_with('2') && !probe {
                        for (name, what) in [
                            ("RateLimit-Limit", "Requests this client may make at once (the burst)"),
                            ("RateLimit-Remaining", "Requests left in the budget now"),
                            ("RateLimit-Reset", "Seconds until the whole budget is available again"),
                        ] {
                            r.headers.entry(name.to_owned()).or_insert_with(|| {
                                HeaderBuilder::new()
                                    .schema(Some(ObjectBuilder::new().schema_type(Type::Integer).minimum(Some(0))))
                                    .description(Some(what))
                                    .build()
                                    .into()
                            });
                        }
                    }
                }
            }
        }
    }
}
