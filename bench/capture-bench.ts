/**
 * `pnpm bench capture`: the broadcaster's costs (apps/capture).
 * - encode + encrypt throughput (BlockPipeline: CBR Opus → Ogg page → AES-256-GCM block) as a
 *   multiple of real time on one core, per preset (CPU time, so other work on the machine does
 *   not count against us);
 * - overhead: bytes on the wire ÷ Opus payload bytes, per preset (steady state and for a
 *   60-second broadcast with its magic, header blocks and EOS block);
 * - capture-to-relay latency: from a block handed to the upload (its last frame encoded and
 *   encrypted) to the relay acknowledging it (fanned out on its listen socket), p50/p99, real time,
 *   over loopback to a relay in its own process.
 */
import { blockGeometry, createSignal, PRESETS } from '@mxcast/audio';
import { BlockPipeline, CaptureSession, createOpusEncoder, generatedSource } from '@mxcast/capture';
import { createBlockCipher, generateEncryptedFile } from '@mxcast/format';
import { startRelayProcess } from '../tests/capture/capture-harness.ts';
import {
  cpuMs,
  percentile,
  round,
  table,
  type BenchOptions,
  type BenchResult,
} from './bench-kit.ts';

/** A capture pipeline for the preset (stereo for music, mono otherwise) with a fresh key. */
async function benchPipeline(presetName: string) {
  const preset = PRESETS[presetName as keyof typeof PRESETS];
  const channels = preset.name === 'music' ? 2 : 1;
  const pipeline = new BlockPipeline({
    preset,
    channels,
    cipher: await createBlockCipher(generateEncryptedFile()),
    encoder: createOpusEncoder(preset, channels),
    serial: 1,
    title: 'bench',
  });
  return { preset, channels, pipeline };
}

async function throughput(presetName: string, cpuBudgetMs: number) {
  const { preset, channels, pipeline } = await benchPipeline(presetName);
  await pipeline.start();
  const src = createSignal('voice', { channels });
  const frameSamples = (48000 * preset.frameMs) / 1000;
  const chunks = Array.from({ length: 500 }, () => src.read(frameSamples));
  // Warm up (JIT, WebAssembly tiers) before measuring.
  for (let i = 0; i < 100; i++) await pipeline.push(chunks[i % chunks.length] as Int16Array);
  const startSamples = pipeline.inputSamples;
  const startBytes = pipeline.blockBytes;
  const start = cpuMs();
  let i = 0;
  while (cpuMs() - start < cpuBudgetMs) {
    for (let k = 0; k < 25; k++) await pipeline.push(chunks[i++ % chunks.length] as Int16Array);
  }
  const cpu = (cpuMs() - start) / 1000;
  const audio = (pipeline.inputSamples - startSamples) / 48000;
  return { multiple: audio / cpu, audio, cpu, bytes: pipeline.blockBytes - startBytes };
}

async function overheadOf(presetName: string, seconds: number) {
  const { channels, pipeline } = await benchPipeline(presetName);
  const head = await pipeline.start();
  const src = createSignal('voice', { channels });
  for (let s = 0; s < seconds * 50; s++) await pipeline.push(src.read(960));
  await pipeline.finish();
  return (pipeline.blockBytes + head.magic.length) / pipeline.opusBytes;
}

async function latency(url: string, token: string, presetName: string, seconds: number) {
  const signal = createSignal('voice');
  const result = await new CaptureSession({
    relay: url,
    token,
    preset: presetName,
    source: generatedSource('voice', 1, (n) => signal.read(n)),
    createEncoder: createOpusEncoder,
    title: 'bench',
    duration: seconds,
    realtime: true,
  }).run();
  // Skip the first second: connection set-up and warm-up.
  const blockMs = blockGeometry(PRESETS[presetName as keyof typeof PRESETS]).blockMs;
  const lags = result.ackLagsMs.slice(Math.ceil(1000 / blockMs));
  return { p50: percentile(lags, 50), p99: percentile(lags, 99), n: lags.length };
}

export async function run(options: BenchOptions): Promise<BenchResult> {
  const budget = options.quick ? 1000 : 4000;
  const latencySeconds = options.quick ? 3 : 20;
  const names = Object.keys(PRESETS);

  const throughputRows: (string | number)[][] = [];
  const overheadRows: (string | number)[][] = [];
  for (const name of names) {
    const preset = PRESETS[name as keyof typeof PRESETS];
    const g = blockGeometry(preset);
    const t = await throughput(name, budget);
    throughputRows.push([
      name,
      preset.name === 'music' ? 2 : 1,
      round(t.multiple, 0),
      round(t.audio, 1),
      round(t.cpu, 2),
    ]);
    const steady = g.blockBytes / (g.packetBytes * g.framesPerBlock);
    overheadRows.push([
      name,
      g.blockBytes,
      g.packetBytes * g.framesPerBlock,
      round(steady, 4),
      round(await overheadOf(name, 60), 4),
    ]);
  }

  // The relay in its own process, as in production (the same one the capture e2e tests use).
  const relay = await startRelayProcess();
  const latencyRows: (string | number)[][] = [];
  try {
    for (const name of ['low-latency', 'voice', 'music']) {
      const l = await latency(relay.url, relay.token, name, latencySeconds);
      latencyRows.push([name, l.n, round(l.p50, 2), round(l.p99, 2)]);
    }
  } finally {
    await relay.kill('SIGTERM');
  }

  return {
    name: 'capture',
    title: 'Capture: encode + encrypt throughput, overhead, capture-to-relay latency',
    tables: [
      table(
        'Encode + encrypt on one core (BlockPipeline, voice-like signal), × real time',
        ['preset', 'channels', '× real time', 'audio s', 'CPU s'],
        throughputRows,
      ),
      table(
        'Overhead: bytes on the wire ÷ Opus payload bytes',
        ['preset', 'audio block B', 'Opus B per block', 'steady state', '60 s broadcast'],
        overheadRows,
      ),
      table(
        `Capture → relay acknowledgement latency, loopback, streaming PUT, ${latencySeconds} s real time`,
        ['preset', 'blocks', 'p50 ms', 'p99 ms'],
        latencyRows,
      ),
    ],
    notes: [
      'Throughput is audio seconds per CPU second of this process, one thread: a multiple of real time on one core.',
      'Latency runs from a block handed to the upload (its last frame just encoded and encrypted) to the block coming back on the relay’s listen socket, i.e. stored and fanned out; the relay runs in its own process on the same 2-core machine.',
      'Overhead per block = 16-byte block header + 16-byte GCM tag + 27-byte Ogg page header + lacing values; the 60 s figure adds the file magic, the OpusHead/OpusTags blocks and the EOS block.',
    ],
    raw: { throughputRows, overheadRows, latencyRows },
  };
}
