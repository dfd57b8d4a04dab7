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

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/**
 * An RFC 3339 time or Unix seconds, in Japan time, as people read it: "2026年12月2日 6:43" in
 * Japanese, "2 Dec 2026, 06:43" in English (the same as inkan_protocol::display's jst_date_*).
 */
export function dateTime(value: string | number, lang: Language): string {
  const ms = typeof value === "number" ? value * 1000 : new Date(value).getTime();
  if (Number.isNaN(ms)) return String(value);
  // Japan has no daylight saving time: UTC+9 all year.
  const j = new Date(ms + 9 * 3600 * 1000);
  const [y, mo, d, h, mi] = [j.getUTCFullYear(), j.getUTCMonth(), j.getUTCDate(), j.getUTCHours(), j.getUTCMinutes()];
  const mm = String(mi).padStart(2, "0");
  return lang === "ja" ? `${y}年${mo + 1}月${d}日 ${h}:${mm}` : `${d} ${MONTHS[mo]} ${y}, ${String(h).padStart(2, "0")}:${mm}`;
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
