/**
 * `pnpm bench web`: the web app in headless Chromium against a real relay on loopback.
 * - Glass-to-glass delay: the fake microphone plays 200 ms tone bursts once a second, each
 *   second a different frequency (16 in turn, so a burst is identified for 16 s). Analysers on the
 *   broadcaster's microphone node and on everything the listener page sends to its speakers
 *   timestamp each burst's onset (wall clock, shared by both pages); delay = output onset − input
 *   onset of the same frequency. It includes capture, encoding, encryption, upload, relay fan-out,
 *   download, decryption, decoding and the player's buffer, but not the sound card's own output
 *   latency (AudioContext.outputLatency), which is outside the page. A delay that grows (ms per s)
 *   means the listener plays slower than real time (underruns, or CPU starvation).
 * - Seek time: from the seek (the seek bar's change event) until `data-position` is within 1 s of
 *   the target and advancing, i.e. audio from there is playing.
 * Both for the direct engine and for hls.js, with the Voice preset.
 * - Encode speed: the broadcaster's encoder worker (the built app's) encodes a tone with noise as
 *   fast as it goes, once with WebCodecs' AudioEncoder and once with opusscript, in the same
 *   Chromium: × real time (audio seconds per wall second, one worker each).
 * - Download memory: a 4-hour recording (1 hour with --quick) downloaded through the download
 *   service worker; what the page and the worker hold at the peak, and the browser's RSS growth
 *   (bench/web/download-memory.ts).
 */
import { readdirSync } from 'node:fs';
import os from 'node:os';
import {
  WEB_DIST,
  goLive,
  startWebRig,
  waitForPlayer,
  type Page,
  type WebRig,
} from '../tests/web/web-harness.ts';
import { percentile, round, type BenchOptions, type BenchResult } from './bench-kit.ts';
import { measureDownload } from './web/download-memory.ts';
import { uploadLongRecording } from './web/long-recording.ts';

/** 16 burst frequencies, one per second: a burst is identified unambiguously for 16 s. */
const CYCLE = 16;
const BURST_HZ = Array.from({ length: CYCLE }, (_, i) => 400 + 100 * i);
const MIC = `aevalsrc='0.5*sin(2*PI*(400+100*mod(floor(t),${CYCLE}))*t)*lt(mod(t,1),0.2)':s=48000:d=160`;

/**
 * Timestamps burst onsets on the mic (createMediaStreamSource) and the output (the context's
 * destination, or the MediaStream destination feeding the listener's <audio> element).
 */
const ONSET_SCRIPT = `(() => {
  const taps = [];
  const events = [];
  window.__mxOnsets = events;
  const tap = (node, kind) => {
    const a = node.context.createAnalyser();
    a.fftSize = 8192;
    a.smoothingTimeConstant = 0;
    node.connect(a);
    taps.push({ a, kind, on: false, buf: new Float32Array(8192), bins: new Float32Array(4096) });
  };
  const create = AudioContext.prototype.createMediaStreamSource;
  AudioContext.prototype.createMediaStreamSource = function (stream) {
    const node = create.call(this, stream);
    tap(node, 'in');
    return node;
  };
  const connect = AudioNode.prototype.connect;
  const tapped = new WeakSet();
  AudioNode.prototype.connect = function (target, ...rest) {
    const out = connect.call(this, target, ...rest);
    // The listener plays through a MediaStream destination into an <audio> element (background
    // playback), so that is its output too; the element's own buffering is outside the graph.
    const speakers = target instanceof AudioDestinationNode || target instanceof MediaStreamAudioDestinationNode;
    if (speakers && !tapped.has(this) && this.context.state !== 'closed') {
      tapped.add(this);
      // The broadcaster's silent monitor path is a GainNode at 0: not an output worth timing.
      if (!(this instanceof GainNode && this.gain.value === 0)) tap(this, 'out');
    }
    return out;
  };
  setInterval(() => {
    for (const t of taps) {
      if (t.a.context.state !== 'running') continue;
      t.a.getFloatTimeDomainData(t.buf);
      let sum = 0;
      for (let i = t.buf.length - 240; i < t.buf.length; i++) sum += t.buf[i] * t.buf[i];
      const rms = Math.sqrt(sum / 240);
      const now = performance.timeOrigin + performance.now();
      if (!t.on && rms > 0.02) {
        t.on = true;
        const kind = t.kind;
        const a = t.a;
        const bins = t.bins;
        setTimeout(() => {
          a.getFloatFrequencyData(bins);
          let best = 0;
          for (let i = 3; i < bins.length; i++) if (bins[i] > bins[best]) best = i;
          events.push({ kind, t: now, hz: (best * a.context.sampleRate) / a.fftSize });
        }, 120);
      } else if (t.on && rms < 0.005) t.on = false;
    }
  }, 4);
})();`;

