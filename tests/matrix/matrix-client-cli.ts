/**
 * A listener in its own process, for tests/matrix/matrix-client.test.ts: opens a Matrix session
 * with @mxcast/matrix (password login, device kept in --state-dir), optionally waits for one
 * broadcast's key, and prints one JSON line: the device, whether it was restored, the room's
 * broadcasts (with the decrypted EncryptedFile where this device has the key).
 *
 *   node --import tsx matrix-client-cli.ts --homeserver URL --user U --password P --state-dir D
 *     [--room ROOM_ID] [--wait-key BROADCAST_ID] [--timeout MS]
 */
import { listBroadcasts, waitForBroadcastKey } from '@mxcast/matrix';
import { openSessionFromArgs } from './matrix-session-args.ts';

const t0 = performance.now();
const { session, values } = await openSessionFromArgs('mxcast test listener', {
  room: { type: 'string' },
  'wait-key': { type: 'string' },
  timeout: { type: 'string', default: '60000' },
});
const openMs = Math.round(performance.now() - t0);
try {
  let keyMs: number | undefined;
  if (values.room && values['wait-key']) {
    const t1 = performance.now();
    await waitForBroadcastKey(session, values.room, values['wait-key'], Number(values.timeout));
    keyMs = Math.round(performance.now() - t1);
  }
  const broadcasts = values.room ? await listBroadcasts(session, values.room) : [];
  const out = {
    userId: session.userId,
    deviceId: session.deviceId,
    restored: session.restored,
    openMs,
    keyMs,
    requests: Object.fromEntries(session.requests),
    broadcasts,
  };
  process.stdout.write(JSON.stringify(out) + '\n');
} finally {
  await session.stop();
}
// The WebAssembly crypto and sdk timers can keep the loop alive after stopClient.
process.exit(0);
