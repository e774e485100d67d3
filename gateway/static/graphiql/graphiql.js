// GraphiQL for billing-gateway, with nothing loaded from beyond this origin.
//
// The API key pasted into the bar above the editor is kept in this tab's
// sessionStorage (gone when the tab closes; never localStorage, never the URL) and
// sent as `Authorization: Bearer <key>`: in each POST's headers, and in the
// graphql-transport-ws connection_init payload for subscriptions. GraphiQL's own
// state (tabs, history) lives in sessionStorage too.
"use strict";

(function () {
  const page = document.getElementById("graphiql-page");
  if (typeof React === "undefined" || typeof ReactDOM === "undefined" || typeof GraphiQL === "undefined") {
    // A vendored file missing or changed (its integrity hash refused it): say so.
    page.textContent =
      "GraphiQL's files did not load. On the server, run `python scripts/vendor_assets.py --check`.";
    return;
  }
  const h = React.createElement;
  const KEY_ITEM = "billing-gateway:api-key";
  const config = JSON.parse(document.getElementById("graphiql-config").textContent);
  const endpoint = location.origin + location.pathname;
  const socket = endpoint.replace(/^http/, "ws");

  // GraphiQL's storage, kept per tab: only its own "graphiql:" items, so its "clear
  // storage" setting leaves the key alone.
  const graphiqlStorage = {
    getItem: (name) => sessionStorage.getItem(name),
    setItem: (name, value) => sessionStorage.setItem(name, value),
    removeItem: (name) => sessionStorage.removeItem(name),
    get length() {
      return ownItems().length;
    },
    clear() {
      ownItems().forEach((name) => sessionStorage.removeItem(name));
    },
  };

  function ownItems() {
    return Object.keys(sessionStorage).filter((name) => name.startsWith("graphiql:"));
  }

  // What people paste: the bare secret, "Bearer gwk_…", or the README's
  // {"Authorization": "Bearer gwk_…"}.
  function keyFrom(pasted) {
    let text = pasted.trim();
    if (text.startsWith("{")) {
      try {
        const headers = JSON.parse(text);
        text = String(headers.Authorization || headers.authorization || "").trim();
      } catch (error) {
        return "";
      }
    }
    return text.replace(/^bearer\s+/i, "").trim();
  }

  function fetcherFor(key) {
    const auth = key ? { Authorization: "Bearer " + key } : {};
    return GraphiQL.createFetcher({
      url: endpoint,
      subscriptionUrl: socket,
      headers: auth,
      wsConnectionParams: auth,
    });
  }

  function masked(key) {
    return key.length > 12 ? key.slice(0, 4) + "…" + key.slice(-4) : "…";
  }

  function KeyBar(props) {
    const [draft, setDraft] = React.useState("");
    const [problem, setProblem] = React.useState("");

    function submit(event) {
      event.preventDefault();
      const key = keyFrom(draft);
      if (!key) {
        setProblem("Paste an API key (gwk_…), “Bearer gwk_…” or {\"Authorization\": \"Bearer gwk_…\"}.");
        return;
      }
      setProblem("");
      setDraft("");
      props.onKey(key);
    }

    const inUse = props.apiKey
      ? [
          h("span", { className: "key-state", key: "state" }, "Key ", h("code", null, masked(props.apiKey)),
            " in use for this tab"),
          h("button", { type: "button", key: "forget", onClick: () => props.onKey("") }, "Forget key"),
        ]
      : [h("span", { className: "key-state key-missing", key: "state" }, "No key: only __typename answers")];

    return h(
      "form",
      { className: "key-bar", onSubmit: submit, "aria-label": "Authentication" },
      h("strong", { className: "key-title" }, "billing-gateway"),
      h("label", { htmlFor: "api-key" }, "API key"),
      h("input", {
        id: "api-key",
        name: "api-key",
        type: "password",
        autoComplete: "off",
        spellCheck: false,
        placeholder: "paste gwk_… (kept for this tab only)",
        value: draft,
        onChange: (event) => setDraft(event.target.value),
      }),
      h("button", { type: "submit" }, "Use key"),
      ...inUse,
      problem ? h("span", { className: "key-problem", role: "alert" }, problem) : null,
    );
  }

  // The explorer plugin (a tree of the schema's fields to tick), when its script loaded.
  const plugins = window.GraphiQLPluginExplorer ? [GraphiQLPluginExplorer.explorerPlugin()] : [];

  function Page() {
    const [apiKey, setApiKey] = React.useState(() => sessionStorage.getItem(KEY_ITEM) || "");
    const [generation, setGeneration] = React.useState(0);
    const fetcher = React.useMemo(() => fetcherFor(apiKey), [apiKey]);

    function onKey(key) {
      if (key) sessionStorage.setItem(KEY_ITEM, key);
      else sessionStorage.removeItem(KEY_ITEM);
      setApiKey(key);
      setGeneration((n) => n + 1);
    }

    return h(
      "div",
      { className: "page" },
      h(KeyBar, { apiKey, onKey }),
      h(GraphiQL, {
        // A new key: GraphiQL starts afresh (its tabs kept in storage) and introspects with it.
        key: generation,
        fetcher,
        storage: graphiqlStorage,
        plugins,
        defaultTabs: config.tabs,
        shouldPersistHeaders: false,
        isHeadersEditorEnabled: true,
        defaultEditorToolsVisibility: false,
        inputValueDeprecation: true,
      }),
    );
  }

  ReactDOM.createRoot(page).render(h(Page));
})();
