/**
 * The set-up the client end-to-end tests share: one in-process relay (tests/capture's harness)
 * for the file's tests, and a MediaClient holding a token for it.
 */
import { afterAll, beforeAll } from 'vitest';
import { MediaClient } from '@mxcast/client';
import { startInProcessRelay, type InProcessRelay } from '../capture/capture-harness.ts';

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
