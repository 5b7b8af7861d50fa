"""Sign-in with an OpenID Connect provider, against a local test issuer: a real HTTP server publishing
a discovery document and a JWKS of keys made here."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm
from sqlalchemy import func, select

from models import ExternalIdentity, Role, User
from tests.support import make_user

AUDIENCE = "conveyor-test-client"


class LocalIssuer:
    """An OIDC issuer on 127.0.0.1: `/.well-known/openid-configuration` and `/jwks.json`."""

    def __init__(self):
        self.rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.ec_key = ec.generate_private_key(ec.SECP256R1())
        keys = [{**RSAAlgorithm.to_jwk(self.rsa_key.public_key(), as_dict=True), "kid": "rsa-1", "use": "sig"},
                {**ECAlgorithm.to_jwk(self.ec_key.public_key(), as_dict=True), "kid": "ec-1", "use": "sig"}]
        self.requests: list[str] = []
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                issuer.requests.append(self.path)
                documents = {"/.well-known/openid-configuration": {"issuer": issuer.url,
                                                                   "jwks_uri": f"{issuer.url}/jwks.json"},
                             "/jwks.json": {"keys": keys}}
                if self.path not in documents:
                    self.send_error(404)
                    return
                body = json.dumps(documents[self.path]).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def claims(self, **overrides) -> dict:
        now = int(time.time())
        return {"iss": self.url, "aud": AUDIENCE, "sub": "subject-1", "email": "oidc.user@example.com",
                "email_verified": True, "iat": now, "exp": now + 300, **overrides}

    def token(self, *, key=None, alg="RS256", kid="rsa-1", **overrides) -> str:
        return jwt.encode(self.claims(**overrides), key or self.rsa_key, algorithm=alg, headers={"kid": kid})


@pytest.fixture(scope="module")
def issuer():
    server = LocalIssuer()
    yield server
    server.server.shutdown()


@pytest.fixture
def configured(app, issuer, monkeypatch):
    """The app trusts the test issuer (keys found through its discovery document)."""
    runtime = app.extensions["conveyor"]
    monkeypatch.setattr(runtime, "settings", replace(runtime.settings, oidc_issuer=issuer.url,
                                                     oidc_audience=AUDIENCE, oidc_jwks_url=None))
    return issuer


def sign_in(client, token: str):
    return client.post("/api/v1/auth/oidc", json={"id_token": token})


def count(db, model) -> int:
    with db.read() as session:
        return session.scalar(select(func.count()).select_from(model))


def test_a_valid_id_token_creates_the_user_once(client, db, configured):
    first = sign_in(client, configured.token())
    assert first.status_code == 200, first.json
    assert first.json["user"]["email"] == "oidc.user@example.com" and first.json["refresh_token"]
    me = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {first.json['access_token']}"})
    assert me.status_code == 200 and me.json["id"] == first.json["user"]["id"]
    # ES256 and a changed email at the provider: the same identity, the same user.
    again = sign_in(client, configured.token(key=configured.ec_key, alg="ES256", kid="ec-1",
                                             email="renamed@example.com"))
    assert again.status_code == 200 and again.json["user"]["id"] == first.json["user"]["id"]
    assert count(db, User) == 1 and count(db, ExternalIdentity) == 1
    assert configured.requests.count("/.well-known/openid-configuration") == 1  # cached per process


def test_a_verified_email_links_the_existing_user(client, db, configured):
    registered = client.post("/api/v1/auth/register",
                             json={"email": "oidc.user@example.com", "password": "password123"})
    signed_in = sign_in(client, configured.token(sub="subject-2", email="ＯＩＤＣ.User@example.com"))
    assert signed_in.status_code == 200 and signed_in.json["user"]["id"] == registered.json["user"]["id"]
    assert count(db, User) == 1


def _hs256_with_the_public_key(issuer: LocalIssuer) -> str:
    """The algorithm-confusion attack: HMAC "signed" with the published RSA key as the secret."""
    def part(raw: bytes) -> str:
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    secret = issuer.rsa_key.public_key().public_bytes(serialization.Encoding.PEM,
                                                      serialization.PublicFormat.SubjectPublicKeyInfo)
    header, claims = json.dumps({"alg": "HS256", "kid": "rsa-1"}), json.dumps(issuer.claims())
    signing_input = f"{part(header.encode())}.{part(claims.encode())}"
    return f"{signing_input}.{part(hmac.new(secret, signing_input.encode(), hashlib.sha256).digest())}"


def _unsigned(issuer: LocalIssuer) -> str:
    return jwt.encode(issuer.claims(), None, algorithm="none", headers={"kid": "rsa-1"})


@pytest.mark.parametrize("make, code", [
    (lambda i: i.token(aud="another-client"), "invalid_id_token"),
    (lambda i: i.token(iss="https://accounts.example.org"), "invalid_id_token"),
    (lambda i: i.token(exp=int(time.time()) - 120, iat=int(time.time()) - 600), "id_token_expired"),
    (lambda i: i.token(key=rsa.generate_private_key(public_exponent=65537, key_size=2048)), "invalid_id_token"),
    (lambda i: i.token(kid="unknown-kid"), "invalid_id_token"),
    (_unsigned, "invalid_id_token"),
    (_hs256_with_the_public_key, "invalid_id_token"),
    (lambda i: i.token(email_verified=False), "email_not_verified"),
    (lambda i: i.token(email_verified="true"), "email_not_verified"),
    (lambda i: "not-a-jwt", "invalid_id_token"),
])
def test_bad_id_tokens_are_401_and_write_nothing(client, db, configured, make, code):
    answer = sign_in(client, make(configured))
    assert answer.status_code == 401 and answer.json["error"]["code"] == code
    assert count(db, User) == 0 and count(db, ExternalIdentity) == 0


def test_without_a_configured_provider_the_endpoint_is_404(client, issuer):
    answer = sign_in(client, issuer.token())
    assert answer.status_code == 404 and answer.json["error"]["code"] == "oidc_not_configured"


def test_an_unreachable_provider_is_503(app, client, issuer, monkeypatch):
    runtime = app.extensions["conveyor"]
    monkeypatch.setattr(runtime, "settings", replace(runtime.settings, oidc_issuer=issuer.url, oidc_audience=AUDIENCE,
                                                     oidc_jwks_url="http://127.0.0.1:9/jwks.json"))
    answer = sign_in(client, issuer.token())
    assert answer.status_code == 503 and answer.json["error"]["code"] == "oidc_unavailable"


def test_a_deleted_users_identity_no_longer_signs_in(app, client, configured):
    user_id = sign_in(client, configured.token()).json["user"]["id"]
    _, admin = make_user(app, Role.admin)
    assert client.delete(f"/api/v1/users/{user_id}", headers=admin).status_code == 204
    answer = sign_in(client, configured.token())
    assert answer.status_code == 403 and answer.json["error"]["code"] == "account_deleted"


def test_a_user_made_by_a_provider_has_no_password_and_costs_a_login_the_same(client, configured):
    import time

    from services import auth as auth_service
    from services.identities import NO_PASSWORD

    sign_in(client, configured.token())
    for password in (NO_PASSWORD, "password123", ""):
        login = client.post("/api/v1/auth/login", json={"email": "oidc.user@example.com", "password": password})
        assert login.status_code == 401 and login.json["error"]["code"] == "invalid_credentials"
    started = time.process_time()
    with pytest.raises(auth_service.AuthError):
        auth_service.check_password(type("U", (), {"password_hash": NO_PASSWORD, "deleted_at": None})(), "x")
    assert time.process_time() - started > 0.005  # a real argon2 verification, as for any other account
