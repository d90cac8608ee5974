/**
 * The two checks every JSON message of the protocol starts with: the text is JSON, and it is an
 * object (not null, not an array). Messages that fail either are not ours and are skipped
 * (docs/protocol.md: listeners ignore what they do not know).
 */

/** The object in `text`, or null when it is not JSON or not an object. */
export function parseJsonObject(text: string): Record<string, unknown> | null {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return null;
  }
  return jsonObjectOf(v);
}

/** `v` as an object's members, or null for null, arrays and every other value. */
export function jsonObjectOf(v: unknown): Record<string, unknown> | null {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
    ? (v as Record<string, unknown>)
    : null;
}

/** A count or offset in a message: a non-negative safe integer. */
export const isCount = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;
