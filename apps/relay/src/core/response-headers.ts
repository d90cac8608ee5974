/**
 * The headers on every relay response, in one place: CORS (cors-headers.ts) and
 * `X-Content-Type-Options: nosniff` — media bytes are ciphertext and errors are JSON, and a
 * browser must never sniff either into something it renders. The Hono app sets them on every
 * response (app/relay-app.ts); the adapter's direct downloads and raw socket refusals, which
 * bypass Hono, take them from here too.
 */
import { CORS_HEADERS } from './cors-headers.ts';

export const RESPONSE_HEADERS: Readonly<Record<string, string>> = {
  ...CORS_HEADERS,
  'X-Content-Type-Options': 'nosniff',
};
