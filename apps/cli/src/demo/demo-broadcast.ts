/**
 * The demo broadcast behind `mxcast relay --demo` (the README's first command): a live `voice`
 * broadcast running inside the relay's process, so a newcomer hears something the moment the
 * page opens. It speaks with espeak-ng when that is installed, else it plays packages/audio's
 * voice-like signal (formants with syllable envelopes). It goes through the same capture
 * pipeline and the same HTTP upload as `mxcast capture`: the relay sees nothing special.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import {
  CaptureSession,
  createOpusEncoder,
  generatedSource,
  openCaptureSource,
  type CaptureSource,
} from '@mxcast/capture';
import { floatToInt16, readWav, resample } from '@mxcast/audio';

const run = promisify(execFile);

const SCRIPT = [
  'Welcome to mxcast.',
  'You are listening to a live, end to end encrypted broadcast.',
  'The relay stores and forwards these blocks, but it never sees the key.',
  'Drag the seek bar to go back in time, then press Go live to return to the edge.',
  'To broadcast yourself, open the broadcaster page and press Go live.',
].join(' ');

export interface DemoBroadcast {
  link: Promise<string>;
  stop(): Promise<void>;
}

export async function startDemoBroadcast(options: {
  relayUrl: string;
  token: string;
  onNotice?: (line: string) => void;
}): Promise<DemoBroadcast> {
  const source = (await speechSource()) ?? (await openCaptureSource('voice', { channels: 1 }));
  let resolveLink!: (link: string) => void;
  let rejectLink!: (err: unknown) => void;
  const link = new Promise<string>((resolve, reject) => {
    resolveLink = resolve;
    rejectLink = reject;
  });
  const session = new CaptureSession({
    relay: options.relayUrl,
    token: options.token,
    preset: 'voice',
    source,
    createEncoder: createOpusEncoder,
    title: 'mxcast demo broadcast',
    realtime: true,
    onLink: resolveLink,
    onNotice: options.onNotice,
  });
  const done = session.run().then(
    () => undefined,
    (err: unknown) => {
      rejectLink(err);
      options.onNotice?.(`demo broadcast stopped: ${(err as Error).message}`);
    },
  );
  return {
    link,
    async stop() {
      session.stop();
      await done;
    },
  };
}

/** espeak-ng's speech of SCRIPT, looped with a pause, or null where espeak-ng is missing. */
async function speechSource(): Promise<CaptureSource | null> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'mxcast-demo-'));
  try {
    const wavPath = path.join(dir, 'speech.wav');
    await run('espeak-ng', ['-s', '150', '-w', wavPath, SCRIPT]);
    const wav = readWav(new Uint8Array(await readFile(wavPath)));
    const mono = wav.channels === 1 ? wav.samples : wav.samples.filter((_, i) => i % 2 === 0);
    const speech = floatToInt16(resample(mono, wav.sampleRate, 48000, 1));
    const loop = new Int16Array(speech.length + 48000 * 2); // two seconds of silence between loops
    loop.set(speech);
    let at = 0;
    return generatedSource('espeak-ng speech (looped)', 1, (frames) => {
      const out = new Int16Array(frames);
      for (let i = 0; i < frames; i++) {
        out[i] = loop[at] ?? 0;
        at = (at + 1) % loop.length;
      }
      return out;
    });
  } catch {
    return null;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
