/**
 * The hostile-relay contract (hostile-relay-cases.ts) run over every way of listening: the
 * player over HTTP (tampering-proxy.ts), the player over WebSocket (tampering-ws-proxy.ts) and
 * the web app's HLS view — the real listener page with hls.js in Chromium, loaded from the
 * tampering HTTP proxy, which it takes for the relay. One relay, one broadcast, one browser.
 * Every case must end as the table says, and no audio from the first bad block (or after it)
 * may reach the output: the sink for the player, the MSE buffer for the HLS view. It replaces
 * the HTTP-only hostile-relay file and the table's cases of the WebSocket one, whose
 * transport-only cases (several blocks in one message, a cut without `end`, `skipped`) stay in
 * player-hostile-relay-ws.test.ts.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser, type BrowserContext } from 'playwright-core';
import { buildListenLink, streamGeometryOf } from '@mxcast/client';
import { generateEncryptedFile, parseBlockHeader, type EncryptedFile } from '@mxcast/format';
import {
  MemorySink,
  Player,
  type PlayerError,
  type PlayerOptions,
  type PlayerOutcome,
} from '@mxcast/player';
import { NodeWebSocket } from '@mxcast/player/node';
import { createToken, startRelay, type RunningRelay } from '@mxcast/relay';
import {
  CHROMIUM,
  WEB_DIST,
  ensureWebBuild,
  playerView,
  waitForPlayer,
} from '../web/web-harness.ts';
import {
  encodeBroadcast,
  uploadFinished,
  type EncodedBroadcast,
  type TestRelay,
  type Upload,
} from './broadcast-fixture.ts';
import {
  HOSTILE_CASES,
  PER_SEGMENT,
  PRESET,
  SECONDS,
  expectedFor,
  type Expected,
  type HostileCase,
  type Transport,
  wholeBlocks,
} from './hostile-relay-cases.ts';
import { startTamperingProxy, type Blocks, type TamperedLayout } from './tampering-proxy.ts';
import { startTamperingWsProxy } from './tampering-ws-proxy.ts';

let work: string;
let relay: RunningRelay;
let b: EncodedBroadcast;
let up: Upload;
let other: EncodedBroadcast;
let browser: Browser | undefined;
let context: BrowserContext;

beforeAll(async () => {
  ensureWebBuild();
  work = mkdtempSync(join(tmpdir(), 'mxcast-contract-'));
  const dataDir = join(work, 'relay');
  mkdirSync(dataDir);
  const token = createToken(dataDir, '@alice:localhost');
  relay = await startRelay({ dataDir, host: '127.0.0.1', port: 0, webRoot: WEB_DIST });
  const testRelay: TestRelay = {
    url: relay.url,
    token,
    dataDir,
    restart: () => Promise.reject(new Error('not used here')),
    close: () => relay.close(),
  };
  b = await encodeBroadcast(PRESET, SECONDS);
  up = await uploadFinished(testRelay, b); // declares the geometry: the HLS view needs it
  other = await encodeBroadcast(PRESET, SECONDS);
  expect(b.blocks.length).toBe(27); // blocks 2–26: segments 2–9, 10–17, 18–25 and the tail 26
});

afterAll(async () => {
  await browser?.close().catch(() => undefined);
  await relay?.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

/** What a listener ended in and the furthest audio it output (seconds into the broadcast). */
interface Heard {
  state: string;
  code?: string;
  fatal?: boolean;
  /** End of the audio that reached the output (sink samples, or the MSE buffer), seconds. */
  heardUntil: number;
  /** Fatal error events (the player's `error` event; the page shows one). */
  fatalCodes: string[];
  /** The player's sink got exactly this many samples, in this many chunks (HTTP/WS). */
  samples?: number;
  chunks?: number;
  /** The listener page's state pill (HLS). */
  pill?: string;
}

/** The index a relay that cut the stream would give: its length, its whole blocks, complete. */
const forgedIndex =
  (c: HostileCase) =>
  (index: Record<string, unknown>, length: number): Record<string, unknown> => ({
    ...index,
    byte_length: length,
    block_count: wholeBlocks(c.tamper(b.blocks, other.blocks)),
  });

const fileFor = (c: HostileCase): EncryptedFile =>
  c.wrongKey ? generateEncryptedFile(up.mxc) : up.file;
const tamperOf = (c: HostileCase) => (blocks: Blocks) => c.tamper(blocks, other.blocks);
/** First output sample of block `seq` in seconds (block 2 starts at −pre-skip). */
const startOf = (seq: number) => ((seq - 2) * b.blockSamples - b.preSkip) / 48_000;

