/**
 * The one tone measure of the browser tests: which frequency a page plays, how loud, and how
 * far it stands above the rest of the spectrum (a tone, not noise).
 *
 * The page side only reads the spectra of the AnalyserNodes the web harness's init script taps
 * on every AudioContext (`window.__mxProbe()`); the peak is found here in Node, in
 * `spectrumPeak`, so that the arithmetic is unit-tested on synthetic spectra
 * (tone-measure.test.ts) rather than only through a browser. Decoded files and WAVs are
 * measured in the sample domain with `estimateFrequency` from @mxcast/audio instead.
 */
import type { Page } from 'playwright-core';

export interface Tone {
  /** Frequency of the strongest bin, refined between bins (Hz); 0 when nothing plays. */
  hz: number;
  /** Its level (dBFS); −Infinity when nothing plays. */
  db: number;
  /** How far it stands above the median bin (dB): a tone, not broadband noise. */
  prominenceDb: number;
}

/** One analyser's read-out: `getFloatFrequencyData` bins (dB) and what they are bins of. */
export interface AnalyserSpectrum {
  binsDb: ArrayLike<number>;
  sampleRate: number;
  fftSize: number;
}

export const SILENT: Tone = Object.freeze({ hz: 0, db: -Infinity, prominenceDb: 0 });

/**
 * The lowest bin looked at: bins 0–2 are DC and the analyser window's leakage of it (below
 * 18 Hz at 48 kHz with 8192 points), never a tone the tests play.
 */
const FIRST_BIN = 3;

/**
 * The strongest bin of one spectrum, refined by parabolic interpolation of the peak and its two
 * neighbours in dB (the probe's bins are 5.9 Hz apart, wider than the ±5 Hz some tests ask).
 */
export function spectrumPeak({ binsDb, sampleRate, fftSize }: AnalyserSpectrum): Tone {
  let best = -1;
  for (let i = FIRST_BIN; i < binsDb.length - 1; i++) {
    if (binsDb[i]! > (best < 0 ? -Infinity : binsDb[best]!)) best = i;
  }
  if (best < 0) return SILENT;
  const a = binsDb[best - 1]!;
  const b = binsDb[best]!;
  const c = binsDb[best + 1]!;
  const d = a - 2 * b + c;
  // A neighbour at −Infinity (exact silence beside the peak) leaves the bin centre unrefined.
  const shift = d !== 0 && Number.isFinite(d) ? (0.5 * (a - c)) / d : 0;
  const finite = Array.from(binsDb)
    .filter(Number.isFinite)
    .sort((x, y) => x - y);
  const median = finite[Math.floor(finite.length / 2)];
  return {
    hz: ((best + shift) * sampleRate) / fftSize,
    db: b,
    prominenceDb: median === undefined ? 0 : b - median,
  };
}

/** The loudest of several spectra's peaks (a page may have several AudioContexts). */
export function strongestTone(spectra: readonly AnalyserSpectrum[]): Tone {
  let best = SILENT;
  for (const spectrum of spectra) {
    const tone = spectrumPeak(spectrum);
    if (tone.db > best.db) best = tone;
  }
  return best;
}

/** Whether `tone` is `hz` within `toleranceHz`, audible and standing out as a tone. */
export function isTone(
  tone: Tone,
  hz: number,
  { toleranceHz = 5, minDb = -75, minProminenceDb = 30 } = {},
): boolean {
  return (
    Math.abs(tone.hz - hz) < toleranceHz && tone.db > minDb && tone.prominenceDb > minProminenceDb
  );
}

/** The spectra of every running AudioContext the page has, read through the harness's probe. */
async function pageSpectra(page: Page): Promise<AnalyserSpectrum[]> {
  return page.evaluate(() => {
    const probes = (window as unknown as { __mxProbe?: () => AnalyserNode[] }).__mxProbe?.() ?? [];
    return probes
      .filter((probe) => probe.context.state === 'running')
      .map((probe) => {
        const bins = new Float32Array(probe.frequencyBinCount);
        probe.getFloatFrequencyData(bins);
        // Playwright's serialiser carries −Infinity (a silent bin) back to Node as such.
        return {
          binsDb: Array.from(bins),
          sampleRate: probe.context.sampleRate,
          fftSize: probe.fftSize,
        };
      });
  });
}

/** The strongest frequency the page plays right now (over every AudioContext it has). */
export async function pageTone(page: Page): Promise<Tone> {
  return strongestTone(await pageSpectra(page));
}

/**
 * Polls until the page plays `hz` (within `toleranceHz`, above −75 dBFS — the browser's voice
 * processing on the fake microphone lowers a steady tone — and 30 dB above the median bin);
 * returns what it measured, or throws with the last measure.
 */
export async function waitForTone(
  page: Page,
  hz: number,
  { timeoutMs = 15_000, toleranceHz = 5 } = {},
): Promise<Tone> {
  const deadline = Date.now() + timeoutMs;
  let last = await pageTone(page);
  while (!isTone(last, hz, { toleranceHz })) {
    if (Date.now() >= deadline) {
      throw new Error(
        `no ${hz} Hz tone in the page's output: strongest ${last.hz.toFixed(1)} Hz at ${last.db.toFixed(1)} dB, ${last.prominenceDb.toFixed(1)} dB above the median`,
      );
    }
    await page.waitForTimeout(200);
    last = await pageTone(page);
  }
  return last;
}

/** The loudest level (dBFS) of anything the page plays, polled over `ms`. */
export async function loudestTone(page: Page, ms: number, everyMs = 200): Promise<number> {
  let loudest = -Infinity;
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    loudest = Math.max(loudest, (await pageTone(page)).db);
    await page.waitForTimeout(everyMs);
  }
  return loudest;
}
