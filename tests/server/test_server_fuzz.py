"""
Fuzzing every route from /openapi.json: no 500, and nothing outside the document.

schemathesis generates requests from the server's own OpenAPI document, valid and
invalid, and checks each answer: never a server error, a documented status, a documented
content type, a body that validates against the documented schema, and invalid requests
rejected with a 4xx. Requests carry a valid key, and schemathesis also checks that the
routes refuse requests without one.

Not checked: that every schema-valid request succeeds. The document cannot say which
providers are configured, which jobs exist or whether bytes are an image, so a valid-looking
request may rightly be a 400 (unknown provider) or a 404 (unknown job).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import checks
from schemathesis.specs.openapi import checks as openapi_checks
from server_relay import RelayState, relay_instance, relay_upstream
from server_support import KEY_A, KEYS, serve_app, sim_gateway

from reelgate.emulation import serve
from reelgate.server import create_app
from reelgate.server.openapi import openapi_document

#: Examples per operation: 14 operations, a few hundred requests in all, well under a minute.
EXAMPLES = 30

schema = schemathesis.openapi.from_dict(openapi_document(auth=True))

CHECKS = [
    checks.not_a_server_error,
    openapi_checks.status_code_conformance,
    openapi_checks.content_type_conformance,
    openapi_checks.response_headers_conformance,
    openapi_checks.response_schema_conformance,
    openapi_checks.negative_data_rejection,
    openapi_checks.missing_required_header,
    openapi_checks.ignored_auth,
]


@pytest.fixture(name="fuzz_url", scope="module")
def _fuzz_url() -> Iterator[str]:
    with serve(relay_upstream(RelayState())) as relay_url:
        gateway = sim_gateway(instances={"relay": relay_instance(relay_url)})
        with serve_app(create_app(gateway, keys=KEYS, close_gateway=True)) as url:
            yield url


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    derandomize=True,
)
def test_every_route_answers_within_the_document(case: Any, fuzz_url: str) -> None:
    """Generated requests, valid and not, get documented answers and never a 500."""
    case.call_and_validate(
        base_url=fuzz_url,
        headers={"authorization": f"Bearer {KEY_A}"},
        checks=CHECKS,
    )