async function playerOutcome(player: Player, sink: MemorySink): Promise<Heard> {
  const errors: PlayerError[] = [];
  player.on('error', (e) => errors.push(e));
  const outcome: PlayerOutcome = await player.play({ time: 0 });
  const end = Math.max(0, ...sink.chunks.map((c) => c.startSample + c.pcm.length));
  return {
    state: outcome.state,
    ...(outcome.error ? { code: outcome.error.code, fatal: outcome.error.fatal } : {}),
    heardUntil: end / 48_000,
    fatalCodes: errors.filter((e) => e.fatal).map((e) => e.code),
    samples: sink.samples().length,
    chunks: sink.chunks.length,
  };
}

/** Plays the broadcast through the proxy (the given transport) and closes the proxy after. */
async function playThrough(
  proxy: { url: string; close(): Promise<void> },
  c: HostileCase,
  transport: Partial<PlayerOptions>,
): Promise<Heard> {
  try {
    const sink = new MemorySink();
    const player = new Player({
      relayUrl: proxy.url,
      mxc: up.mxc,
      file: fileFor(c),
      sink,
      reconnectAttempts: 2,
      reconnectDelayMs: 10,
      ...transport,
    });
    return await playerOutcome(player, sink);
  } finally {
    await proxy.close();
  }
}

async function overHttp(c: HostileCase): Promise<Heard> {
  const proxy = await startTamperingProxy(
    relay.url,
    tamperOf(c),
    c.forgeIndex ? forgedIndex(c) : undefined,
  );
  return playThrough(proxy, c, {});
}

/**
 * The WebSocket proxy sees the relay's messages one block each, in seq order: it sends the
 * tampered stream's block at the same position instead (and the rest of a longer one after
 * the last), so the player receives exactly the blocks the HTTP driver serves as a file.
 */
async function overWs(c: HostileCase): Promise<Heard> {
  const served = c.tamper(b.blocks, other.blocks);
  const last = b.blocks.length - 1;
  const proxy = await startTamperingWsProxy(
    relay.url,
    () => (msg) => {
      if (msg.kind === 'text') return [msg.text];
      return msg.seq === last ? served.slice(last) : served[msg.seq] ? [served[msg.seq]!] : [];
    },
    c.forgeIndex
      ? (index) => ({
          ...index,
          block_count: wholeBlocks(served),
          byte_length: served.reduce((n, x) => n + x.length, b.magic.length),
        })
      : undefined,
  );
  return playThrough(proxy, c, { transport: 'ws', WebSocket: NodeWebSocket });
}

/**
 * Records every <audio> element a page creates (the HLS engine keeps its own, outside the
 * document), so the test can read what reached its MSE buffer.
 */
const AUDIO_TAP = `(() => {
  const create = Document.prototype.createElement;
  window.__mxAudio = [];
  Document.prototype.createElement = function (name, ...rest) {
    const el = create.call(this, name, ...rest);
    if (String(name).toLowerCase() === 'audio') window.__mxAudio.push(el);
    return el;
  };
})();`;

async function hlsContext(): Promise<BrowserContext> {
  if (browser) return context;
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--no-sandbox',
      '--headless',
      '--disable-gpu',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--autoplay-policy=no-user-gesture-required',
      '--disable-background-timer-throttling',
      '--disable-renderer-backgrounding',
      '--disable-backgrounding-occluded-windows',
    ],
  });
  context = await browser.newContext();
  await context.addInitScript(AUDIO_TAP);
  return context;
}

/** The playlist the relay would list for the tampered download if it were this media, complete. */
function forgedPlaylist(playlist: string, layout: TamperedLayout): string {
  const map = /#EXT-X-MAP:URI="([^"]+)"/.exec(playlist);
  if (!map) throw new Error(`no EXT-X-MAP in the relay's playlist:\n${playlist}`);
  const url = map[1] as string;
  const blockS = (b.geometry.frameMs * b.geometry.framesPerBlock) / 1000;
  const count = layout.offsets.length;
  const lines = [
    '#EXTM3U',
    '#EXT-X-VERSION:7',
    `#EXT-X-TARGETDURATION:${Math.ceil(PER_SEGMENT * blockS)}`,
    '#EXT-X-PLAYLIST-TYPE:EVENT',
    '#EXT-X-MEDIA-SEQUENCE:0',
    '#EXT-X-INDEPENDENT-SEGMENTS',
    `#EXT-X-MAP:URI="${url}",BYTERANGE="${layout.offsets[2]}@0"`,
  ];
  for (let first = 2; first < count; first += PER_SEGMENT) {
    const last = Math.min(first + PER_SEGMENT, count);
    const start = layout.offsets[first] as number;
    const end = layout.offsets[last] ?? layout.length;
    lines.push(`#EXTINF:${((last - first) * blockS).toFixed(3)},`);
    lines.push(`#EXT-X-BYTERANGE:${end - start}@${start}`, url);
  }
  lines.push('#EXT-X-ENDLIST');
  return lines.join('\n') + '\n';
}

