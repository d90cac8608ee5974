/**
 * `pnpm bench audio`: the per-frame and per-block costs under capture and playback, on one core
 * (CPU time, so other work on the machine does not count against us):
 * - hard-CBR Opus encode and decode (opusscript; WebAssembly build for Node, asm.js build as
 *   browsers get it) as a multiple of real time, per preset;
 * - Ogg page write (OggOggPager.audioPage) and parse (parseOpusPage) per block;
 * - the windowed-sinc resampler, 44.1 kHz → 48 kHz stereo, as a multiple of real time.
 * Real-time needs are ≥ 1×; capture on 2 cores wants encode ≥ 20× so one core can serve it
 * alongside encryption and upload.
 */
import {
  OpusCbrEncoder,
  OpusPacketDecoder,
  PRESETS,
  Resampler,
  blockGeometry,
  createSignal,
} from '@mxcast/audio';
import { OggOpusPager, parseOpusPage } from '@mxcast/ogg';
import { cpuMs, round, table, type BenchOptions, type BenchResult } from './bench-kit.ts';

/** Runs `step` (which handles one unit) until `ms` of CPU time; returns units per CPU second. */
function perSecond(ms: number, step: (i: number) => void): number {
  let n = 0;
  const start = cpuMs();
  while (cpuMs() - start < ms) {
    for (let k = 0; k < 10; k++) step(n++);
  }
  return (n * 1000) / (cpuMs() - start);
}

export async function run(options: BenchOptions): Promise<BenchResult> {
  const ms = options.quick ? 400 : 2000;
  const opusRows: (string | number)[][] = [];
  const oggRows: (string | number)[][] = [];
  for (const preset of Object.values(PRESETS)) {
    const channels = preset.name === 'music' ? 2 : 1;
    for (const wasm of [true, false]) {
      const enc = OpusCbrEncoder.forPreset(preset, {
        channels,
        wasm,
      });
      const dec = new OpusPacketDecoder({ channels, wasm });
      // A few seconds of the voice signal, cycled: realistic content for both modes.
      const src = createSignal('voice', { channels });
      const frames = Array.from({ length: 250 }, () => src.read(enc.frameSamples));
      const packets = frames.map((f) => enc.encode(f));
      const encPerSec = perSecond(ms, (i) => enc.encode(frames[i % frames.length] as Int16Array));
      const decPerSec = perSecond(ms, (i) => dec.decode(packets[i % packets.length] as Uint8Array));
      const framesPerRealSecond = 1000 / preset.frameMs;
      opusRows.push([
        preset.name,
        channels,
        wasm ? 'wasm' : 'asm.js',
        round(encPerSec / framesPerRealSecond, 1),
        round(decPerSec / framesPerRealSecond, 1),
      ]);
      enc.destroy();
      dec.destroy();
      if (!wasm) continue;
      const g = blockGeometry(preset);
      const pager = new OggOpusPager({ serial: 1, channels, preSkip: 312 });
      const block = packets.slice(0, preset.framesPerBlock);
      const page = pager.audioPage(block);
      const writes = perSecond(ms, () => pager.audioPage(block));
      const parses = perSecond(ms, () => parseOpusPage(page));
      oggRows.push([
        preset.name,
        g.pageBytes,
        Math.round(writes),
        Math.round(parses),
        round((parses * g.pageBytes) / 1e6, 1),
      ]);
    }
  }
  const resampler = new Resampler(44100, 48000, 2);
  const chunk = createSignal('sweep:100-15000:1', { sampleRate: 44100, channels: 2 }).readFloat(
    441,
  );
  const chunksPerSec = perSecond(ms, () => resampler.push(chunk));
  const resampleRealtime = round(chunksPerSec / 100, 1);
  return {
    name: 'audio',
    title: 'Audio: CBR Opus encode/decode, Ogg pages, resampling (one core, CPU time)',
    tables: [
      table(
        'Opus (opusscript) speed as a multiple of real time, voice signal',
        ['preset', 'channels', 'build', 'encode ×RT', 'decode ×RT'],
        opusRows,
      ),
      table(
        'Ogg pages per CPU second (one page = one block)',
        ['preset', 'page bytes', 'write pages/s', 'parse pages/s', 'parse MB/s'],
        oggRows,
      ),
      table('Windowed-sinc resampler 44.1 → 48 kHz stereo', ['×RT'], [[resampleRealtime]]),
    ],
    notes: [
      'Encode/decode include the copy in and out of the Emscripten heap (packages/audio/src/opusscript-bridge.ts).',
      'Browsers get the asm.js build (apps/web aliases opusscript); Node uses WebAssembly.',
      'Ogg page costs are microseconds per block: negligible beside Opus and AES-GCM.',
    ],
    raw: { opusRows, oggRows, resampleRealtime },
  };
}
