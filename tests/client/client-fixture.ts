/**
 * The set-up the client end-to-end tests share: one in-process relay (tests/capture's harness)
 * for the file's tests, and a MediaClient holding a token for it.
 */
import { afterAll, beforeAll } from 'vitest';
import { MediaClient } from '@mxcast/client';
import { startInProcessRelay, type InProcessRelay } from '../capture/capture-harness.ts';

/** A geometry for 100-byte ciphertexts (block_size = 16-byte header + 100), as the tests use. */
export const SMALL_GEOMETRY = {
  frame_ms: 20,
  frames_per_block: 12,
  bitrate: 32000,
  block_size: 16 + 100,
  sample_rate: 48000,
  channels: 1,
};

export interface ClientRelay {
  relay: InProcessRelay;
  client: MediaClient;
}

/** Starts the relay before the file's tests and closes it after; read the fields inside tests. */
export function useClientRelay(): ClientRelay {
  const t = {} as ClientRelay;
  beforeAll(async () => {
    t.relay = await startInProcessRelay();
    t.client = new MediaClient({ baseUrl: t.relay.url, accessToken: t.relay.token });
  });
  afterAll(async () => {
    await t.relay?.close();
  });
  return t;
}
