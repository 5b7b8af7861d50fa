"""Verifying OpenID Connect ID tokens against the provider's published keys (JWKS), fetched and cached.

The keys come from OIDC_JWKS_URL, or else from the `jwks_uri` of the issuer's discovery document
(`<OIDC_ISSUER>/.well-known/openid-configuration`), read once per process. Only asymmetric
algorithms: an HS256 token "signed" with the public key, or `alg: none`, is refused."""

from __future__ import annotations

import json
import logging
import threading
import urllib.request
from dataclasses import dataclass

import jwt

from config import Settings
from services.auth import AuthError
from services.errors import DomainError
from services.identities import VerifiedIdentity

log = logging.getLogger(__name__)

ALGORITHMS = ["RS256", "ES256"]
FETCH_TIMEOUT_SECONDS = 5
KEYS_LIFESPAN_SECONDS = 300  # how long fetched keys are trusted before they are fetched again
CLOCK_SKEW_SECONDS = 30


class OidcNotConfigured(DomainError):
    code = "oidc_not_configured"
    status = 404  # this deployment has no such sign-in; not a server fault


class OidcUnavailable(DomainError):
    code = "oidc_unavailable"
    status = 503


@dataclass
class OidcVerifier:
    issuer: str
    audience: str
    jwks_url: str | None = None
    _keys: jwt.PyJWKClient | None = None

    def verify(self, id_token: str) -> VerifiedIdentity:
        """Network (the provider's keys, when not cached): call it outside any transaction."""
        try:
            if jwt.get_unverified_header(id_token).get("alg") not in ALGORITHMS:
                raise jwt.InvalidAlgorithmError("alg")
            key = self._key_set().get_signing_key_from_jwt(id_token)
            claims = jwt.decode(id_token, key.key, algorithms=ALGORITHMS, audience=self.audience, issuer=self.issuer,
                                leeway=CLOCK_SKEW_SECONDS, options={"require": ["exp", "iat", "iss", "aud", "sub"]})
        except jwt.PyJWKClientConnectionError as exc:
            log.warning("the identity provider's keys could not be fetched", exc_info=True)
            raise OidcUnavailable("the identity provider cannot be reached; try again shortly") from exc
        except jwt.ExpiredSignatureError as exc:
            raise AuthError("the ID token has expired", code="id_token_expired") from exc
        except (jwt.PyJWTError, ValueError, TypeError, AttributeError) as exc:
            raise AuthError("the ID token is not valid", code="invalid_id_token") from exc
        subject, email = claims["sub"], claims.get("email")
        if not isinstance(subject, str) or not 0 < len(subject) <= 255 or len(self.issuer) > 255:
            raise AuthError("the ID token is not valid", code="invalid_id_token")
        return VerifiedIdentity(issuer=self.issuer, subject=subject, email=email if isinstance(email, str) else None,
                                email_verified=claims.get("email_verified") is True)

    def _key_set(self) -> jwt.PyJWKClient:
        if self._keys is None:
            self._keys = jwt.PyJWKClient(self.jwks_url or self._discover_jwks_url(), cache_keys=True,
                                         lifespan=KEYS_LIFESPAN_SECONDS, timeout=FETCH_TIMEOUT_SECONDS)
        return self._keys

    def _discover_jwks_url(self) -> str:
        url = self.issuer.rstrip("/") + "/.well-known/openid-configuration"
        try:
            with urllib.request.urlopen(url, timeout=FETCH_TIMEOUT_SECONDS) as response:
                jwks_uri = json.load(response)["jwks_uri"]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("the identity provider's discovery document could not be read", exc_info=True)
            raise OidcUnavailable("the identity provider cannot be reached; try again shortly") from exc
        if not isinstance(jwks_uri, str):
            raise OidcUnavailable("the identity provider's discovery document has no jwks_uri")
        return jwks_uri


_verifiers: dict[tuple, OidcVerifier] = {}
_lock = threading.Lock()


def verifier_for(settings: Settings) -> OidcVerifier:
    """One verifier (and key cache) per process and configuration."""
    if not (settings.oidc_issuer and settings.oidc_audience):
        raise OidcNotConfigured("sign-in with an identity provider is not configured (OIDC_ISSUER, OIDC_AUDIENCE)")
    config = (settings.oidc_issuer, settings.oidc_audience, settings.oidc_jwks_url)
    with _lock:
        if config not in _verifiers:
            _verifiers[config] = OidcVerifier(*config)
        return _verifiers[config]
