"""Schemathesis against the app, as a customer and as an admin: no request it can make, fitting the spec
or not, answers a server error, a status the spec does not document, or a body that breaks its schema.

In-process through the WSGI app (schemathesis' WSGI transport): the same Flask app gunicorn serves,
without the sockets, so that it stays quick. Bounded and derandomized: the same examples every run.
(Hypothesis by hand: schemathesis' lazy pytest loader, `from_fixture`, fails under pytest 9.)
"""

from __future__ import annotations

import json
import time

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core import NOT_SET
from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance

from models import Role
from services.billing.signatures import sign
from tests.support import first_pass_only, make_user

CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance]
EXAMPLES = 30
# A password's hash costs a good part of a second of CPU on purpose: fewer examples where one is made.
HASHING = {"POST /api/v1/auth/register": 6, "POST /api/v1/auth/login": 6, "POST /api/v1/users": 6}
WEBHOOK = "POST /api/v1/billing/webhooks/payments"


@pytest.fixture
def fuzzed_app(make_app):
    # No job runs here, so `Prefer: wait=N` would hold each submission for N seconds.
    return make_app(MAX_WAIT_SECONDS="0")


# Every operation of the API in one test: its time grows with the API (about a second an operation).
# Once, on PostgreSQL: the stricter of the two databases (types, ranges, NUL) is the one to break.
@first_pass_only
@pytest.mark.timeout(900)
def test_no_request_breaks_the_api(fuzzed_app):
    tokens = [make_user(fuzzed_app, role)[1] for role in (Role.customer, Role.admin)]
    secret = fuzzed_app.extensions["conveyor"].settings.payment_webhook_secrets[0]
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", fuzzed_app)
    for result in schema.get_all_operations():
        operation = result.ok()
        cases = st.one_of(*(operation.as_strategy(mode) for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)))

        @given(case=cases)
        @settings(max_examples=HASHING.get(operation.label, EXAMPLES), derandomize=True, database=None,
                  deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
        def each_example(case):
            if operation.label == WEBHOOK:
                signed(case, secret)
            for headers in tokens:  # as a customer, then as an admin
                case.call_and_validate(headers=headers, checks=CHECKS)

        each_example()


def signed(case, secret: str) -> None:
    """Sign a webhook's body as its provider would (so that the body is fuzzed, not only the signature)."""
    if case.body is not NOT_SET:
        if not isinstance(case.body, bytes):  # negative examples may hold bytes anywhere
            case.body = json.dumps(case.body, default=str).encode()
        case.headers = {**(case.headers or {}), "Conveyor-Signature": sign(secret, case.body, int(time.time()))}
