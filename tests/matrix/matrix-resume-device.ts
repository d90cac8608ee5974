/**
 * A new device of the broadcaster in its own process, for tests/matrix/matrix-resume.test.ts:
 * logs in with a fresh state dir, opens secret storage with the recovery passphrase (never
 * bootstrapping), restores the key backup, lists the room's broadcasts and reads a broadcast's
 * key epochs (fetchEpochs). Prints one JSON line: what was restored, the listing, and each
 * epoch's start and the sha256 of its key (never the key itself).
 *
 *   node --import tsx matrix-resume-device.ts --homeserver URL --user U --password-file F
 *     --recovery-file F --state-dir D --room R [--no-restore]
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import {
  fetchEpochs,
  listBroadcasts,
  openMatrixSession,
  openResumeBackup,
  restoreKeyBackup,
} from '@mxcast/matrix';

const { values } = parseArgs({
  options: {
    homeserver: { type: 'string' },
    user: { type: 'string' },
    'password-file': { type: 'string' },
    'recovery-file': { type: 'string' },
    'state-dir': { type: 'string' },
    room: { type: 'string' },
    'no-restore': { type: 'boolean' },
  },
});
const read = (f: string | undefined) => readFileSync(f ?? '', 'utf8').trim();
const session = await openMatrixSession({
  homeserver: values.homeserver ?? '',
  auth: { user: values.user ?? '', password: read(values['password-file']) },
  ...(values['state-dir'] ? { stateDir: values['state-dir'] } : {}),
  deviceName: 'mxcast resume test device',
});
try {
  const roomId = values.room ?? '';
  const out: Record<string, unknown> = { deviceId: session.deviceId };
  await openResumeBackup(session, read(values['recovery-file']), {
    bootstrap: false,
    keyBackup: false,
  });
  if (!values['no-restore']) out.restored = await restoreKeyBackup(session);
  const list = await listBroadcasts(session, roomId);
  out.broadcasts = list.map((b) => ({ id: b.broadcastId, state: b.state, title: b.title }));
  const epochs = [];
  // Epoch events this device could not decrypt: said, so a missing epoch names its cause.
  const undecryptable: { broadcast: string; sessionId: string | null; reason: string }[] = [];
  for (const b of list) {
    if (!b.announcement) continue;
    const l = await fetchEpochs(
      session,
      roomId,
      b.announcementEventId,
      b.broadcastId,
      b.broadcaster,
    );
    for (const u of l.undecryptable)
      undecryptable.push({ broadcast: b.broadcastId, sessionId: u.sessionId, reason: u.reason });
    for (const e of l.epochs.list()) {
      epochs.push({
        broadcast: b.broadcastId,
        index: e.index,
        startSeq: e.startSeq,
        keySha256: createHash('sha256').update(e.key.k).digest('hex'),
      });
    }
  }
  out.epochs = epochs;
  out.undecryptable = undecryptable;
  process.stdout.write(JSON.stringify(out) + '\n');
} finally {
  await session.stop();
}
// The WebAssembly crypto and sdk timers can keep the loop alive after stopClient.
process.exit(0);
