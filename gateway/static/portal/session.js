// The portal's session: the link's one-time token (in the URL's fragment, never sent to a
// server by the browser) is exchanged for an HttpOnly cookie the page cannot read; every
// request then rides on that cookie with the X-Portal-Session header the gateway requires.
// The page holds no API key and stores nothing but the language choice.

import { createClient } from "/assets/shared/graphql.js";

const HEADER = { "X-Portal-Session": "1" };

function withSession(url, options = {}) {
  return globalThis.fetch(url, {
    ...options,
    credentials: "same-origin",
    headers: { ...(options.headers || {}), ...HEADER },
  });
}

export const client = createClient({ fetchImpl: withSession });

/** The token of a link just opened (#token=...), taken off the address bar at once. */
function takeToken() {
  const match = /(?:^#|&)token=([^&]+)/.exec(window.location.hash);
  if (!match) return null;
  window.history.replaceState(null, "", window.location.pathname);
  return decodeURIComponent(match[1]);
}

/** Open the session a link carries (once); resolves when the cookie is set, throws {code, message}. */
export async function openFromLink() {
  const token = takeToken();
  if (!token) return false;
  const response = await withSession("/portal/session", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ token }),
  });
  const body = await response.json().catch(() => null);
  if (!response.ok) {
    const error = (body && body.error) || { code: `HTTP ${response.status}`, message: response.statusText };
    throw error;
  }
  return true;
}

export async function signOut() {
  await withSession("/portal/session/end", { method: "POST" });
}

/**
 * Live updates over graphql-transport-ws (the cookie authenticates the socket):
 * onEvent() runs for each event of any of the subscriptions; returns a close function.
 * The socket reconnects after a drop, a few seconds later.
 */
export function live(documents, variables, onEvent) {
  let socket = null;
  let closed = false;
  let retry = null;
  function connect() {
    const scheme = window.location.protocol === "https:" ? "wss" : "ws";
    socket = new WebSocket(`${scheme}://${window.location.host}/graphql`, "graphql-transport-ws");
    socket.onopen = () => socket.send(JSON.stringify({ type: "connection_init", payload: {} }));
    socket.onmessage = (message) => {
      const data = JSON.parse(message.data);
      if (data.type === "connection_ack") {
        documents.forEach((query, i) =>
          socket.send(JSON.stringify({ id: String(i + 1), type: "subscribe", payload: { query, variables } })),
        );
      } else if (data.type === "next") {
        onEvent(data);
      } else if (data.type === "ping") {
        socket.send(JSON.stringify({ type: "pong" }));
      }
    };
    socket.onclose = () => {
      if (!closed) retry = setTimeout(connect, 3000);
    };
  }
  connect();
  return () => {
    closed = true;
    clearTimeout(retry);
    if (socket) socket.close();
  };
}
