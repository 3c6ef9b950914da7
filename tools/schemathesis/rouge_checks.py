"""Rouge's own schemathesis checks (loaded with SCHEMATHESIS_HOOKS=rouge_checks).

`documented_headers`: every ETag, Location, Idempotent-Replayed or Retry-After header the
server sends is declared on that operation's response in the OpenAPI document, so generated
clients and readers of /docs know to look for it.
"""

import schemathesis

WATCHED = ("ETag", "Location", "Idempotent-Replayed", "Retry-After")


@schemathesis.check
def documented_headers(ctx, response, case):
    definition = case.operation.responses.find_by_status_code(response.status_code)
    if definition is None:
        return None
    declared = {name.lower() for name, _ in definition.headers.items()} if definition.headers else set()
    missing = [h for h in WATCHED if response.headers.get(h.lower()) is not None and h.lower() not in declared]
    if missing:
        raise AssertionError(
            f"{case.operation.label} answered {response.status_code} with {', '.join(missing)}, "
            "which its response in the document does not declare"
        )
    return True
