// Numbers and times as people read them.
import type { Language } from "./bindings";

export function groupThousands(n: number): string {
  return Math.trunc(n).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ",");
}

/** Seconds left as m:ss (never negative). */
export function countdown(secondsLeft: number): string {
  const s = Math.max(0, Math.floor(secondsLeft));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

/** An RFC 3339 time or Unix seconds, in Japan time, as "2026/11/27 10:15". */
export function dateTime(value: string | number, lang: Language): string {
  const d = typeof value === "number" ? new Date(value * 1000) : new Date(value);
  if (Number.isNaN(d.getTime())) return String(value);
  return new Intl.DateTimeFormat(lang === "ja" ? "ja-JP" : "en-GB", {
    timeZone: "Asia/Tokyo",
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
  }).format(d);
}

/** An offline code split for reading: "123 456". */
export function spacedCode(code: string): string {
  return code.length === 6 ? `${code.slice(0, 3)} ${code.slice(3)}` : code;
}

/**
 * The half of a "日本語 / English" pair (the signed place of a login, e.g. "イギリス / United
 * Kingdom") for the chosen language; text that is not such a pair is shown as it is.
 */
export function inLanguage(pair: string, lang: Language): string {
  const parts = pair.split(" / ");
  if (parts.length !== 2 || !parts[0] || !parts[1]) return pair;
  return lang === "ja" ? parts[0] : parts[1];
}
