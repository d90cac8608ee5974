/**
 * Ending a broadcast: Ctrl-C (SIGINT) finishes cleanly (last page EOS, upload complete, summary);
 * a second Ctrl-C cancels (the relay is told, the stream ends without EOS). Also raw s16le on
 * stdin at another rate, resampled to 48 kHz.
 */
import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { createSignal } from '@mxcast/audio';
import { CaptureError, CaptureSession, createOpusEncoder, generatedSource } from '@mxcast/capture';
import { MediaClient, parseListenLink } from '@mxcast/client';
import { BlockFramer, createBlockCipher, type EncryptedFile } from '@mxcast/format';
import { OggFlag, parseOggPage } from '@mxcast/ogg';
import {
  bin,
  downloadAndDecrypt,
  linkFrom,
  opusdec,
  useInProcessRelay,
  tempDir,
  writeTemp,
} from './capture-harness.ts';

const relay = useInProcessRelay();

/** A real-time 440 Hz capture to the relay; `link` resolves with its listen link once created. */
function liveCapture(preset: string): { session: CaptureSession; link: Promise<string> } {
  const signal = createSignal('sine:440');
  let onLink!: (link: string) => void;
  const link = new Promise<string>((resolve) => (onLink = resolve));
  const session = new CaptureSession({
    relay: relay().url,
    token: relay().token,
    preset,
    source: generatedSource('sine', 1, (n) => signal.read(n)),
    createEncoder: createOpusEncoder,
    title: 'cancelled',
    realtime: true,
    onLink,
  });
  return { session, link };
}

describe('ending a capture', () => {
  it('Ctrl-C on a stdin capture (16 kHz s16le) finishes with EOS and every sample resampled', async () => {
    const child = spawn(
      process.execPath,
      [
        bin,
        'capture',
        '--relay',
        relay().url,
        '--token',
        relay().token,
        '--input',
        '-',
        '--rate',
        '16000',
      ],
      { stdio: ['pipe', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    // 1.5 s of a 500 Hz tone at 16 kHz; stdin stays open like a live pipe.
    const pcm = createSignal('sine:500', { sampleRate: 16000 }).read(24000);
    child.stdin.write(Buffer.from(pcm.buffer));
    // Wait until the relay holds the 6 whole voice blocks (1.44 s) those samples make.
    const deadline = Date.now() + 60_000;
    const client = new MediaClient({ baseUrl: relay().url });
    while (true) {
      if (Date.now() > deadline) throw new Error(`no progress: ${stderr}`);
      await new Promise((r) => setTimeout(r, 100));
      if (!stdout.includes('/listen#')) continue;
      const { mxc } = parseListenLink(linkFrom(stdout));
      if ((await client.index(mxc)).block_count >= 8) break;
    }
    child.kill('SIGINT');
    expect(await exited).toBe(0);
    expect(stderr).toMatch(/finishing… \(Ctrl-C again to cancel the broadcast\)/);
    expect(stderr).toMatch(/finished: 00:01\.5 of audio/);

    const { opus, pages } = await downloadAndDecrypt(linkFrom(stdout));
    expect(parseOggPage(pages.at(-1)!.plaintext).flags & OggFlag.EOS).toBe(OggFlag.EOS);
    const decoded = await opusdec(writeTemp(tempDir(), 'stdin.opus', opus));
    expect(decoded.samples.length).toBe(24000 * 3);
  });

  it('a second Ctrl-C cancels: the relay drops the broadcast and no stored page carries EOS', async () => {
    const { session, link: linked } = liveCapture('low-latency');
    const running = session.run();
    running.catch(() => {});
    const link = await linked;
    await new Promise((r) => setTimeout(r, 500));
    session.stop(); // first Ctrl-C
    await session.cancel(); // second Ctrl-C
    const err = await running.then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(CaptureError);
    expect((err as CaptureError).code).toBe('CANCELLED');
    expect((err as CaptureError).exitCode).toBe(130);

    const { mxc } = parseListenLink(link);
    const client = new MediaClient({ baseUrl: relay().url });
    expect((await client.index(mxc)).state).toBe('cancelled');
  });

  it('a listener of a cancelled broadcast sees blocks but never an EOS page', async () => {
    const { session, link: linked } = liveCapture('voice');
    const running = session.run().catch((e: unknown) => e);
    const link = await linked;
    const { mxc, file } = parseListenLink(link);
    const client = new MediaClient({ baseUrl: relay().url });
    const socket = await client.listenSocket(mxc, { from: 0 });
    await new Promise((r) => setTimeout(r, 800));
    session.stop();
    await session.cancel();
    expect(await running).toBeInstanceOf(CaptureError);
    const cipher = await createBlockCipher(file as EncryptedFile);
    const framer = new BlockFramer({ expectMagic: false });
    let pages = 0;
    let end: unknown = null;
    for await (const ev of socket) {
      if (ev.type === 'block') {
        for (const b of framer.push(ev.bytes)) {
          const page = parseOggPage(await cipher.decrypt(b.seq, b.ciphertext));
          expect(page.flags & OggFlag.EOS).toBe(0);
          pages++;
        }
      } else if (ev.type === 'end') {
        end = ev;
        break;
      }
    }
    expect(pages).toBeGreaterThan(2);
    expect(end).toEqual({ type: 'end', state: 'cancelled' });
  });
});