interface Onset {
  kind: 'in' | 'out';
  t: number;
  hz: number;
}

function nearestBurst(hz: number): number | null {
  const best = BURST_HZ.reduce((a, b) => (Math.abs(b - hz) < Math.abs(a - hz) ? b : a));
  return Math.abs(best - hz) < 40 ? best : null;
}

/** Least-squares slope of delay over time: ms of delay gained per second. */
function growth(d: { at: number; ms: number }[]): number {
  if (d.length < 2) return Number.NaN;
  const mx = d.reduce((s, p) => s + p.at, 0) / d.length;
  const my = d.reduce((s, p) => s + p.ms, 0) / d.length;
  const num = d.reduce((s, p) => s + (p.at - mx) * (p.ms - my), 0);
  const den = d.reduce((s, p) => s + (p.at - mx) ** 2, 0);
  return (num / den) * 1000;
}

/** Output onset → the latest earlier input onset of the same burst frequency (within a cycle). */
function delays(inputs: Onset[], outputs: Onset[]): { at: number; ms: number }[] {
  const out: { at: number; ms: number }[] = [];
  for (const o of outputs) {
    const f = nearestBurst(o.hz);
    if (f === null) continue;
    const match = inputs
      .filter((i) => nearestBurst(i.hz) === f && i.t < o.t && o.t - i.t < CYCLE * 1000)
      .sort((a, b) => b.t - a.t)[0];
    if (match) out.push({ at: o.t, ms: o.t - match.t });
  }
  return out;
}

async function onsets(page: Page): Promise<Onset[]> {
  return page.evaluate(() => (window as unknown as { __mxOnsets: Onset[] }).__mxOnsets.slice());
}

async function seekTime(page: Page, target: number): Promise<number> {
  const start = Date.now();
  await page.evaluate((s: number) => {
    const bar = document.querySelector<HTMLInputElement>('#seek')!;
    bar.value = String(s);
    bar.dispatchEvent(new Event('change', { bubbles: true }));
  }, target);
  const landed = await waitForPlayer(
    page,
    (v) => v.position >= target - 0.3 && v.position < target + 1.5,
    `position near ${target}`,
  );
  await waitForPlayer(page, (v) => v.position > landed.position + 0.05, 'position advancing');
  return Date.now() - start;
}

async function measure(
  rig: WebRig,
  engine: 'direct' | 'hls',
  seconds: number,
  seeks: number,
): Promise<{
  delays: { at: number; ms: number }[];
  shown: number[];
  seeks: number[];
  missed: string[];
}> {
  const broadcaster = await rig.context.newPage();
  const link = await goLive(broadcaster, rig, 'voice');
  const listener = await rig.context.newPage();
  await listener.goto(link.replace('/listen#', `/listen?engine=${engine}#`));
  await waitForPlayer(listener, (v) => v.state === 'live', 'live', 30_000);
  await listener.waitForTimeout(2000); // let the first bursts through the pipeline
  const from = Date.now();
  // What the page itself says ("x s behind live"), sampled as it plays.
  const shown: number[] = [];
  while (Date.now() - from < seconds * 1000) {
    await listener.waitForTimeout(1000);
    const text = (await listener.textContent('#delay')) ?? '';
    const m = /([\d.]+) s behind live/.exec(text);
    if (m) shown.push(Number(m[1]) * 1000);
  }
  const inputs = (await onsets(broadcaster)).filter(
    (o) => o.kind === 'in' && o.t >= from - CYCLE * 1000,
  );
  const outputs = (await onsets(listener)).filter((o) => o.kind === 'out' && o.t >= from);
  const d = delays(inputs, outputs);
  const times: number[] = [];
  const missed: string[] = [];
  for (let i = 0; i < seeks; i++) {
    const { position } = await waitForPlayer(listener, (v) => v.position > 6, 'position > 6');
    const target = Math.max(1, position - 4 - (i % 3));
    try {
      times.push(await seekTime(listener, target));
    } catch (error) {
      missed.push(`${engine} seek to ${target.toFixed(2)}: ${(error as Error).message}`);
    }
    // Go live is disabled while the player already counts as live (a seek that landed near the
    // edge on a slow machine, then caught up): there is nothing to click then.
    if (await listener.isEnabled('#go-live'))
      await listener.click('#go-live', { timeout: 5000 }).catch(async (error: Error) => {
        if (await listener.isEnabled('#go-live')) throw error;
      });
    await waitForPlayer(listener, (v) => v.state === 'live', 'live again', 30_000);
  }
  await broadcaster.click('#stop');
  await broadcaster.waitForSelector('#ended', { timeout: 20_000 });
  await listener.close();
  await broadcaster.close();
  return { delays: d, shown, seeks: times, missed };
}

