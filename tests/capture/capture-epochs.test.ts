/**
 * Key epochs in the capture (docs/format.md "Key epochs"): scheduled (`rekeyEvery`) and manual
 * (`rekey()`) epochs, each fixed ahead and announced through onEpoch before its first block;
 * the stored stream read back from a real relay has every block under exactly the key its seq's
 * epoch gives, and an Ogg stream that goes on unchanged across each boundary. A capture cut off
 * from the relay right after fixing an epoch resumes from its state file and switches keys
 * exactly where that epoch was announced.
 */
import { createServer, connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { blockGeometry, createSignal, PRESETS } from '@mxcast/audio';
import {
  CaptureSession,
  createOpusEncoder,
  generatedSource,
  readResumeState,
  type CaptureSessionOptions,
} from '@mxcast/capture';
import { MediaClient } from '@mxcast/client';
import {
  BlockFramer,
  createBlockCipher,
  epochFile,
  KeySchedule,
  type Epoch,
  type FramedBlock,
} from '@mxcast/format';
import { OggFlag, parseOggPage } from '@mxcast/ogg';
import { tempDir, useInProcessRelay } from './capture-harness.ts';

const relay = useInProcessRelay();
const VOICE = PRESETS.voice;
const BLOCK_SAMPLES = blockGeometry(VOICE).blockSamples;

function options(extra: Partial<CaptureSessionOptions>): CaptureSessionOptions {
  const gen = createSignal('sine', { channels: 1, amplitude: 0.5 });
  return {
    relay: relay().url,
    token: relay().token,
    preset: 'voice',
    source: generatedSource('sine', 1, (n) => gen.read(n)),
    createEncoder: createOpusEncoder,
    title: 'epochs',
    realtime: false,
    ...extra,
  };
}

async function storedBlocks(mxc: string): Promise<FramedBlock[]> {
  const client = new MediaClient({ baseUrl: relay().url });
  const wire = new Uint8Array(await (await client.download(mxc)).arrayBuffer());
  const framer = new BlockFramer();
  const blocks = framer.push(wire);
  framer.finish();
  return blocks;
}

/**
 * Every block opens under the plain v3 cipher of its epoch and under no other epoch's; the Ogg
 * pages go on across boundaries (page seq = block seq, one serial, granule + one block's
 * samples per audio page); one EOS, on the last page.
 */
async function checkStream(blocks: FramedBlock[], epochs: Epoch[]): Promise<void> {
  const schedule = new KeySchedule(epochs);
  const ciphers = await Promise.all(epochs.map((e) => createBlockCipher(epochFile(e))));
  expect(blocks.map((b) => b.seq)).toEqual(blocks.map((_, i) => i));
  let granule = -1n;
  let serial: number | undefined;
  let eos = 0;
  for (const b of blocks) {
    const k = schedule.indexFor(b.seq);
    const opened: boolean[] = await Promise.all(
      ciphers.map((c) =>
        c.decrypt(b.seq, b.ciphertext).then(
          () => true,
          () => false,
        ),
      ),
    );
    expect(opened, `block ${b.seq}`).toEqual(ciphers.map((_, i) => i === k));
    const page = parseOggPage(
      await (ciphers[k] as (typeof ciphers)[number]).decrypt(b.seq, b.ciphertext),
    );
    expect(page.pageSeq).toBe(b.seq);
    serial ??= page.serial;
    expect(page.serial).toBe(serial);
    if (page.flags & OggFlag.EOS) eos++;
    if (b.seq >= 3 && !(page.flags & OggFlag.EOS)) {
      expect(page.granule - granule, `granule step at ${b.seq}`).toBe(BigInt(BLOCK_SAMPLES));
    }
    if (b.seq >= 2) granule = page.granule;
  }
  expect(eos).toBe(1);
  expect(
    parseOggPage(
      await (ciphers[schedule.indexFor(blocks.length - 1)] as (typeof ciphers)[number]).decrypt(
        blocks.length - 1,
        (blocks.at(-1) as FramedBlock).ciphertext,
      ),
    ).flags & OggFlag.EOS,
  ).toBe(OggFlag.EOS);
}

describe('capture key epochs', () => {
  it('scheduled and manual epochs: announced ahead, every block under its epoch, Ogg unbroken', async () => {
    const announced: Epoch[] = [];
    const seqAtAnnounce: number[] = [];
    let manual: Promise<Epoch> | undefined;
    let nextSeq = 0;
    const session: CaptureSession = new CaptureSession(
      options({
        duration: 4,
        rekeyEvery: 1,
        rekeyLeadSeconds: 0.5,
        onEpoch: async (e) => {
          announced.push(e);
          seqAtAnnounce.push(nextSeq);
        },
        onWrite: (seq) => {
          nextSeq = seq + 1;
          // A manual rekey (mxcast rekey, a member kicked) in the middle, between schedules.
          if (seq === 9 && !manual) manual = session.rekey();
        },
      }),
    );
    const result = await session.run();
    const manualEpoch = await (manual as Promise<Epoch>);
    // Once the broadcast has ended there is nothing to rekey.
    await expect(session.rekey()).rejects.toMatchObject({ code: 'BAD_STATE' });
    // 3 scheduled (at 1, 2, 3 s of audio) + 1 manual.
    expect(result.epochs).toHaveLength(5);
    expect(result.epochs[0]).toEqual({
      startSeq: 0,
      key: expect.anything(),
      iv: expect.anything(),
    });
    expect([...announced].sort((a, b) => a.startSeq - b.startSeq)).toEqual(result.epochs.slice(1));
    expect(result.epochs).toContainEqual(manualEpoch);
    // Each was sent before its first block was written: lead 0.5 s = 3 blocks of 240 ms.
    announced.forEach((e, i) => expect(e.startSeq).toBeGreaterThan(seqAtAnnounce[i] as number));
    for (const a of result.announcements) expect(a.marginBlocks).toBeGreaterThan(0);
    expect(manualEpoch.startSeq).toBeGreaterThanOrEqual(10 + 3);
    await checkStream(await storedBlocks(result.mxc), result.epochs);
  });

  it('resumes across an announced epoch: the resumed run switches where it was announced', async () => {
    const statePath = join(tempDir(), 'state.json');
    const proxy = await cuttableProxy(relay().url);
    const announced: Epoch[] = [];
    let cutAt = -1;
    const first = new CaptureSession(
      options({
        relay: proxy.url,
        duration: 8,
        rekeyEvery: 2,
        statePath,
        maxOutageMs: 400,
        backoffMs: 50,
        onEpoch: async (e) => {
          announced.push(e);
        },
        onWrite: (seq) => {
          // The network goes right after the epoch was fixed (at 2 s), before it is reached.
          if (announced.length === 1 && cutAt < 0) {
            cutAt = seq;
            proxy.cut();
          }
        },
      }),
    );
    const err = await first.run().catch((e: unknown) => e);
    expect((err as { code?: string }).code).toBe('NETWORK');
    const state = await readResumeState(statePath);
    const epochs = state.epochs as Epoch[];
    // Saved before announced: every epoch sent out is in the state (the pipeline ran on, and
    // rekeyed on, while the upload was failing).
    expect(epochs.slice(1)).toEqual(announced);
    const index = await new MediaClient({ baseUrl: relay().url }).index(state.mxc);
    expect(index.state).toBe('live');
    // The relay stopped short of an announced boundary: the resumed run must switch there itself.
    const boundary = epochs.find((e) => e.startSeq > index.block_count) as Epoch;
    expect(boundary).toBeDefined();
    const resumed = await new CaptureSession(
      options({ resumePath: statePath, statePath, duration: 3 }),
    ).run();
    expect(resumed.firstSeq).toBe(index.block_count);
    expect(resumed.epochs).toEqual(state.epochs);
    expect(resumed.nextSeq).toBeGreaterThan(boundary.startSeq + 2);
    await checkStream(await storedBlocks(state.mxc), resumed.epochs);
  });
});

/** A TCP proxy to the relay whose cut() drops every connection and refuses new ones. */
async function cuttableProxy(target: string): Promise<{ url: string; cut(): void }> {
  const { hostname, port } = new URL(target);
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = connect(Number(port), hostname);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const address = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${address.port}`,
    cut() {
      server.close();
      for (const s of sockets) s.destroy();
    },
  };
}
