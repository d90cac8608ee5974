/**
 * The header epoch's send order (docs/matrix.md "Key epochs", docs/format.md "Key epochs"):
 * epoch 1 (from seq 2, the first audio block) needs no audio, so the capture fixes it and saves
 * it in the resume state while the stream is announced (`onCreated`), and hands it to `onEpoch`
 * as soon as the announcement is out, before any block is sealed or uploaded. The
 * announcement's file stays epoch 0, whose key opens only blocks 0 and 1. A slow epoch send
 * does not hold up the audio.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createSignal } from '@mxcast/audio';
import {
  CaptureSession,
  createOpusEncoder,
  generatedSource,
  readResumeState,
  type CreatedStream,
} from '@mxcast/capture';
import { MediaClient } from '@mxcast/client';
import { BlockFramer, createBlockCipher, epochFile, type Epoch } from '@mxcast/format';
import { tempDir, useInProcessRelay } from './capture-harness.ts';

const relay = useInProcessRelay();

describe('capture header epoch', () => {
  it('epoch 1 is saved as the stream is announced and sent before the first block', async () => {
    const statePath = join(tempDir(), 'state.json');
    const steps: string[] = [];
    let created: CreatedStream | undefined;
    let savedAtEpoch: Epoch[] | undefined;
    let sent: Epoch | undefined;
    let writesWhileSending = -1;
    const gen = createSignal('sine', { channels: 1, amplitude: 0.5 });
    const session = new CaptureSession({
      relay: relay().url,
      token: relay().token,
      preset: 'voice',
      source: generatedSource('sine', 1, (n) => gen.read(n)),
      createEncoder: createOpusEncoder,
      title: 'header epoch',
      realtime: false,
      duration: 2,
      statePath,
      headerEpoch: true,
      onCreated: async (info) => {
        steps.push('created');
        created = info;
        // A homeserver's answer takes a moment; epoch 1 is saved meanwhile.
        await new Promise((r) => setTimeout(r, 50));
      },
      onEpoch: async (epoch) => {
        steps.push(`epoch ${epoch.startSeq}`);
        const before = steps.length;
        sent = epoch;
        savedAtEpoch = (await readResumeState(statePath)).epochs;
        // A slow homeserver: the audio goes on meanwhile.
        await new Promise((r) => setTimeout(r, 300));
        writesWhileSending = steps.slice(before).filter((s) => s.startsWith('write')).length;
      },
      onWrite: (seq) => steps.push(`write ${seq}`),
    });
    const result = await session.run();

    // The order: announcement, then epoch 1's event, then the first bytes (the file magic).
    expect(steps.slice(0, 3)).toEqual(['created', 'epoch 2', 'write -1']);
    expect(result.epochs).toHaveLength(2);
    const [epoch0, epoch1] = result.epochs as [Epoch, Epoch];
    expect(sent).toEqual(epoch1);
    expect(epoch1.startSeq).toBe(2);
    // Saved before announced: the state already held epoch 1 when its event was to be sent.
    expect(savedAtEpoch).toEqual([epoch0, epoch1]);
    // The announcement's key is epoch 0's, not epoch 1's, and it was told of epoch 0 only.
    expect(created?.epochs).toEqual([epoch0]);
    expect(created?.file.key.k).toBe(epoch0.key.k);
    expect(created?.file.key.k).not.toBe(epoch1.key.k);
    expect(writesWhileSending).toBeGreaterThan(3);
    expect(result.announcements).toHaveLength(1);
    expect(result.announcements[0]?.ms).toBeGreaterThanOrEqual(290);

    // The stored stream: blocks 0 and 1 open under epoch 0 only, block 2 on under epoch 1 only.
    const wire = new Uint8Array(
      await (await new MediaClient({ baseUrl: relay().url }).download(result.mxc)).arrayBuffer(),
    );
    const framer = new BlockFramer();
    const blocks = framer.push(wire);
    framer.finish();
    const ciphers = await Promise.all([epoch0, epoch1].map((e) => createBlockCipher(epochFile(e))));
    for (const b of blocks.slice(0, 4)) {
      const opens = await Promise.all(
        ciphers.map((c) =>
          c.decrypt(b.seq, b.ciphertext).then(
            () => true,
            () => false,
          ),
        ),
      );
      expect(opens, `block ${b.seq}`).toEqual(b.seq < 2 ? [true, false] : [false, true]);
    }
  });
});
