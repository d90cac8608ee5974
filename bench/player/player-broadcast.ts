/**
 * Broadcasts for the player benchmark, made from the library parts (as capture does): a real
 * relay in a temp dir, a real-time "capture" that encodes each 20 ms frame when it is complete
 * and uploads a block as soon as it is full, and long broadcasts generated faster than real
 * time (10 s of encoded packets re-paged with running granules and encrypted per seq).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OpusCbrEncoder, PRESETS, blockGeometry, type PresetName } from '@mxcast/audio';
import {
  BlockWriter,
  createBlockCipher,
  generateEncryptedFile,
  type EncryptedFile,
} from '@mxcast/format';
import { GEOMETRY_KEY, streamGeometryOf } from '@mxcast/client';
import { OggOpusPager } from '@mxcast/ogg';
import { createToken, startRelay, type RunningRelay } from '@mxcast/relay';

export interface BenchRelay {
  url: string;
  token: string;
  close(): Promise<void>;
}

export async function startBenchRelay(): Promise<BenchRelay> {
  const dataDir = mkdtempSync(join(tmpdir(), 'mxcast-player-bench-'));
  const token = createToken(dataDir, '@bench:localhost');
  const relay: RunningRelay = await startRelay({ port: 0, host: '127.0.0.1', dataDir });
  return {
    url: relay.url,
    token,
    async close() {
      await relay.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** A streaming PUT to a new media; `send` appends bytes, `end` completes it. */
export async function openUpload(relay: BenchRelay, preset: PresetName) {
  const p = PRESETS[preset];
  const g = blockGeometry(p);
  const auth = { authorization: `Bearer ${relay.token}` };
  const res = await fetch(`${relay.url}/_matrix/media/v1/create`, {
    method: 'POST',
    headers: { ...auth, 'content-type': 'application/json' },
    body: JSON.stringify({
      [GEOMETRY_KEY]: streamGeometryOf(g, 1),
    }),
  });
  const mxc = ((await res.json()) as { content_uri: string }).content_uri;
  const [server, id] = mxc.slice('mxc://'.length).split('/') as [string, string];
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  const body = new ReadableStream<Uint8Array>({ start: (c) => void (controller = c) });
  const response = fetch(`${relay.url}/_matrix/media/v3/upload/${server}/${id}`, {
    method: 'PUT',
    headers: { ...auth, 'content-type': 'application/octet-stream' },
    body,
    duplex: 'half',
  } as RequestInit);
  // A PUT the relay ends early is reported by end() and `problem`, not as an unhandled rejection.
  let problem: string | null = null;
  response.then(
    async (r) => {
      if (!r.ok) problem = `HTTP ${r.status} ${await r.text()}`;
    },
    (e: unknown) => void (problem = String(e)),
  );
  const file: EncryptedFile = generateEncryptedFile(mxc);
  return {
    mxc,
    file,
    geometry: { frameMs: p.frameMs, framesPerBlock: p.framesPerBlock, blockSize: g.blockBytes },
    send: (bytes: Uint8Array) => controller.enqueue(bytes),
    /** Why the relay ended the PUT early, if it did. */
    problem: () => problem,
    async end() {
      controller.close();
      const res = await response;
      if (!res.ok) throw new Error(`upload of ${mxc}: HTTP ${res.status} ${await res.text()}`);
    },
  };
}

function tone(samples: number, offset: number): Int16Array {
  const out = new Int16Array(samples);
  for (let i = 0; i < samples; i++)
    out[i] = Math.round(Math.sin(((offset + i) * 2 * Math.PI * 440) / 48_000) * 8000);
  return out;
}

/**
 * Real-time capture: frame f is complete at t0 + (f + 1) × frame; it is encoded then, and the
 * block is encrypted and sent when its last frame is in. `frameDone[f]` is that moment.
 */
export async function captureRealtime(
  upload: Awaited<ReturnType<typeof openUpload>>,
  preset: PresetName,
  seconds: number,
  onStarted: () => void,
): Promise<{ frameDone: number[]; preSkip: number }> {
  const p = PRESETS[preset];
  const g = blockGeometry(p);
  const encoder = OpusCbrEncoder.forPreset(p, {
    channels: 1,
  });
  const writer = new BlockWriter(await createBlockCipher(upload.file));
  const pager = new OggOpusPager({ serial: 1, channels: 1, preSkip: encoder.preSkip });
  upload.send(writer.magic());
  upload.send(writer.writeSync(pager.headPage()));
  upload.send(writer.writeSync(pager.tagsPage()));
  const frames = Math.floor((seconds * 1000) / p.frameMs / p.framesPerBlock) * p.framesPerBlock;
  const frameDone: number[] = [];
  let packets: Uint8Array[] = [];
  const t0 = performance.now() + 200;
  onStarted();
  for (let f = 0; f < frames; f++) {
    const due = t0 + (f + 1) * p.frameMs;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    frameDone.push(due);
    packets.push(encoder.encode(tone(g.frameSamples, f * g.frameSamples)));
    if (packets.length === p.framesPerBlock) {
      upload.send(writer.writeSync(pager.audioPage(packets, { eos: f === frames - 1 })));
      packets = [];
    }
  }
  await upload.end();
  return { frameDone, preSkip: encoder.preSkip };
}

/** A long broadcast, made faster than real time; `finish` false leaves the PUT open (live). */
export async function generateLong(
  relay: BenchRelay,
  preset: PresetName,
  seconds: number,
): Promise<{
  upload: Awaited<ReturnType<typeof openUpload>>;
  blocks: number;
  finish(): Promise<void>;
}> {
  const p = PRESETS[preset];
  const g = blockGeometry(p);
  const upload = await openUpload(relay, preset);
  const encoder = OpusCbrEncoder.forPreset(p, {
    channels: 1,
    complexity: 0,
  });
  const loop: Uint8Array[] = [];
  for (let f = 0; f < 500; f++) loop.push(encoder.encode(tone(g.frameSamples, f * g.frameSamples)));
  const writer = new BlockWriter(await createBlockCipher(upload.file));
  const pager = new OggOpusPager({ serial: 1, channels: 1, preSkip: encoder.preSkip });
  const parts: Uint8Array[] = [
    writer.magic(),
    writer.writeSync(pager.headPage()),
    writer.writeSync(pager.tagsPage()),
  ];
  const blocks = Math.floor((seconds * 1000) / g.blockMs);
  for (let b = 0; b < blocks; b++) {
    const packets = Array.from(
      { length: p.framesPerBlock },
      (_, i) => loop[(b * p.framesPerBlock + i) % loop.length] as Uint8Array,
    );
    parts.push(writer.writeSync(pager.audioPage(packets)));
    if (parts.length >= 256) upload.send(Buffer.concat(parts.splice(0)));
  }
  upload.send(Buffer.concat(parts));
  return {
    upload,
    blocks,
    async finish() {
      upload.send(writer.writeSync(pager.audioPage([loop[0] as Uint8Array], { eos: true })));
      await upload.end();
    },
  };
}
