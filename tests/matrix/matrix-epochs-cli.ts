/**
 * A listener device in its own process, for tests/matrix/matrix-epochs.test.ts: opens the
 * user's kept device, reads the broadcast's key epochs with @mxcast/matrix (fetchEpochs), and
 * prints one JSON line of what this device holds — its membership, the epochs it can read, the
 * Megolm session ids in its crypto store (exportRoomKeys), whether given raw events decrypt, and
 * which of given ciphertext blocks decrypt under which of its keys (every key it holds is tried).
 *
 *   node --import tsx matrix-epochs-cli.ts --homeserver URL --user U --password P --state-dir D
 *     [--room R [--announcement $E --broadcast ID --sender @alice:S]] [--probe FILE]
 *
 * Without --announcement: the room's newest broadcast this device lists.
 *
 * FILE: {"events": [raw encrypted event, …], "blocks": [{"seq": n, "ciphertext": base64}, …]}.
 */
import { readFileSync } from 'node:fs';
import { createBlockCipher, epochFile } from '@mxcast/format';
import { fetchEpochs, listBroadcasts, lostAccess, type KeyEpoch } from '@mxcast/matrix';
import { openSessionFromArgs } from './matrix-session-args.ts';

const { session, values } = await openSessionFromArgs('mxcast epochs test listener', {
  room: { type: 'string' },
  announcement: { type: 'string' },
  broadcast: { type: 'string' },
  sender: { type: 'string' },
  probe: { type: 'string' },
});
try {
  const { client } = session;
  const out: Record<string, unknown> = { userId: session.userId, deviceId: session.deviceId };
  let epochs: KeyEpoch[] = [];
  if (values.room) {
    out.membership = client.getRoom(values.room)?.getMyMembership() ?? null;
  }
  if (values.room && !values.announcement) {
    // No announcement given: the room's newest broadcast this device can list (a `joined`
    // newcomer lists it from the re-announcement it was sent).
    const newest = (await listBroadcasts(session, values.room))[0];
    if (newest) {
      values.announcement = newest.announcementEventId;
      values.broadcast = newest.broadcastId;
      values.sender = newest.broadcaster;
    }
  }
  if (values.room && values.announcement && values.broadcast && values.sender) {
    try {
      const l = await fetchEpochs(
        session,
        values.room,
        values.announcement,
        values.broadcast,
        values.sender,
      );
      epochs = l.epochs.list();
      out.epochs = epochs.map((e) => ({
        index: e.index,
        startSeq: e.startSeq,
        ...(e.endSeq !== undefined ? { endSeq: e.endSeq } : {}),
      }));
      out.undecryptable = l.undecryptable;
      out.lostAccess = lostAccess(l);
    } catch (err) {
      // A room left, or history this member may not see: the homeserver refuses the events.
      out.fetchError = (err as Error).message;
      out.epochs = [];
    }
  }
  const keys = (await client.getCrypto()!.exportRoomKeys()).filter(
    (k) => !values.room || k.room_id === values.room,
  );
  out.sessionIds = keys.map((k) => k.session_id);
  if (values.probe) {
    const probe = JSON.parse(readFileSync(values.probe, 'utf8')) as {
      events: object[];
      blocks: { seq: number; ciphertext: string }[];
    };
    const tried = [];
    for (const raw of probe.events) {
      const ev = client.getEventMapper()(raw as never);
      await client.decryptEventIfNeeded(ev);
      tried.push({
        eventId: ev.getId(),
        decrypted: !ev.isDecryptionFailure(),
        reason: ev.isDecryptionFailure() ? String(ev.decryptionFailureReason) : null,
        type: ev.getType(),
      });
    }
    out.events = tried;
    const blocks = [];
    for (const b of probe.blocks) {
      const ct = Buffer.from(b.ciphertext, 'base64');
      // Every key this device holds, not only the one its schedule would pick.
      const openedBy: number[] = [];
      let plaintext: string | null = null;
      for (const e of epochs) {
        const cipher = await createBlockCipher(epochFile(e));
        try {
          const pt = await cipher.decrypt(b.seq, new Uint8Array(ct));
          openedBy.push(e.index);
          plaintext = Buffer.from(pt).toString('base64');
        } catch {
          // AES-GCM refused it: not this key.
        }
      }
      blocks.push({ seq: b.seq, openedBy, plaintext, keysTried: epochs.length });
    }
    out.blocks = blocks;
  }
  process.stdout.write(JSON.stringify(out) + '\n');
} finally {
  await session.stop();
}
// The WebAssembly crypto and sdk timers can keep the loop alive after stopClient.
process.exit(0);