interface EncodeSpeed {
  codec: 'webcodecs' | 'opusscript';
  audioSeconds: number;
  wallMs: number;
  sizes: number[];
}

/** Both encoders in the built app's encoder worker, one after the other, in one page. */
async function encodeSpeeds(rig: WebRig, seconds: number): Promise<EncodeSpeed[]> {
  const worker = readdirSync(`${WEB_DIST}/assets`).find((f) => /^encode-worker-.*\.js$/.test(f));
  if (!worker) throw new Error('no encode-worker in apps/web/dist/assets: build the app');
  const page = await rig.context.newPage();
  // A page of the relay's origin: WebCodecs needs a secure context (loopback is one).
  await page.goto(`${rig.relay.url}/listen`);
  const out: EncodeSpeed[] = [];
  for (const codec of ['webcodecs', 'opusscript', 'webcodecs', 'opusscript'] as const) {
    out.push(
      await page.evaluate(
        ({ url, codec, seconds }) =>
          new Promise<EncodeSpeed>((resolve, reject) => {
            const w = new Worker(url, { type: 'module' });
            w.onmessage = (e: MessageEvent<{ type: string; message?: string } & EncodeSpeed>) => {
              if (e.data.type === 'bench') resolve(e.data);
              else if (e.data.type === 'error') reject(new Error(e.data.message));
              w.terminate();
            };
            w.postMessage({ type: 'bench', codec, seconds, bitrate: 32000, application: 'voip' });
          }),
        { url: `/assets/${worker}`, codec, seconds },
      ),
    );
  }
  await page.close();
  return out;
}

