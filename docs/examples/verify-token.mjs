// Check an entitlement token offline with Node 18+ alone (no packages):
//   node verify-token.mjs GATEWAY_URL TOKEN FEATURE
import { createPublicKey, verify } from "node:crypto";

const [gateway, token, feature] = process.argv.slice(2);
let keys = new Map();
let fetchedAt = 0;

// The gateway's public keys, kept for 60 s; an unknown kid (after a rotation) fetches them again.
async function publicKey(kid) {
  if (!keys.has(kid) || Date.now() - fetchedAt > 60_000) {
    const jwks = await (await fetch(`${gateway}/.well-known/jwks.json`)).json();
    keys = new Map(jwks.keys.map((jwk) => [jwk.kid, createPublicKey({ key: jwk, format: "jwk" })]));
    fetchedAt = Date.now();
  }
  return keys.get(kid);
}

// The token's claims once its signature, issuer and expiry check out; else it throws.
async function entitlements(token) {
  const [header, payload, signature] = token.split(".");
  const { alg, kid } = JSON.parse(Buffer.from(header, "base64url"));
  const key = alg === "EdDSA" && (await publicKey(kid));
  const signed = Buffer.from(`${header}.${payload}`);
  if (!key || !verify(null, signed, key, Buffer.from(signature, "base64url"))) throw new Error("bad signature");
  const claims = JSON.parse(Buffer.from(payload, "base64url"));
  if (claims.iss !== "billing-gateway" || !(claims.exp > Date.now() / 1000)) throw new Error("not valid now");
  return claims;
}

const claims = await entitlements(token);
console.log(JSON.stringify({ tenant: claims.sub, [feature]: claims.features[feature] ?? null }));
