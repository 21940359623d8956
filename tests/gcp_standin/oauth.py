"""OAuth 2.0 token endpoint (JWT-bearer grant) and bearer-token checks for the APIs.

A service-account key signs a JWT assertion; the endpoint verifies the RS256 signature with
the public half of the key the stand-in issued, its audience and lifetime, and only then hands
out an access token bound to the account and the requested scopes.
"""

import base64
import json
import secrets
import time
from urllib.parse import parse_qs

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from errors import platform_error

TOKEN_URI = "https://oauth2.googleapis.com/token"
_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"


class OAuthError(Exception):
    def __init__(self, error, description):
        super().__init__(description)
        self.body = {"error": error, "error_description": description}


def _b64(segment):
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def verify_jwt(state, token, audiences):
    """Return the verified claims of a JWT signed by a key the stand-in issued."""
    try:
        header_b64, payload_b64, signature_b64 = token.split(".")
        header = json.loads(_b64(header_b64))
        claims = json.loads(_b64(payload_b64))
        signature = _b64(signature_b64)
    except ValueError as exc:
        raise OAuthError("invalid_grant", "Invalid JWT: %s" % exc) from exc
    if header.get("alg") != "RS256":
        raise OAuthError("invalid_grant", "Invalid JWT: unsupported algorithm")
    key = state.keys.get(header.get("kid", ""))
    if key is None or key["email"] != claims.get("iss"):
        raise OAuthError("invalid_grant", "Invalid grant: account not found")
    try:
        key["public_key"].verify(
            signature, ("%s.%s" % (header_b64, payload_b64)).encode(), padding.PKCS1v15(), hashes.SHA256()
        )
    except InvalidSignature as exc:
        raise OAuthError("invalid_grant", "Invalid JWT Signature.") from exc
    now = time.time()
    if not claims.get("iat") or not claims.get("exp") or claims["exp"] < now - 30 or claims["iat"] > now + 30:
        raise OAuthError(
            "invalid_grant",
            "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe.",
        )
    if claims["exp"] - claims["iat"] > 3600:
        raise OAuthError("invalid_grant", "Invalid JWT: Token must be a short-lived token (60 minutes)")
    if claims.get("aud") not in audiences:
        raise OAuthError("invalid_grant", "Invalid JWT: Failed audience check.")
    return claims


def token_endpoint(state, raw_body):
    form = {k: v[0] for k, v in parse_qs(raw_body.decode()).items()}
    if form.get("grant_type") != _GRANT:
        raise OAuthError("unsupported_grant_type", "Invalid grant_type: %s" % form.get("grant_type", ""))
    claims = verify_jwt(state, form.get("assertion", ""), {TOKEN_URI})
    scopes = set((claims.get("scope") or "").split())
    if not scopes:
        raise OAuthError("invalid_scope", "Invalid OAuth scope or ID token audience provided.")
    token = "ya29.standin-" + secrets.token_urlsafe(32)
    state.tokens[token] = {"email": claims["iss"], "scopes": scopes, "expires": time.time() + 3599}
    return {"access_token": token, "expires_in": 3599, "token_type": "Bearer"}


def authenticate(state, authorization, api):
    """Check the bearer credential of an API call; return the caller's e-mail."""
    if not authorization.startswith("Bearer "):
        raise platform_error(
            401,
            "Request is missing required authentication credential. Expected OAuth 2 access "
            "token, login cookie or other valid authentication credential.",
        )
    token = authorization[len("Bearer ") :]
    grant = state.tokens.get(token)
    if grant is None and token.count(".") == 2:
        # Self-signed JWT access, which google-auth uses when no scopes are requested.
        try:
            claims = verify_jwt(state, token, {"https://%s/" % api.host})
        except OAuthError as exc:
            raise platform_error(401, "Invalid Credentials") from exc
        return claims["iss"]
    if grant is None or grant["expires"] < time.time():
        raise platform_error(401, "Invalid Credentials")
    if not grant["scopes"] & api.scopes:
        raise platform_error(403, "Request had insufficient authentication scopes.", "PERMISSION_DENIED")
    return grant["email"]
