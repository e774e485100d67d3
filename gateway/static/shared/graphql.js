// A small GraphQL client for the gateway's own pages (console, portal): POST /graphql,
// Apollo's automatic persisted queries (APQ), and typed errors read from the answer.
//
// Each document is first sent as its SHA-256 hash only (`extensions.persistedQuery
// {version: 1, sha256Hash}`, the hash taken over the exact document text). When the
// server answers PERSISTED_QUERY_NOT_FOUND, the document is sent again with its text,
// which stores it. A server that does not know APQ at all (it answers a hash-only request
// with another error and no data) gets the document, with its hash, on every request for
// the rest of the session.

const APQ_NOT_FOUND = "PERSISTED_QUERY_NOT_FOUND";
const APQ_NOT_SUPPORTED = "PERSISTED_QUERY_NOT_SUPPORTED";

/** A request that failed as a whole: network, HTTP, or top-level GraphQL errors. */
export class RequestError extends Error {
  constructor(message, { status = 0, errors = [], code = null } = {}) {
    super(message);
    this.name = "RequestError";
    this.status = status;
    this.errors = errors;
    this.code = code || (errors[0] && errors[0].extensions && errors[0].extensions.code) || null;
  }
}

/** Lowercase hex SHA-256 of a string's UTF-8 bytes; null where crypto.subtle is missing
 * (pages served over plain http from a host other than localhost are not secure contexts). */
export async function sha256Hex(text) {
  if (!globalThis.crypto || !globalThis.crypto.subtle) return null;
  const bytes = new TextEncoder().encode(text);
  const digest = await globalThis.crypto.subtle.digest("SHA-256", bytes);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** The name of the first operation in a document (`query TenantPage(...)` → TenantPage). */
export function operationName(document) {
  const match = /\b(query|mutation|subscription)\s+([_A-Za-z][_0-9A-Za-z]*)/.exec(document);
  return match ? match[2] : null;
}

function errorCodes(body) {
  return (body && Array.isArray(body.errors) ? body.errors : []).map(
    (e) => (e.extensions && e.extensions.code) || e.message,
  );
}

/**
 * createClient({getKey}) → {request(document, variables)}.
 * getKey() returns the API key sent as `Authorization: Bearer <key>` (or null for none).
 * request resolves to `data` and throws RequestError when the answer has no data.
 */
export function createClient({ endpoint = "/graphql", getKey = () => null, fetchImpl } = {}) {
  const doFetch = fetchImpl || ((...args) => globalThis.fetch(...args));
  const hashes = new Map();
  let apq = true; // false once the server showed it does not know persisted queries

  async function post(payload, key) {
    const headers = {
      "Content-Type": "application/json",
      Accept: "application/graphql-response+json, application/json",
    };
    if (key) headers.Authorization = `Bearer ${key}`;
    let response;
    try {
      response = await doFetch(endpoint, {
        method: "POST",
        headers,
        body: JSON.stringify(payload),
        credentials: "omit",
      });
    } catch (err) {
      throw new RequestError(`network: ${err.message}`, { code: "NETWORK" });
    }
    let body = null;
    try {
      body = await response.json();
    } catch {
      body = null;
    }
    return { status: response.status, body };
  }

  async function hashOf(document) {
    if (!hashes.has(document)) hashes.set(document, await sha256Hex(document));
    return hashes.get(document);
  }

  async function send(document, variables) {
    const key = getKey();
    const base = { operationName: operationName(document), variables: variables || {} };
    const hash = await hashOf(document);
    if (!hash) return post({ ...base, query: document }, key);
    const extensions = { persistedQuery: { version: 1, sha256Hash: hash } };
    if (apq) {
      const first = await post({ ...base, extensions }, key);
      const codes = errorCodes(first.body);
      if (!codes.includes(APQ_NOT_FOUND) && !codes.includes("PersistedQueryNotFound")) {
        if (!codes.includes(APQ_NOT_SUPPORTED) && answeredByServer(first)) return first;
        apq = false; // no JSON, or an error that is not the gateway's: it ignored the hash
      }
    }
    // The document with its hash: an APQ server checks and stores it, another runs it.
    return post({ ...base, query: document, extensions }, key);
  }

  async function request(document, variables) {
    const { status, body } = await send(document, variables);
    if (!body) throw new RequestError(`HTTP ${status}`, { status });
    if (body.data === undefined || body.data === null) {
      const errors = body.errors || [];
      throw new RequestError(errors.map((e) => e.message).join("; ") || `HTTP ${status}`, { status, errors });
    }
    if (body.errors && body.errors.length) {
      // Partial data with field errors: the page shows what it has, and the errors.
      const err = new RequestError(body.errors.map((e) => e.message).join("; "), {
        status,
        errors: body.errors,
      });
      err.data = body.data;
      throw err;
    }
    return body.data;
  }

  return { request };
}

// The server understood the hash-only request: it ran it (data), or refused it with one
// of the gateway's coded errors (UNAUTHENTICATED...). A server without APQ answers it as a
// request with no document: 400 in plain text, or errors without a code.
function answeredByServer({ body }) {
  if (!body) return false;
  if (body.data !== undefined && body.data !== null) return true;
  const errors = Array.isArray(body.errors) ? body.errors : [];
  return errors.length > 0 && errors.every((e) => e.extensions && typeof e.extensions.code === "string");
}

/** The typed error of a mutation's result union (`... on Error {code message}`), if any. */
export function typedError(result) {
  return result && typeof result.code === "string" && typeof result.message === "string" ? result : null;
}
