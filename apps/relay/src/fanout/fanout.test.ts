/**
 * Fan-out against a real relay: a slow upload read live by 50 WebSocket listeners (some joining
 * late, replaying from seq 0, and some at the live edge) and HTTP listeners, all getting identical
 * bytes; a stalled listener moved to the live edge (WebSocket) or dropped (HTTP) without slowing
 * the others or queueing more than its bound.
 */
import { get } from 'node:http';
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import {
  createMedia,
  downloadUrl,
  getIndex,
  makeStream,
  sleep,
  startTestRelay,
  streamingPut,
  useTestRelay,
  until,
  uploadUrl,
  wsUrl,
  type TestRelay,
} from '../testing/relay-fixture.ts';
import { collect } from '../testing/ws-collector.ts';

const BOUND = 64 * 1024;
const t = useTestRelay({ limits: { listenerBacklogBytes: BOUND } });

async function metric(name: string): Promise<number> {
  const text = await (await fetch(`${t.url}/metrics`)).text();
  const m = new RegExp(`^${name.replace(/[{}"]/g, '\\$&')} (\\d+)$`, 'm').exec(text);
  return Number(m?.[1] ?? NaN);
}

async function fiftyListeners(t: TestRelay): Promise<void> {
  const m = await createMedia(t);
  const s = makeStream(80, 150);
  const put = streamingPut(uploadUrl(t, m), t.auth);
  put.push(s.bytes.subarray(0, s.offsets[10]));
  await until(async () => (await getIndex(t, m)).block_count === 10, 5000, '10 blocks');

  const early = Array.from({ length: 25 }, () => collect(wsUrl(t, 'ws', m, '?from=0')));
  const atEdge = Array.from({ length: 10 }, () =>
    collect(wsUrl(t, 'ws', m, '?from=live&headers=1')),
  );
  const http = Array.from({ length: 5 }, () =>
    fetch(downloadUrl(t, m)).then(async (r) => Buffer.from(await r.arrayBuffer())),
  );
  await Promise.all([...early, ...atEdge].map((c) => c.opened));
  // Joining at the live edge happens when the server has sent the header blocks.
  await until(() => atEdge.every((c) => c.blocks.length >= 2), 5000, 'header blocks');
  const edgeSeq = 20;
  const late: ReturnType<typeof collect>[] = [];
  for (let i = 10; i < s.blocks.length; i++) {
    put.push(s.blocks[i] as Uint8Array);
    if (i === edgeSeq)
      for (let k = 0; k < 15; k++) late.push(collect(wsUrl(t, 'ws', m, '?from=5')));
    await sleep(3);
  }
  put.end();
  expect((await put.response).status).toBe(200);
  const all = [...early, ...atEdge, ...late];
  await Promise.all(all.map((c) => c.closed));

  for (const c of [...early])
    expect(Buffer.concat(c.blocks).equals(Buffer.concat(s.blocks))).toBe(true);
  for (const c of late)
    expect(Buffer.concat(c.blocks).equals(Buffer.concat(s.blocks.slice(5)))).toBe(true);
  for (const c of atEdge) {
    // Blocks 0 and 1, then every block from where it joined to the end, with no gap or duplicate.
    expect(c.blocks[0]?.equals(s.blocks[0] as Uint8Array)).toBe(true);
    expect(c.blocks[1]?.equals(s.blocks[1] as Uint8Array)).toBe(true);
    const live = c.blocks.slice(2);
    const first = s.blocks.findIndex((b) => Buffer.from(b).equals(live[0] as Buffer));
    expect(first).toBeGreaterThanOrEqual(10);
    expect(Buffer.concat(live).equals(Buffer.concat(s.blocks.slice(first)))).toBe(true);
  }
  for (const c of late) {
    // Counted on join: the 35 WebSocket and 5 HTTP listeners already there, and itself.
    const status = c.messages[0] as { state: string; listeners: number };
    expect(status.state).toBe('live');
    expect(status.listeners).toBeGreaterThanOrEqual(41);
    expect(status.listeners).toBeLessThanOrEqual(55);
  }
  for (const c of all) {
    expect(c.messages[0]).toMatchObject({ type: 'status' });
    expect(c.messages.at(-1)).toEqual({ type: 'end', state: 'complete' });
  }
  for (const body of await Promise.all(http)) expect(body.equals(s.bytes)).toBe(true);
}

