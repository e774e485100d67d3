// Money as the API gives it: an integer amount in the currency's minor unit (cents for
// USD, yen for JPY: JPY has none) and an ISO 4217 code. Formatted with Intl.NumberFormat
// from the exact decimal string, never through a float division, so 2^53 − 1 minor
// units still show every digit.

const digitsCache = new Map();

/** The currency's minor units per Intl (USD 2, JPY 0, BHD 3). */
export function minorUnitDigits(currency) {
  const code = String(currency || "").toUpperCase();
  if (!digitsCache.has(code)) {
    let digits = 2;
    try {
      digits = new Intl.NumberFormat("en", { style: "currency", currency: code }).resolvedOptions()
        .maximumFractionDigits;
    } catch {
      digits = 2; // an unknown code: shown as plain 2-decimal amount by formatMoney's fallback
    }
    digitsCache.set(code, digits);
  }
  return digitsCache.get(code);
}

/** 123456 minor units of USD → "1234.56"; of JPY → "123456"; negative keeps its sign. */
export function toDecimalString(amount, currency) {
  const digits = minorUnitDigits(currency);
  const value = BigInt(amount);
  const negative = value < 0n;
  const abs = (negative ? -value : value).toString();
  if (digits === 0) return (negative ? "-" : "") + abs;
  const padded = abs.padStart(digits + 1, "0");
  const whole = padded.slice(0, -digits);
  const fraction = padded.slice(-digits);
  return `${negative ? "-" : ""}${whole}.${fraction}`;
}

/** formatMoney({amount: 9900, currency: "USD"}, "en-US") → "$99.00"; JPY 1000 → "¥1,000". */
export function formatMoney(money, locale) {
  if (!money || money.amount === null || money.amount === undefined) return "";
  const currency = String(money.currency || "").toUpperCase();
  const decimal = toDecimalString(money.amount, currency);
  try {
    const format = new Intl.NumberFormat(locale || "en-US", { style: "currency", currency });
    // Intl formats a decimal string exactly (no float on the way); older engines take a Number.
    return format.format(decimal);
  } catch {
    return `${decimal} ${currency}`;
  }
}

/** "12.50" typed for a USD amount → 1250 minor units; null when it is not an amount. */
export function parseMoneyInput(text, currency) {
  const digits = minorUnitDigits(currency);
  const match = /^\s*(-?)(\d+)(?:[.,](\d*))?\s*$/.exec(String(text));
  if (!match || (match[3] || "").length > digits) return null;
  const fraction = (match[3] || "").padEnd(digits, "0");
  const value = BigInt(match[2] + fraction) * (match[1] ? -1n : 1n);
  const max = BigInt(Number.MAX_SAFE_INTEGER);
  return value > max || value < -max ? null : Number(value);
}
