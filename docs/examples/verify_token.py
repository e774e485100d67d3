"""Check an entitlement token offline: python verify_token.py GATEWAY_URL TOKEN FEATURE
(needs PyJWT with its crypto extra: pip install "pyjwt[crypto]")."""

import json
import sys

import jwt

gateway, token, feature = sys.argv[1:4]
# The gateway's public keys, kept for 60 s; a token signed by a key it has not seen yet
# (after a rotation) makes the client fetch them again.
jwks = jwt.PyJWKClient(f"{gateway}/.well-known/jwks.json", lifespan=60)


def entitlements(token: str) -> dict:
    """The token's claims once its signature, issuer and expiry check out; else jwt raises."""
    key = jwks.get_signing_key_from_jwt(token)
    return jwt.decode(
        token, key, algorithms=["EdDSA"], issuer="billing-gateway", options={"require": ["exp", "sub"]}
    )


claims = entitlements(token)
print(json.dumps({"tenant": claims["sub"], feature: claims["features"].get(feature)}))
