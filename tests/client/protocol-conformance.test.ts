/**
 * The relay speaks what @mxcast/protocol defines (docs/protocol.md): a real relay's index JSON in
 * every state passes mediaIndexProblem, and every text message its listen WebSocket sends is one
 * parseListenMessage knows. Read with raw fetch and a raw `ws` socket, so no client-side parser
 * can hide a mismatch by skipping what it does not understand.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { MediaClient } from '@mxcast/client';
import { encodeBlock, MAGIC } from '@mxcast/format';
import {
  INDEX_PATH,
  LISTEN_WS_PATH,
  matchMxc,
  mediaIndexProblem,
  mediaPath,
  parseListenMessage,
  type MediaIndex,
} from '@mxcast/protocol';
import { startInProcessRelay, type InProcessRelay } from '../capture/capture-harness.ts';

let relay: InProcessRelay;
let client: MediaClient;
beforeAll(async () => {
  relay = await startInProcessRelay();
  client = new MediaClient({ baseUrl: relay.url, accessToken: relay.token });
});
afterAll(async () => {
  await relay?.close();
});

const geometry = { frame_ms: 20, frames_per_block: 12, block_size: 16 + 100 };

async function rawIndex(mxc: string, query = ''): Promise<MediaIndex> {
  const res = await fetch(`${relay.url}${mediaPath(INDEX_PATH, matchMxc(mxc)!)}${query}`);
  expect(res.status).toBe(200);
  const json: unknown = await res.json();
  expect(mediaIndexProblem(json)).toBeNull();
  return json as MediaIndex;
}

/** A raw listen socket collecting text messages until the relay closes it. */
function rawListen(mxc: string): Promise<{ opened: Promise<void>; texts: Promise<string[]> }> {
  const url = `${relay.url.replace(/^http/, 'ws')}${mediaPath(LISTEN_WS_PATH, matchMxc(mxc)!)}?from=0`;
  const ws = new WebSocket(url);
  const texts: string[] = [];
  const opened = new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  const closed = new Promise<string[]>((resolve) => ws.once('close', () => resolve(texts)));
  ws.on('message', (data, isBinary) => {
    if (!isBinary) texts.push(data.toString());
  });
  return Promise.resolve({ opened, texts: closed });
}

describe('the relay against @mxcast/protocol', () => {
  it('serves a valid index pending, live (with offsets) and complete; every listen message parses', async () => {
    const { mxc } = await client.create({
      ...geometry,
      bitrate: 32000,
      sample_rate: 48000,
      channels: 1,
    });
    const pending = await rawIndex(mxc);
    expect(pending).toMatchObject({ state: 'pending', block_count: 0, first_offsets: [] });
    expect(pending.geometry).toMatchObject(geometry);

    const listener = await rawListen(mxc);
    await listener.opened;
    const blocks = Array.from({ length: 6 }, (_, i) => encodeBlock(i, randomBytes(100)));
    await client.tusCreate(mxc);
    let offset = await client.tusPatch(
      mxc,
      0,
      new Uint8Array([...MAGIC, ...blocks[0]!, ...blocks[1]!, ...blocks[2]!]),
    );
    const live = await rawIndex(mxc, '?from=0&count=10');
    expect(live).toMatchObject({ state: 'live', block_count: 3, from: 0, header_end: 4 + 2 * 116 });
    expect(live.first_offsets).toEqual([4, 120]);
    expect(live.offsets).toEqual([4, 120, 236]);

    const rest = new Uint8Array(blocks.slice(3).flatMap((b) => [...b]));
    offset = await client.tusPatch(mxc, offset, rest, { final: true });
    const complete = await rawIndex(mxc);
    expect(complete).toMatchObject({ state: 'complete', block_count: 6, byte_length: offset });
    expect(complete.sha256).toMatch(/^[A-Za-z0-9+/]{43}$/);

    const texts = await listener.texts;
    expect(texts.length).toBeGreaterThanOrEqual(2);
    const messages = texts.map((t) => parseListenMessage(t));
    expect(messages, texts.join('\n')).not.toContain(null);
    expect(messages[0]).toMatchObject({ type: 'status' });
    expect(messages.at(-1)).toEqual({ type: 'end', state: 'complete' });
  });

  it('serves a valid index once cancelled, and the listener hears end: cancelled', async () => {
    const { mxc } = await client.create();
    const listener = await rawListen(mxc);
    await listener.opened;
    await client.tusCreate(mxc);
    await client.tusPatch(mxc, 0, new Uint8Array([...MAGIC, ...encodeBlock(0, randomBytes(100))]));
    await client.deleteMedia(mxc);
    const cancelled = await rawIndex(mxc);
    expect(cancelled).toMatchObject({ state: 'cancelled', geometry: null, block_count: 1 });
    const messages = (await listener.texts).map((t) => parseListenMessage(t));
    expect(messages).not.toContain(null);
    expect(messages.at(-1)).toEqual({ type: 'end', state: 'cancelled' });
  });
});