async function overHls(c: HostileCase): Promise<Heard> {
  const proxy = await startTamperingProxy(
    relay.url,
    tamperOf(c),
    c.forgeIndex ? forgedIndex(c) : undefined,
    c.forgeIndex ? forgedPlaylist : undefined,
  );
  const page = await (await hlsContext()).newPage();
  // MXCAST_HLS_DEBUG=1 shows what the page logs and requests (the remux errors hls.js retries).
  if (process.env.MXCAST_HLS_DEBUG) {
    page.on('console', (m) => console.log('[page]', m.text()));
    page.on('request', (r) => console.log('[request]', r.url(), r.headers().range ?? ''));
  }
  try {
    const g = b.geometry;
    const link = buildListenLink(proxy.url, {
      mxc: up.mxc,
      file: fileFor(c),
      geometry: streamGeometryOf({ ...g, blockBytes: g.blockSize }, 1),
    });
    await page.goto(link.replace('/listen#', '/listen?engine=hls#'));
    const done = ['finished', 'ended-without-finishing', 'error'];
    // Playing to the end takes the broadcast's length in real time, plus a loaded machine.
    const view = await waitForPlayer(page, (v) => done.includes(v.state), 'an end', 40_000);
    expect(await page.getAttribute('.player', 'data-engine')).toBe('hls');
    // Let anything still in flight land before reading the buffer.
    await page.waitForTimeout(300);
    const final = await playerView(page);
    expect(final.state).toBe(view.state);
    const heardUntil = await page.evaluate(() => {
      const audios = (window as unknown as { __mxAudio?: HTMLAudioElement[] }).__mxAudio ?? [];
      let end = 0;
      for (const a of audios) {
        for (let i = 0; i < a.buffered.length; i++) end = Math.max(end, a.buffered.end(i));
      }
      return end;
    });
    const pill = (await page.textContent('#state')) ?? '';
    return {
      pill,
      state: final.state,
      ...(final.error ? { code: final.error, fatal: true } : {}),
      heardUntil,
      fatalCodes: final.error ? [final.error] : [],
    };
  } finally {
    await page.close();
    await proxy.close();
  }
}

const DRIVERS: Record<Transport, (c: HostileCase) => Promise<Heard>> = {
  http: overHttp,
  ws: overWs,
  hls: overHls,
};

function expectOutcome(h: Heard, want: Expected): void {
  expect({ state: h.state, code: h.code }).toEqual({
    state: want.state,
    code: want.state === 'error' ? want.code : undefined,
  });
  if (want.state === 'error') {
    expect(h.fatal).toBe(true);
    expect(h.fatalCodes).toEqual([want.code]);
    // The listener page names it in the player's vocabulary (listen-state-view.ts).
    if (h.pill !== undefined)
      expect(h.pill).toBe(want.code === 'TAMPERED' ? 'Tampered' : 'Wrong key');
  }
}

it('the broadcast the table tampers with carries seqs 0, 1, 2 … in order (sanity of the fixture)', () => {
  expect(b.blocks.map((x) => parseBlockHeader(x, 0, 'be').seq)).toEqual(b.blocks.map((_, i) => i));
});

for (const transport of ['http', 'ws', 'hls'] as const) {
  describe(`a hostile relay, listened to over ${transport}`, () => {
    for (const c of HOSTILE_CASES) {
      const want = expectedFor(c, transport);
      const label = want.state === 'error' ? want.code : want.state;
      it(`${c.name}: ${label}`, async () => {
        const h = await DRIVERS[transport](c);
        expectOutcome(h, want);
        if (c.wrongKey) {
          expect(h.heardUntil).toBe(0); // nothing at all
          if (h.chunks !== undefined) expect(h.chunks).toBe(0);
        } else if (c.firstBad !== undefined) {
          // Nothing from the first bad block on; the good blocks before it were heard. The
          // HLS view refuses a whole segment, so its buffer ends at or before the bad block's
          // start (MSE times count from the first sample, before the pre-skip: ≤ 6.5 ms later).
          const slack = transport === 'hls' ? 0.01 : 0;
          expect(h.heardUntil).toBeLessThanOrEqual(startOf(c.firstBad) + slack);
          expect(h.heardUntil).toBeGreaterThan(0);
        } else if (transport === 'hls') {
          expect(h.heardUntil).toBeGreaterThan(startOf(b.blocks.length) - 0.05);
        } else {
          expect(h.samples).toBe((b.blocks.length - 2) * b.blockSamples - b.preSkip);
        }
      });
    }
  });
}
