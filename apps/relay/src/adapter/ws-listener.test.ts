/**
 * The WebSocket listener's start (docs/protocol.md "Listen over WebSocket"): `from=<seq>&headers=1`
 * on a media that has not got its header blocks yet waits for them — woken by their arrival, not
 * by polling — then sends blocks 0 and 1 and continues at `from`, without the blocks between.
 */
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import {
  createMedia,
  makeStream,
  sleep,
  streamingPut,
  until,
  uploadUrl,
  useTestRelay,
  wsUrl,
} from '../testing/relay-fixture.ts';
import { collect } from '../testing/ws-collector.ts';

const t = useTestRelay();

describe('WebSocket listener, headers=1 from a later seq', () => {
  it('waits for the header blocks as they arrive, then sends 0, 1 and from=4 onward', async () => {
    const m = await createMedia(t);
    const s = makeStream(8, 120);
    // Joins while the media is still pending (no byte stored).
    const l = collect(wsUrl(t, 'ws', m, '?from=4&headers=1'));
    await l.opened;
    const put = streamingPut(uploadUrl(t, m), t.auth);
    put.push(s.bytes.subarray(0, s.offsets[1])); // magic + block 0
    await sleep(100);
    // Block 0 alone is not enough: block 1 must come first.
    expect(l.blocks).toHaveLength(0);
    const arrived = Date.now();
    put.push(s.blocks[1] as Uint8Array);
    await until(() => l.blocks.length === 2, 2000, 'blocks 0 and 1');
    // Sent as soon as block 1 is stored (the wait ends on its arrival).
    expect(Date.now() - arrived).toBeLessThan(1000);
    for (let i = 2; i < 8; i++) put.push(s.blocks[i] as Uint8Array);
    put.end();
    expect((await put.response).status).toBe(200);
    expect((await l.closed).code).toBe(1000);
    const want = [0, 1, 4, 5, 6, 7].map((i) => Buffer.from(s.blocks[i] as Uint8Array));
    expect(l.blocks.map((b) => Buffer.from(b))).toEqual(want);
    expect(l.messages.at(-1)).toEqual({ type: 'end', state: 'complete' });
  });
});

describe('the WebSocket handshake', () => {
  it('answers 101 with the headers of every relay response (nosniff, CORS)', async () => {
    const m = await createMedia(t);
    const ws = new WebSocket(wsUrl(t, 'ws', m, '?from=live'));
    const headers = await new Promise<Record<string, unknown>>((resolve, reject) => {
      ws.once('upgrade', (res) => resolve(res.headers));
      ws.once('error', reject);
    });
    ws.terminate();
    expect(headers['x-content-type-options']).toBe('nosniff');
    expect(headers['access-control-allow-origin']).toBe('*');
  });
});
