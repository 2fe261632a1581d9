"""Item 7, security: the HTTP API fuzzed from its own OpenAPI description by schemathesis
(a test dependency: ``pip install schemathesis``), against the real 2-worker server. No 5xx, no
answer the description does not describe."""
from __future__ import annotations

import json

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import CHECKS, load_all_checks

from reliability._support import TOKEN, count
from search.server.openapi import openapi_document

pytestmark = pytest.mark.reliability

AUTH = {"Authorization": f"Bearer {TOKEN}"}
load_all_checks()
# responses: no 5xx, documented status codes, content types, headers and bodies; methods not
# described answered 405 with Allow; the operator token really required where it is declared
RESPONSE_CHECKS = CHECKS.get_by_names([
    "not_a_server_error", "status_code_conformance", "content_type_conformance", "response_headers_conformance",
    "response_schema_conformance", "missing_required_header", "unsupported_method", "allow_header_conformance",
    "ignored_auth"])
SCHEMA = schemathesis.openapi.from_dict(openapi_document())
OPERATIONS = {f"{op.method.upper()} {op.path}": op for op in (r.ok() for r in SCHEMA.get_all_operations())}
NO_INPUT = {"GET /healthz", "GET /openapi.json", "GET /static/{path}"}  # nothing to make invalid
FUZZ = [(label, mode) for label in OPERATIONS for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
        if mode == GenerationMode.POSITIVE or label not in NO_INPUT]


def test_the_served_description_is_the_one_fuzzed(http):
    assert http.get("/openapi.json").json() == json.loads(json.dumps(openapi_document()))
    assert set(OPERATIONS) >= {"GET /api/search", "POST /api/search/batch", "GET /api/concepts/{code}",
                               "POST /api/triage", "GET /healthz", "GET /"}


@pytest.mark.parametrize("label,mode", FUZZ, ids=[f"{label}-{mode.value}" for label, mode in FUZZ])
def test_api_fuzzed_from_its_openapi_description(server, label, mode):
    """Schema-valid (positive) and schema-violating (negative) requests made by schemathesis from
    the OpenAPI document: never a 5xx, never an answer the document does not describe."""
    op = OPERATIONS[label]
    headers = AUTH if op.path == "/api/triage" else None

    @settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(case=op.as_strategy(generation_mode=mode))
    def check(case):
        count("inputs.schemathesis")
        case.call_and_validate(base_url=server.url, headers=headers, checks=RESPONSE_CHECKS, timeout=30)

    check()
