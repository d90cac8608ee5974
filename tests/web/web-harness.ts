/**
 * Browser-test harness for the web app: a real relay serving apps/web/dist, a token from the
 * relay's token API, headless Debian Chromium (playwright-core, no browser download) with a fake
 * microphone fed from a WAV tone, and probes that read what a page actually plays.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createToken, startRelay, type RunningRelay } from '@mxcast/relay';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { loudestTone, pageTone, waitForTone, type Tone } from '../audio/tone-measure.ts';

const here = dirname(fileURLToPath(import.meta.url));
export type { Page };

export const REPO = resolve(here, '../..');
export const WEB_DIST = join(REPO, 'apps/web/dist');
export const ARTIFACTS = join(REPO, 'test-artifacts');
export const CHROMIUM = process.env.MXCAST_CHROMIUM ?? '/usr/bin/chromium';
/** The fake microphone's tone. */
export const TONE_HZ = 660;

export interface WebRig {
  relay: RunningRelay;
  token: string;
  browser: Browser;
  context: BrowserContext;
  close(): Promise<void>;
}

/** Builds the app if dist is missing (turbo builds it before tests; a lone run may not have). */
export function ensureWebBuild(): void {
  if (existsSync(join(WEB_DIST, 'index.html'))) return;
  execFileSync('npx', ['vite', 'build'], { cwd: join(REPO, 'apps/web'), stdio: 'inherit' });
}

export interface WebRigOptions {
  /** ffmpeg lavfi source for the fake microphone (default: a steady TONE_HZ sine). */
  micSource?: string;
}

export async function startWebRig(options: WebRigOptions = {}): Promise<WebRig> {
  ensureWebBuild();
  const work = mkdtempSync(join(tmpdir(), 'mxcast-web-'));
  const wav = join(work, 'tone.wav');
  const source = options.micSource ?? `sine=frequency=${TONE_HZ}:duration=60:sample_rate=48000`;
  // A long, steady tone at a level the browser's voice processing leaves alone.
  execFileSync('ffmpeg', [
    '-v',
    'error',
    '-f',
    'lavfi',
    '-i',
    source,
    '-af',
    'volume=0.5',
    '-ac',
    '1',
    '-c:a',
    'pcm_s16le',
    wav,
  ]);
  const dataDir = join(work, 'relay');
  mkdirSync(dataDir);
  const token = createToken(dataDir, '@web:localhost');
  const relay = await startRelay({
    dataDir,
    host: '127.0.0.1',
    port: 0,
    webRoot: WEB_DIST,
    serverName: 'localhost',
  });
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--no-sandbox',
      '--headless',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--autoplay-policy=no-user-gesture-required',
      // Pages are tabs; keep timers and audio in the ones not in front running at full rate.
      '--disable-background-timer-throttling',
      '--disable-renderer-backgrounding',
      '--disable-backgrounding-occluded-windows',
      '--use-fake-ui-for-media-stream',
      '--use-fake-device-for-media-stream',
      `--use-file-for-fake-audio-capture=${wav}`,
    ],
  });
  const context = await browser.newContext({ viewport: { width: 900, height: 760 } });
  await context.addInitScript(PROBE_SCRIPT);
  return {
    relay,
    token,
    browser,
    context,
    async close() {
      await browser.close().catch(() => undefined);
      await relay.close();
      rmSync(work, { recursive: true, force: true });
    },
  };
}

/**
 * Installed before any page script: whatever a page connects to its speakers — or to a
 * MediaStream destination, which the listener plays through an <audio> element
 * (apps/web/src/listen/media-output.ts) — is also connected to an AnalyserNode, so a test can
 * read the audio the page really outputs. Media Session action handlers are kept in
 * window.__mxSession so a test can press the lock screen's buttons.
 */