export async function run(options: BenchOptions): Promise<BenchResult> {
  const seconds = options.quick ? 10 : 30;
  const seeks = options.quick ? 2 : 5;
  const load = os.loadavg()[0] ?? 0;
  const rig = await startWebRig({ micSource: MIC });
  await rig.context.addInitScript(ONSET_SCRIPT);
  const rows: (string | number)[][] = [];
  const seekRows: (string | number)[][] = [];
  const encodeRows: (string | number)[][] = [];
  const downloadRows: (string | number)[][] = [];
  const raw: Record<string, unknown> = {};
  const missedAll: string[] = [];
  try {
    for (const engine of ['direct', 'hls'] as const) {
      const m = await measure(rig, engine, seconds, seeks);
      raw[engine] = m;
      const ms = m.delays.map((d) => d.ms);
      rows.push([
        engine === 'direct' ? 'direct (player → AudioWorklet)' : 'hls.js (fMP4 remux → MSE)',
        ms.length,
        round(Math.min(...ms), 0),
        round(percentile(ms, 50), 0),
        round(percentile(ms, 95), 0),
        round(growth(m.delays), 1),
        round(percentile(m.shown, 50), 0),
      ]);
      seekRows.push([
        engine,
        m.seeks.length,
        m.missed.length,
        round(percentile(m.seeks, 50), 0),
        round(Math.max(...m.seeks), 0),
      ]);
      missedAll.push(...m.missed);
    }
    // After the listening runs (a warm browser), with no broadcast going on.
    const speeds = await encodeSpeeds(rig, options.quick ? 20 : 120);
    raw.encode = speeds;
    for (const codec of ['webcodecs', 'opusscript'] as const) {
      const runs = speeds.filter((r) => r.codec === codec);
      const x = runs.map((r) => r.audioSeconds / (r.wallMs / 1000));
      encodeRows.push([
        codec === 'webcodecs'
          ? 'WebCodecs AudioEncoder (native libopus)'
          : 'opusscript (libopus, WebAssembly)',
        runs.length,
        runs[0]?.audioSeconds ?? 0,
        round(Math.min(...x), 0),
        round(Math.max(...x), 0),
        [...new Set(runs.flatMap((r) => r.sizes))].join(' '),
      ]);
    }
    // The streamed download of a long recording (bench/web/download-memory.ts), last.
    const hours = options.quick ? 1 : 4;
    const recording = await uploadLongRecording(rig.relay.url, rig.token, hours * 3600);
    const dl = await measureDownload(rig, recording.link);
    raw.download = { recording, ...dl };
    downloadRows.push([
      `download of a ${hours} h broadcast (Voice)`,
      round(recording.bytes / 2 ** 20, 1),
      round(dl.mbPerS, 1),
      round(dl.pageHeapPeakMb - dl.pageHeapBeforeMb, 1),
      dl.swLiveHeapPeakMb === null ? 'n/a' : round(dl.swLiveHeapPeakMb, 1),
      dl.swHeapPeakMb === null ? 'n/a' : round(dl.swHeapPeakMb, 1),
      round(dl.rendererRssDeltaMb, 0),
      round(dl.browserRssDeltaMb, 0),
    ]);
  } finally {
    await rig.close();
  }
  return {
    name: 'web',
    title: 'Web app in Chromium: glass-to-glass delay and seek time (Voice preset, loopback relay)',
    tables: [
      {
        title: 'Microphone → listener output delay (ms)',
        columns: ['engine', 'bursts', 'min', 'p50', 'p95', 'growth ms/s', 'page says (p50)'],
        rows,
      },
      {
        title: 'Seek into the past while live (ms, seek → audio from the target playing)',
        columns: ['engine', 'seeks', 'missed', 'p50', 'max'],
        rows: seekRows,
      },
      {
        title:
          'Broadcaster encode speed in the encoder worker (Voice: 32 kbit/s hard CBR, 20 ms, mono)',
        columns: [
          'encoder',
          'runs',
          'audio s per run',
          '× real time (min)',
          '× real time (max)',
          'packet bytes',
        ],
        rows: encodeRows,
      },
      {
        title:
          'Download of the decrypted recording through the service worker (MiB; held = JS heap + Blink heap + ArrayBuffers after a forced collection)',
        columns: [
          'recording',
          'ciphertext MiB',
          'MiB/s',
          'page held Δ peak',
          'worker held peak',
          'worker heap peak (garbage incl.)',
          'renderer RSS Δ peak',
          'browser RSS Δ peak',
        ],
        rows: downloadRows,
      },
    ],
    notes: [
      `1-minute load average when the run started: ${load.toFixed(1)} on ${os.cpus().length} cores (the machine is shared; a starved audio thread shows as delay growth).`,
      'Headless Debian Chromium via playwright-core, fake microphone from a WAV, relay on 127.0.0.1; browser, relay and bench share the machine.',
      "Delay excludes the sound card output latency; it includes the browser's voice processing on the microphone (Voice preset asks for noise suppression and gain control).",
      'Voice blocks hold 240 ms of audio, so a burst waits up to 240 ms for its block to fill before it can leave the broadcaster; low-latency (20 ms blocks) removes most of that.',
      ...missedAll.map((m) => `Missed: ${m}`),
      'hls.js runs in low-latency mode: the relay lists ~200 ms parts (one Voice block) with blocking playlist reload, and the web app has hls.js play two parts (0.48 s) behind the newest one (the playlist PART-HOLD-BACK is three).',
      'The direct engine decodes with WebCodecs AudioDecoder (Chromium has Opus), opusscript where a browser has not.',
      'Encode speed: wall time in the worker from the first frame to the last packet; WebCodecs encodes on a browser media thread, so its figure is throughput, not one thread.',
      'Download: a finished recording made by bench/web/long-recording.ts (one second of Opus repeated, encrypted block by block), saved by Chromium from the listen page; memory sampled every ~100 ms over CDP, each sample after a forced collection; RSS is every process of the browser (the renderers run the page and the worker), peak minus before the click.',
    ],
    raw,
  };
}
