/**
 * Test helpers for the player's end-to-end tests: a real relay on 127.0.0.1 (restartable on the
 * same port and data dir), broadcasts made from the library parts (hard-CBR Opus → OggOpusPager
 * → BlockWriter, docs/audio.md) uploaded by a real streaming PUT, and a time-coded source
 * signal whose alignment can be measured to the sample.
 */
import { frameBlock, sealBlock } from '@mxcast/format/testing';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { OpusCbrEncoder, PRESETS, blockGeometry, type PresetName } from '@mxcast/audio';
import {
  BlockWriter,
  MAGIC,
  createBlockCipher,
  encryptedFileSecrets,
  generateEncryptedFile,
  type EncryptedFile,
} from '@mxcast/format';
import { OggOpusPager } from '@mxcast/ogg';
import { createToken, startRelay, type RunningRelay } from '@mxcast/relay';
import { Player, type DeclaredGeometry, type PlayerOptions } from '@mxcast/player';
import { NodeWebSocket } from '@mxcast/player/node';
import { buildListenLink, streamGeometryOf } from '@mxcast/client';

export interface TestRelay {
  url: string;
  token: string;
  dataDir: string;
  /** Stops the relay and starts it again on the same port and data dir. */
  restart(downMs?: number): Promise<void>;
  close(): Promise<void>;
}

