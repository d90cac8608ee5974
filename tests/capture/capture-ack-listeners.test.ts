/**
 * The broadcaster's own acknowledgement socket is not a listener (docs/protocol.md "Listen over
 * WebSocket", `ack=1`): while `mxcast capture` runs, the index and the listeners' status messages
 * count only the others; `ack=1` is refused without the owner's token.
 */
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { parseListenLink } from '@mxcast/client';
import { createToken } from '@mxcast/relay';
import { linkFrom, runCapture, useInProcessRelay } from './capture-harness.ts';

const relay = useInProcessRelay();
const P = '/_matrix/media/unstable/org.matrix.msc4016';

async function indexListeners(url: string, mediaPath: string): Promise<number> {
  const res = await fetch(`${url}${P}/index/${mediaPath}`);
  expect(res.status).toBe(200);
  return ((await res.json()) as { listeners: number }).listeners;
}

/** The relay-wide WebSocket gauge of /metrics (it does count the acknowledgement socket). */
async function wsGauge(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const m = /^mxcast_listeners\{transport="ws"\} (\d+)$/m.exec(text);
  if (!m) throw new Error(`no ws listener gauge in /metrics:\n${text.slice(0, 2000)}`);
  return Number(m[1]);
}

/** Opens a listen socket; resolves with the HTTP status of a refused upgrade, or the open socket. */
function openListener(
  url: string,
  query: string,
  token?: string,
): Promise<{ ws: WebSocket; status: { listeners: number } } | { refused: number; body: string }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${url.replace(/^http/, 'ws')}${P}/ws/${query}`, {
      ...(token ? { headers: { authorization: `Bearer ${token}` } } : {}),
    });
    ws.on('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ refused: res.statusCode ?? 0, body }));
    });
    ws.on('message', (data, isBinary) => {
      if (isBinary) return;
      const msg = JSON.parse(String(data)) as { type: string; listeners: number };
      if (msg.type === 'status') resolve({ ws, status: msg });
    });
    ws.on('error', (err) => reject(err));
  });
}

describe('the capture acknowledgement socket', () => {
  it('is left out of the listener count listeners see, and ack=1 needs the owner', async () => {
    const r = relay();
    const run = runCapture(r, ['--input', 'sine:700', '--duration', '6', '--realtime']);
    await run.waitFor('/listen#');
    const mxc = parseListenLink(linkFrom(run.stdout())).mxc;
    const mediaPath = mxc.slice('mxc://'.length);
    // The capture opens its socket right after the upload starts: wait until the relay has it.
    for (let i = 0; i < 50 && (await wsGauge(r.url)) < 1; i++)
      await new Promise((d) => setTimeout(d, 100));
    expect(await wsGauge(r.url)).toBe(1);
    expect(await indexListeners(r.url, mediaPath)).toBe(0);

    const first = await openListener(r.url, `${mediaPath}?from=live`);
    if (!('ws' in first)) throw new Error(`listener refused: ${first.refused} ${first.body}`);
    expect(first.status.listeners).toBe(1);
    expect(await indexListeners(r.url, mediaPath)).toBe(1);
    expect(await wsGauge(r.url)).toBe(2);

    // ack=1 without a token, and with another user's token: refused before the handshake.
    const anonymous = await openListener(r.url, `${mediaPath}?from=live&ack=1`);
    expect(anonymous).toMatchObject({ refused: 401 });
    const other = createToken(r.dataDir, '@someone-else:localhost');
    const foreign = await openListener(r.url, `${mediaPath}?from=live&ack=1`, other);
    expect(foreign).toMatchObject({ refused: 403 });
    expect(JSON.parse((foreign as { body: string }).body)).toMatchObject({
      errcode: 'M_FORBIDDEN',
    });
    // The owner's own ack=1 socket is honoured and not counted either.
    const own = await openListener(r.url, `${mediaPath}?from=live&ack=1`, r.token);
    if (!('ws' in own)) throw new Error(`owner's ack socket refused: ${own.refused} ${own.body}`);
    expect(own.status.listeners).toBe(1);
    expect(await indexListeners(r.url, mediaPath)).toBe(1);
    own.ws.close();
    first.ws.close();

    const result = await run.done;
    expect(result.code, result.stderr).toBe(0);
  }, 60_000);
});