const PROBE_SCRIPT = `(() => {
  const connect = AudioNode.prototype.connect;
  const probes = new Map();
  window.__mxProbe = () => [...probes.values()];
  AudioNode.prototype.connect = function (target, ...rest) {
    if (target instanceof AudioDestinationNode || target instanceof MediaStreamAudioDestinationNode) {
      let probe = probes.get(this.context);
      if (!probe) {
        probe = this.context.createAnalyser();
        probe.fftSize = 8192;
        probe.smoothingTimeConstant = 0;
        probes.set(this.context, probe);
      }
      connect.call(this, probe);
    }
    return connect.call(this, target, ...rest);
  };
  const handlers = {};
  window.__mxSession = handlers;
  if (navigator.mediaSession) {
    const set = MediaSession.prototype.setActionHandler;
    MediaSession.prototype.setActionHandler = function (action, handler) {
      handlers[action] = handler;
      return set.call(this, action, handler);
    };
  }
})();`;

/** A page's strongest frequency, as the web tests name it (see tests/audio/tone-measure.ts). */
export interface Spectrum {
  /** Frequency of the strongest bin, refined between bins (Hz). */
  peakHz: number;
  /** Its level (dBFS). */
  peakDb: number;
  /** How far it stands above the median bin (dB): a tone, not broadband noise. */
  prominenceDb: number;
}

function asSpectrum(tone: Tone): Spectrum {
  return { peakHz: tone.hz, peakDb: tone.db, prominenceDb: tone.prominenceDb };
}

/** The strongest frequency the page is playing right now (over every AudioContext it has). */
export async function outputSpectrum(page: Page): Promise<Spectrum> {
  return asSpectrum(await pageTone(page));
}

/**
 * Polls until the page plays the rig's tone: within 15 Hz of it, audible and a tone, not noise
 * (the thresholds of `waitForTone`).
 */
export async function expectTone(page: Page, timeoutMs = 15_000): Promise<Spectrum> {
  return asSpectrum(await waitForTone(page, TONE_HZ, { timeoutMs, toleranceHz: 15 }));
}

/** The loudest level (dBFS) of anything the page plays, over `ms`. */
export async function loudestOutput(page: Page, ms: number): Promise<number> {
  return loudestTone(page, ms);
}

export interface PlayerView {
  state: string;
  position: number;
  error: string | null;
  message: string;
}

export async function playerView(page: Page): Promise<PlayerView> {
  return page.evaluate(() => {
    const el = document.querySelector<HTMLElement>('.player');
    return {
      state: el?.dataset.state ?? '',
      position: Number(el?.dataset.position ?? NaN),
      error: el?.dataset.error ?? null,
      message: document.querySelector('#message')?.textContent ?? '',
    };
  });
}

export async function waitForPlayer(
  page: Page,
  test: (v: PlayerView) => boolean,
  what: string,
  // Generous: the machine (2 cores) may be shared with other test runs.
  timeoutMs = 25_000,
): Promise<PlayerView> {
  const deadline = Date.now() + timeoutMs;
  let view = await playerView(page);
  while (!test(view)) {
    if (Date.now() > deadline)
      throw new Error(`player never reached ${what}; last ${JSON.stringify(view)}`);
    await page.waitForTimeout(150);
    view = await playerView(page);
  }
  return view;
}

/** Signs in on the broadcaster page, goes live with `preset`, returns the listen link. */
export async function goLive(page: Page, rig: WebRig, preset = 'voice'): Promise<string> {
  await page.goto(`${rig.relay.url}/`);
  // The page renders once its chunk has loaded: sign-in when no token is stored, else setup.
  await page.waitForSelector('#signin, #setup', { timeout: 15_000 });
  if (await page.locator('#token').count()) {
    await page.fill('#token', rig.token);
    await page.click('#signin button[type=submit]');
  }
  await page.check(`input[name=preset][value=${preset}]`);
  await page.click('#go-live');
  await page.waitForSelector('#live', { timeout: 15_000 });
  const link = await page.inputValue('#listen-link');
  if (!link.includes('/listen#')) throw new Error(`no listen link on the page: '${link}'`);
  return link;
}

export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
}