describe('live fan-out', () => {
  it('gives 50 WebSocket listeners and 5 HTTP listeners identical bytes of a slow upload', () =>
    fiftyListeners(t));

  it('does so too when each fan-out is cut into slices of 3 listeners (blocks queue into runs)', async () => {
    const sliced = await startTestRelay({ fanoutSliceSize: 3 });
    try {
      await fiftyListeners(sliced);
    } finally {
      await sliced.close();
    }
  });

  it('moves a stalled WebSocket listener to the live edge without slowing others or growing its queue', async () => {
    const m = await createMedia(t);
    const s = makeStream(400, 16 * 1024); // 6.4 MB: more than loopback socket buffers hold
    const put = streamingPut(uploadUrl(t, m), t.auth);
    put.push(s.bytes.subarray(0, s.offsets[2]));
    await until(async () => (await getIndex(t, m)).block_count === 2, 5000, 'headers');
    const stalled = collect(wsUrl(t, 'ws', m));
    const healthy = collect(wsUrl(t, 'ws', m));
    await Promise.all([stalled.opened, healthy.opened]);
    await until(async () => (await getIndex(t, m)).listeners === 2, 5000, 'two listeners');
    (stalled.ws as unknown as { _socket: { pause(): void } })._socket.pause();
    const movedBefore = await metric('mxcast_slow_listeners_total{action="moved"}');

    let maxQueued = 0;
    for (let i = 2; i < s.blocks.length; i++) {
      put.push(s.blocks[i] as Uint8Array);
      if (i % 2 === 0) await sleep(4);
      if (i % 20 === 0) {
        maxQueued = Math.max(maxQueued, await metric('mxcast_listener_queued_bytes'));
      }
    }
    put.end();
    expect((await put.response).status).toBe(200);
    await healthy.closed;
    expect(Buffer.concat(healthy.blocks).equals(Buffer.concat(s.blocks.slice(2)))).toBe(true);
    expect(await metric('mxcast_slow_listeners_total{action="moved"}')).toBeGreaterThan(
      movedBefore,
    );
    // Bounded: the stalled socket never held much more than the bound (+ one block, + status text).
    expect(maxQueued).toBeLessThan(BOUND + 2 * 17 * 1024);

    (stalled.ws as unknown as { _socket: { resume(): void } })._socket.resume();
    await stalled.closed;
    expect(stalled.blocks.length).toBeLessThan(s.blocks.length - 2);
    // What it got is whole blocks, in order, with a skip notice at the gap.
    const skipped = stalled.messages.find((x) => x.type === 'skipped');
    expect(skipped).toBeDefined();
    let last = -1;
    for (const b of stalled.blocks) {
      const seq = b.readUInt32BE(4);
      expect(seq).toBeGreaterThan(last);
      expect(b.equals(s.blocks[seq] as Uint8Array)).toBe(true);
      last = seq;
    }
  });

  it('disconnects a stalled HTTP listener and counts it as dropped', async () => {
    const m = await createMedia(t);
    const s = makeStream(400, 16 * 1024);
    const put = streamingPut(uploadUrl(t, m), t.auth);
    put.push(s.bytes.subarray(0, s.offsets[2]));
    await until(async () => (await getIndex(t, m)).block_count === 2, 5000, 'headers');
    const droppedBefore = await metric('mxcast_slow_listeners_total{action="dropped"}');
    let received = 0;
    let resume = () => {};
    const ended = new Promise<string>((resolve) => {
      get(downloadUrl(t, m), (res) => {
        res.pause();
        res.on('data', (d: Buffer) => (received += d.length));
        res.on('end', () => resolve('end'));
        res.on('error', () => resolve('error'));
        res.on('aborted', () => resolve('aborted'));
        resume = () => res.resume();
      });
    });
    const healthy = fetch(downloadUrl(t, m)).then(async (r) => Buffer.from(await r.arrayBuffer()));
    await until(async () => (await getIndex(t, m)).listeners === 2, 5000, 'two listeners');
    for (let i = 2; i < s.blocks.length; i++) {
      put.push(s.blocks[i] as Uint8Array);
      await sleep(3);
    }
    put.end();
    expect((await put.response).status).toBe(200);
    expect((await healthy).equals(s.bytes)).toBe(true);
    resume(); // stalled until the upload was over
    expect(await ended).not.toBe('end');
    expect(received).toBeLessThan(s.bytes.length);
    expect(await metric('mxcast_slow_listeners_total{action="dropped"}')).toBe(droppedBefore + 1);
  });
});

describe('periodic status', () => {
  const INTERVAL = 120;
  const ts = useTestRelay({ statusIntervalMs: INTERVAL });

  it('rides with the next block, telling its count, and goes alone when the media is quiet', async () => {
    const m = await createMedia(ts);
    const s = makeStream(40, 100);
    const put = streamingPut(uploadUrl(ts, m), ts.auth);
    put.push(s.bytes.subarray(0, s.offsets[1]));
    await until(async () => (await getIndex(ts, m)).block_count === 1, 5000, 'first block');
    // What a listener from 0 gets, in order: a block's seq, or a status's block_count.
    const seen: ({ block: number } | { status: number })[] = [];
    const ws = new WebSocket(wsUrl(ts, 'ws', m, '?from=0'));
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (isBinary) seen.push({ block: seen.filter((e) => 'block' in e).length });
      else {
        const msg = JSON.parse(data.toString()) as { type: string; block_count: number };
        if (msg.type === 'status') seen.push({ status: msg.block_count });
      }
    });
    await new Promise((res, rej) => ws.once('open', res).once('error', rej));
    for (let i = 1; i < s.blocks.length; i++) {
      put.push(s.blocks[i] as Uint8Array);
      await sleep(30);
    }
    await until(() => seen.filter((e) => 'block' in e).length === 40, 5000, '40 blocks');
    // Quiet now (the upload open, no block): the status due since the last block goes alone.
    const quietFrom = seen.length;
    await sleep(4 * INTERVAL);
    put.end();
    await put.response;
    ws.close();

    // Live, every periodic status came right after a block and counts it: none of its own
    // (the join's status is the one before any block).
    const live = seen.slice(0, quietFrom);
    const statuses = live.flatMap((e, i) => ('status' in e && i > 0 ? [i] : []));
    expect(statuses.length).toBeGreaterThanOrEqual(4); // 40 × 30 ms at one per 120 ms
    for (const i of statuses) {
      const before = live[i - 1];
      expect(before && 'block' in before).toBe(true);
      expect((live[i] as { status: number }).status).toBe((before as { block: number }).block + 1);
    }
    const quiet = seen.slice(quietFrom);
    expect(quiet.length).toBeGreaterThanOrEqual(1);
    for (const e of quiet) expect(e).toEqual({ status: 40 });
  });
});