export async function startTestRelay(): Promise<TestRelay> {
  const dataDir = mkdtempSync(join(tmpdir(), 'mxcast-player-'));
  const token = createToken(dataDir, '@alice:localhost');
  let relay: RunningRelay = await startRelay({ port: 0, host: '127.0.0.1', dataDir });
  const port = relay.port;
  return {
    url: relay.url,
    token,
    dataDir,
    async restart(downMs = 300) {
      await relay.close();
      await new Promise((r) => setTimeout(r, downMs));
      relay = await startRelay({ port, host: '127.0.0.1', dataDir });
    },
    async close() {
      await relay.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * A test relay for the file's tests: started before them and closed after them (call at the top
 * level of a test file). The object forwards to the running relay, so tests read `relay.url` and
 * call `relay.restart()` as with startTestRelay.
 */
export function useTestRelay(): TestRelay {
  let current: TestRelay | undefined;
  beforeAll(async () => {
    current = await startTestRelay();
  });
  afterAll(() => current?.close());
  // Every read goes through to the running relay, so the object can be taken at collection time.
  return new Proxy({} as TestRelay, {
    get(_target, key) {
      if (!current) throw new Error('the test relay is used before beforeAll started it');
      return Reflect.get(current, key) as unknown;
    },
  });
}

/**
 * The time-coded input: a tone hopping every 10 ms between 37 frequencies in a fixed
 * pseudo-random order (phase continuous), so any 50 ms of it matches the source at one offset
 * only and cross-correlation tells the position to the sample.
 */
export function timecodedSignal(samples: number, channels = 1): Int16Array {
  const out = new Int16Array(samples * channels);
  let phase = 0;
  for (let n = 0; n < samples; n++) {
    const hop = Math.floor(n / 480);
    const f = 250 + ((hop * 7919) % 37) * 60;
    phase += (2 * Math.PI * f) / 48_000;
    const v = Math.round(Math.sin(phase) * 12_000);
    for (let c = 0; c < channels; c++) out[n * channels + c] = v;
  }
  return out;
}

/** Lag (in samples) at which `decoded` best matches `source` around `at`, and the correlation there. */
export function alignment(
  decoded: Int16Array,
  source: Int16Array,
  at: number,
  window = 2_400,
  maxLag = 2_880,
): { lag: number; correlation: number } {
  let best = { lag: Number.NaN, correlation: -Infinity };
  const skip = Math.min(480, Math.max(0, decoded.length - window));
  for (let lag = -maxLag; lag <= maxLag; lag++) {
    let dot = 0;
    let ea = 0;
    let eb = 0;
    for (let i = 0; i < window; i++) {
      const a = decoded[skip + i] ?? 0;
      const b = source[at + skip + lag + i] ?? 0;
      dot += a * b;
      ea += a * a;
      eb += b * b;
    }
    const r = dot / Math.sqrt(ea * eb || 1);
    if (r > best.correlation) best = { lag, correlation: r };
  }
  return best;
}

export interface EncodedBroadcast {
  preset: PresetName;
  file: EncryptedFile;
  geometry: DeclaredGeometry & { bitrate: number; channels: number };
  /** The source PCM (mono, 48 kHz). */
  pcm: Int16Array;
  preSkip: number;
  /** Magic then every block, in order; blocks[i] is block i's bytes. */
  magic: Uint8Array;
  blocks: Uint8Array[];
  blockSamples: number;
}

/** Encodes `seconds` of the time-coded signal as a finished (EOS) or unfinished broadcast. */
export async function encodeBroadcast(
  preset: PresetName,
  seconds: number,
  options: {
    eos?: boolean;
    file?: EncryptedFile;
    legacyLittleEndian?: boolean;
    /** Pages of 1 to 5 frames in a fixed irregular pattern: block sizes and durations vary. */
    variableBlocks?: boolean;
  } = {},
): Promise<EncodedBroadcast> {
  const p = PRESETS[preset];
  const g = blockGeometry(p);
  // Low complexity: the tests need exact timing, not the best quality, and libopus (wasm) at 10 is slow.
  const encoder = OpusCbrEncoder.forPreset(p, {
    channels: 1,
    complexity: 1,
  });
  const framesIn = (b: number) => (options.variableBlocks ? 1 + ((b * 7) % 5) : p.framesPerBlock);
  const totalFrames = Math.ceil((seconds * 1000) / p.frameMs);
  let blockCount = 0;
  for (let f = 0; f < totalFrames; blockCount++) f += framesIn(blockCount);
  const frameStart: number[] = [0];
  for (let b = 0; b < blockCount; b++) frameStart.push((frameStart[b] as number) + framesIn(b));
  const pcm = timecodedSignal((frameStart[blockCount] as number) * g.frameSamples);
  const file = options.file ?? generateEncryptedFile('mxc://localhost/unset');
  const writer = new BlockWriter(await createBlockCipher(file));
  const pager = new OggOpusPager({
    serial: 0x5eed,
    channels: 1,
    preSkip: encoder.preSkip,
    title: 'player test',
  });
  const pages: Uint8Array[] = [pager.headPage(), pager.tagsPage()];
  for (let b = 0; b < blockCount; b++) {
    const packets: Uint8Array[] = [];
    for (let f = 0; f < framesIn(b); f++) {
      const at = ((frameStart[b] as number) + f) * g.frameSamples;
      packets.push(encoder.encode(pcm.subarray(at, at + g.frameSamples)));
    }
    pages.push(pager.audioPage(packets, { eos: (options.eos ?? true) && b === blockCount - 1 }));
  }
  const blocks = options.legacyLittleEndian
    ? pages.map((page, seq) => legacyBlock(file, seq, page))
    : await Promise.all(pages.map((page) => writer.write(page)));
  return {
    preset,
    file,
    geometry: {
      frameMs: p.frameMs,
      framesPerBlock: p.framesPerBlock,
      blockSize: g.blockBytes,
      bitrate: p.bitrate,
      channels: 1,
    },
    pcm,
    preSkip: encoder.preSkip,
    magic: MAGIC.slice(),
    blocks,
    blockSamples: g.blockSamples,
  };
}

/**
 * A block as the experimental writer (matrix-encrypt-attachment, branch matthew/streaming)
 * frames it, built here with node:crypto straight from docs/format.md: seq, len, the IV's seq
 * prefix and the AAD little-endian, crc = 0.
 */
function legacyBlock(file: EncryptedFile, seq: number, plaintext: Uint8Array): Uint8Array {
  const { key, iv } = encryptedFileSecrets(file);
  return frameBlock(seq, sealBlock(key, iv, seq, plaintext, 'le'), 'le');
}

export function fileBytes(b: EncodedBroadcast, blockCount = b.blocks.length): Uint8Array {
  return Buffer.concat([b.magic, ...b.blocks.slice(0, blockCount)]);
}

/** A streaming PUT of a broadcast (live until `end`), resumable after a relay restart. */
export class Upload {
  /** Blocks sent so far. */
  sent = 0;
  #controller!: ReadableStreamDefaultController<Uint8Array>;
  #response!: Promise<Response>;

  constructor(
    readonly relay: TestRelay,
    readonly broadcast: EncodedBroadcast,
    readonly mxc: string,
    readonly file: EncryptedFile,
  ) {
    this.#open(0);
    this.#controller.enqueue(broadcast.magic);
  }

  get #parts(): [string, string] {
    return this.mxc.slice('mxc://'.length).split('/') as [string, string];
  }

  #open(offset: number): void {
    const [server, id] = this.#parts;
    const body = new ReadableStream<Uint8Array>({ start: (c) => void (this.#controller = c) });
    const headers: Record<string, string> = {
      authorization: `Bearer ${this.relay.token}`,
      'content-type': 'application/octet-stream',
    };
    if (offset > 0) headers['content-range'] = `bytes ${offset}-*/*`;
    this.#response = fetch(`${this.relay.url}/_matrix/media/v3/upload/${server}/${id}`, {
      method: 'PUT',
      headers,
      body,
      duplex: 'half',
    } as RequestInit);
    this.#response.catch(() => {});
  }

  /** Sends blocks up to (not including) `to`. */
  send(to: number): void {
    for (; this.sent < Math.min(to, this.broadcast.blocks.length); this.sent++) {
      try {
        this.#controller.enqueue(this.broadcast.blocks[this.sent] as Uint8Array);
      } catch {
        return; // the PUT was cut (relay restart): resume() sends the rest
      }
    }
  }

  /** Ends the PUT (completes the media) and waits for the relay's answer. */
  async end(): Promise<void> {
    this.#controller.close();
    const r = await this.#response;
    if (r.status !== 200) throw new Error(`upload: ${r.status} ${await r.text()}`);
  }

  /** Sends the rest in real time (one block per block duration), then ends. */
  async realtime(blockMs: number, onBlock?: (seq: number) => void): Promise<void> {
    const t0 = performance.now();
    const first = this.sent;
    while (this.sent < this.broadcast.blocks.length) {
      const due = t0 + (this.sent - first + 1) * blockMs;
      await wait(Math.max(0, due - performance.now()));
      this.send(this.sent + 1);
      onBlock?.(this.sent - 1);
    }
    await this.end();
  }

  /** After a relay restart: asks the relay's offset (tus HEAD) and continues the PUT from it. */
  async resume(): Promise<void> {
    const [server, id] = this.#parts;
    const head = await fetch(
      `${this.relay.url}/_matrix/media/unstable/org.matrix.msc4016/tus/${server}/${id}`,
      {
        method: 'HEAD',
        headers: { authorization: `Bearer ${this.relay.token}`, 'tus-resumable': '1.0.0' },
      },
    );
    const offset = Number(head.headers.get('upload-offset'));
    let at = this.broadcast.magic.length;
    let seq = 0;
    while (at < offset) at += (this.broadcast.blocks[seq++] as Uint8Array).length;
    if (at !== offset) throw new Error(`relay offset ${offset} is not a block boundary`);
    this.#open(offset);
    const target = this.sent;
    this.sent = seq;
    this.send(target);
  }
}

/** Creates the media (declaring its geometry) and opens a streaming PUT. */
export async function startUpload(
  relay: TestRelay,
  b: EncodedBroadcast,
  options: { declareGeometry?: boolean } = {},
): Promise<Upload> {
  const declared = JSON.stringify({
    'org.matrix.msc4016.geometry': streamGeometryOf(
      { ...b.geometry, blockBytes: b.geometry.blockSize },
      1,
    ),
  });
  const res = await fetch(`${relay.url}/_matrix/media/v1/create`, {
    method: 'POST',
    headers: { authorization: `Bearer ${relay.token}`, 'content-type': 'application/json' },
    ...((options.declareGeometry ?? true) ? { body: declared } : {}),
  });
  if (res.status !== 200) throw new Error(`create: ${res.status} ${await res.text()}`);
  const mxc = ((await res.json()) as { content_uri: string }).content_uri;
  return new Upload(relay, b, mxc, { ...b.file, url: mxc });
}

/**
 * A player of an upload on its relay, with its key; WebSocket transport through the `ws` package.
 * `options` gives the sink and whatever the test varies (transport, geometry, pacing, …).
 */
export function playerOf(
  upload: Upload,
  options: Omit<PlayerOptions, 'relayUrl' | 'mxc' | 'file'>,
): Player {
  return new Player({
    relayUrl: upload.relay.url,
    mxc: upload.mxc,
    file: upload.file,
    WebSocket: NodeWebSocket,
    ...options,
  });
}

/** A broadcast encoded from the library parts and uploaded whole: encodeBroadcast + uploadFinished. */
export async function finishedBroadcast(
  relay: TestRelay,
  preset: PresetName,
  seconds: number,
): Promise<{ b: EncodedBroadcast; up: Upload }> {
  const b = await encodeBroadcast(preset, seconds);
  return { b, up: await uploadFinished(relay, b) };
}

/** A finished broadcast on the relay: every block sent and the PUT ended. */
export async function uploadFinished(
  relay: TestRelay,
  b: EncodedBroadcast,
  options: { declareGeometry?: boolean } = {},
): Promise<Upload> {
  const upload = await startUpload(relay, b, options);
  upload.send(b.blocks.length);
  await upload.end();
  return upload;
}

export function wait(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** The listen link (docs/listen-link.md) of an upload, with the broadcast's geometry in `g=`. */
export function listenLinkOf(upload: Upload): string {
  const g = upload.broadcast.geometry;
  return buildListenLink(upload.relay.url, {
    mxc: upload.mxc,
    file: upload.file,
    geometry: streamGeometryOf({ ...g, blockBytes: g.blockSize }, 1),
  });
}
