/**
 * Finished broadcasts for the relay-overhead table: the fan-out bench's `voice` stream
 * (bench/fanout/bench-stream.ts: the magic, OpusHead and OpusTags blocks, then 984-byte-page
 * blocks, 240 ms each) generated faster than real time, uploaded to a fresh relay in one
 * streaming PUT that ends at a block boundary (docs/protocol.md "Streaming PUT": that
 * completes the media), and written to a file for the raw server. No EOS page: the relay
 * serves the bytes either way, and only a player tells "finished" from "ended without
 * finishing".
 */
import { createHash } from 'node:crypto';
import { BenchStream } from '../fanout/bench-stream.ts';
import { FANOUT_PRESETS } from '../fanout/fanout-presets.ts';
import type { RelayUnderTest } from '../fanout/relay-server.ts';

export class StoredMediaError extends Error {
  readonly code = 'STORED_MEDIA_FAILED' as const;
}

/** At least `minBytes` of whole blocks: the file's bytes and their base64 SHA-256. */
export async function generateVoiceFile(
  minBytes: number,
): Promise<{ bytes: Buffer; sha256: string; seconds: number }> {
  const preset = FANOUT_PRESETS.voice;
  const stream = await BenchStream.open(preset, true);
  const parts: Uint8Array[] = [];
  let total = 0;
  while (total < minBytes) {
    const unit = await stream.next();
    parts.push(unit);
    total += unit.length;
  }
  const bytes = Buffer.concat(parts);
  const seconds = ((stream.nextSeq - 2) * preset.blockIntervalMs) / 1000;
  return { bytes, sha256: createHash('sha256').update(bytes).digest('base64'), seconds };
}

export async function uploadWhole(relay: RelayUnderTest, bytes: Buffer): Promise<void> {
  const res = await fetch(`http://127.0.0.1:${relay.port}${relay.uploadPath}`, {
    method: 'PUT',
    headers: { authorization: relay.authorization, 'content-type': 'application/octet-stream' },
    body: new Uint8Array(bytes), // a copy typed over an ArrayBuffer, as BodyInit wants
  });
  const text = await res.text();
  if (res.status !== 200) {
    throw new StoredMediaError(`PUT of ${bytes.length} bytes answered ${res.status}: ${text}`);
  }
}
