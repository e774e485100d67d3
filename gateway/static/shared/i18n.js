// Strings for people, in English or Japanese: every string a page shows goes through t().
// The language chosen is kept in localStorage (it is no secret); the browser's language
// is the default.

export const LANGUAGES = [
  { code: "en", label: "English" },
  { code: "ja", label: "日本語" },
];

/**
 * createI18n({en: {...}, ja: {...}}, "console.lang") → {t, lang, setLang, locale, subscribe}.
 * t("tenants.count", {n: 3}) replaces {n}; a key missing in Japanese falls back to English,
 * and a key missing everywhere shows itself (so a forgotten string is visible, not blank).
 */
export function createI18n(messages, storageKey) {
  const listeners = new Set();
  let current = initialLanguage(messages, storageKey);
  applyToDocument(current);

  function t(key, params) {
    const table = messages[current] || {};
    const text = key in table ? table[key] : key in messages.en ? messages.en[key] : key;
    if (!params) return text;
    return text.replace(/\{(\w+)\}/g, (all, name) => (name in params ? String(params[name]) : all));
  }

  function setLang(code) {
    if (!(code in messages) || code === current) return;
    current = code;
    try {
      localStorage.setItem(storageKey, code);
    } catch {
      // storage refused (private mode): the choice lasts for this page only
    }
    applyToDocument(code);
    listeners.forEach((listener) => listener(code));
  }

  return {
    t,
    setLang,
    lang: () => current,
    locale: () => (current === "ja" ? "ja-JP" : "en-US"),
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}

function initialLanguage(messages, storageKey) {
  let stored = null;
  try {
    stored = localStorage.getItem(storageKey);
  } catch {
    stored = null;
  }
  if (stored && stored in messages) return stored;
  const browser = (navigator.language || "en").slice(0, 2);
  return browser in messages ? browser : "en";
}

function applyToDocument(code) {
  if (typeof document !== "undefined") document.documentElement.lang = code;
}

/** An ISO 8601 instant for people, in the page's language ("" for none). */
export function formatDateTime(iso, locale, timeZone) {
  if (!iso) return "";
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return String(iso);
  const options = { dateStyle: "medium", timeStyle: "short" };
  try {
    return new Intl.DateTimeFormat(locale, timeZone ? { ...options, timeZone } : options).format(date);
  } catch {
    return new Intl.DateTimeFormat(locale, options).format(date);
  }
}

/** A day (YYYY-MM-DD, or the date of an instant) for people. */
export function formatDate(iso, locale, timeZone) {
  if (!iso) return "";
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return String(iso);
  const options = { dateStyle: "medium" };
  try {
    return new Intl.DateTimeFormat(locale, timeZone ? { ...options, timeZone } : options).format(date);
  } catch {
    return new Intl.DateTimeFormat(locale, options).format(date);
  }
}
