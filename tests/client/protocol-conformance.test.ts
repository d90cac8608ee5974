/**
 * The relay speaks what @mxcast/protocol defines (docs/protocol.md): a real relay's index JSON in
 * every state passes mediaIndexProblem, and every text message its listen WebSocket sends is one
 * parseListenMessage knows, as every answer of its upload WebSocket is one parseUploadMessage knows. Read with raw fetch and a raw `ws` socket, so no client-side parser
 * can hide a mismatch by skipping what it does not understand.
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { encodeBlock, MAGIC } from '@mxcast/format';
import {
  INDEX_PATH,
  LISTEN_WS_PATH,
  matchMxc,
  mediaIndexProblem,
  mediaPath,
  parseListenMessage,
  parseUploadMessage,
  FINISH_MESSAGE,
  UPLOAD_WS_PATH,
  type MediaIndex,
  type UploadServerMessage,
} from '@mxcast/protocol';
import { useClientRelay } from './client-fixture.ts';

const t = useClientRelay();

const geometry = { frame_ms: 20, frames_per_block: 12, block_size: 16 + 100 };

async function rawIndex(mxc: string, query = ''): Promise<MediaIndex> {
  const res = await fetch(`${t.relay.url}${mediaPath(INDEX_PATH, matchMxc(mxc)!)}${query}`);
  expect(res.status).toBe(200);
  const json: unknown = await res.json();
  expect(mediaIndexProblem(json)).toBeNull();
  return json as MediaIndex;
}

/** A raw listen socket collecting text messages until the relay closes it. */
function rawListen(mxc: string): Promise<{ opened: Promise<void>; texts: Promise<string[]> }> {
  const url = `${t.relay.url.replace(/^http/, 'ws')}${mediaPath(LISTEN_WS_PATH, matchMxc(mxc)!)}?from=0`;
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
    const { mxc } = await t.client.create({
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
    await t.client.tusCreate(mxc);
    let offset = await t.client.tusPatch(
      mxc,
      0,
      new Uint8Array([...MAGIC, ...blocks[0]!, ...blocks[1]!, ...blocks[2]!]),
    );
    const live = await rawIndex(mxc, '?from=0&count=10');
    expect(live).toMatchObject({ state: 'live', block_count: 3, from: 0, header_end: 4 + 2 * 116 });
    expect(live.first_offsets).toEqual([4, 120]);
    expect(live.offsets).toEqual([4, 120, 236]);

    const rest = new Uint8Array(blocks.slice(3).flatMap((b) => [...b]));
    offset = await t.client.tusPatch(mxc, offset, rest, { final: true });
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
    const { mxc } = await t.client.create();
    const listener = await rawListen(mxc);
    await listener.opened;
    await t.client.tusCreate(mxc);
    await t.client.tusPatch(
      mxc,
      0,
      new Uint8Array([...MAGIC, ...encodeBlock(0, randomBytes(100))]),
    );
    await t.client.deleteMedia(mxc);
    const cancelled = await rawIndex(mxc);
    expect(cancelled).toMatchObject({ state: 'cancelled', geometry: null, block_count: 1 });
    const messages = (await listener.texts).map((t) => parseListenMessage(t));
    expect(messages).not.toContain(null);
    expect(messages.at(-1)).toEqual({ type: 'end', state: 'cancelled' });
  });

  it('answers the browser upload socket with messages parseUploadMessage knows: acks, complete, error', async () => {
    const upload = async (parts: Uint8Array[], finish: boolean) => {
      const { mxc } = await t.client.create();
      const url = `${t.relay.url.replace(/^http/, 'ws')}${mediaPath(UPLOAD_WS_PATH, matchMxc(mxc)!)}?access_token=${t.relay.token}`;
      const ws = new WebSocket(url);
      const texts: string[] = [];
      ws.on('message', (data, isBinary) => {
        if (isBinary) return;
        texts.push(data.toString());
        const m = parseUploadMessage(data.toString());
        // Finish once everything sent is acknowledged, as the web broadcaster does.
        if (finish && m?.type === 'ack' && m.blocks === parts.length - 1)
          ws.send(JSON.stringify(FINISH_MESSAGE));
      });
      await new Promise<void>((resolve, reject) => {
        ws.once('open', resolve);
        ws.once('error', reject);
      });
      for (const p of parts) ws.send(p);
      await new Promise((resolve) => ws.once('close', resolve));
      return texts.map((t) => parseUploadMessage(t));
    };
    const good = [MAGIC, ...Array.from({ length: 4 }, (_, i) => encodeBlock(i, randomBytes(100)))];
    const ok = await upload(good, true);
    expect(ok).not.toContain(null);
    expect(ok.filter((m) => m?.type === 'ack').length).toBeGreaterThanOrEqual(1);
    expect(ok.at(-1)).toMatchObject({ type: 'complete', blocks: 4, offset: 4 + 4 * 116 });
    expect((ok.at(-1) as Extract<UploadServerMessage, { type: 'complete' }>).sha256).toMatch(
      /^[A-Za-z0-9+/]{43}$/,
    );

    const gap = [MAGIC, encodeBlock(0, randomBytes(100)), encodeBlock(5, randomBytes(100))];
    const refused = await upload(gap, false);
    expect(refused).not.toContain(null);
    expect(refused.at(-1)).toMatchObject({
      type: 'error',
      errcode: 'M_BAD_BLOCK',
      reason: 'SEQ_GAP',
    });
  });
});
