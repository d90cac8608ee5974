/**
 * A listener in its own process, for tests/matrix/matrix-broadcast.test.ts, standing in for
 * `mxcast listen --homeserver --room` until the CLI has it: opens a Matrix session (password
 * login, device kept in --state-dir), finds the broadcast in the room, waits for its key, reads
 * the broadcaster's checkpoints/completion/cancel, downloads the stream from --relay (the real
 * relay, or a proxy in front of it), authenticates every block with AES-GCM and feeds it to a
 * CheckpointVerifier. Prints one JSON line: the outcome (finished, cancelled, cut, interrupted)
 * or TAMPERED, and what was verified.
 *
 *   node --import tsx matrix-broadcast-cli.ts --homeserver URL --user U --password P
 *     --state-dir D --room ROOM_ID --relay URL [--broadcast ID] [--timeout MS]
 */
import { createHash } from 'node:crypto';
import { MediaClient } from '@mxcast/client';
import { BlockFramer, createBlockCipher } from '@mxcast/format';
import {
  CheckpointMismatch,
  CheckpointVerifier,
  fetchSenderClaims,
  listBroadcasts,
  waitForBroadcastKey,
} from '@mxcast/matrix';
import { openSessionFromArgs } from './matrix-session-args.ts';

const { session, values } = await openSessionFromArgs(
  'mxcast test listener',
  {
    room: { type: 'string' },
    relay: { type: 'string' },
    broadcast: { type: 'string' },
    timeout: { type: 'string', default: '60000' },
  },
  ['room', 'relay'],
);
const room = values.room!;
const relay = values.relay!;
const out: Record<string, unknown> = { deviceId: session.deviceId };
try {
  const listed = await listBroadcasts(session, room);
  out.listed = listed.map((b) => ({ id: b.broadcastId, state: b.state, title: b.title }));
  const chosen = values.broadcast
    ? listed.find((b) => b.broadcastId === values.broadcast)
    : listed.find((b) => b.live);
  if (!chosen) {
    // No broadcast (yet): the device now exists, and gets the key of the next one.
    out.outcome = 'NONE';
  } else {
    const ann = await waitForBroadcastKey(
      session,
      room,
      chosen.broadcastId,
      Number(values.timeout),
    );
    const client = new MediaClient({ baseUrl: relay });
    const mxc = ann.file.url as string;
    let index = await client.index(mxc).catch(() => null);
    let bytes = new Uint8Array(0);
    // A cancelled media is gone from the relay (404): nothing to download, only the claims.
    if (index && index.state !== 'cancelled') {
      // Live: the download follows the growing file until the relay ends it.
      bytes = new Uint8Array(await (await client.download(mxc)).arrayBuffer());
      index = await client.index(mxc).catch(() => index);
    }
    const relayState =
      index?.state === 'complete' || index?.state === 'cancelled' ? index.state : 'unknown';
    out.relayState = index?.state ?? 'gone';
    // The sender sends its completion just after the upload ends: give it a few seconds.
    let claims = await fetchSenderClaims(
      session,
      room,
      chosen.announcementEventId,
      chosen.broadcaster,
    );
    for (let i = 0; i < 30 && !claims.completion && !claims.cancel; i++) {
      await new Promise((r) => setTimeout(r, 500));
      claims = await fetchSenderClaims(
        session,
        room,
        chosen.announcementEventId,
        chosen.broadcaster,
      );
    }
    out.claims = {
      checkpoints: claims.checkpoints.length,
      completion: claims.completion?.blockCount ?? null,
      cancel: claims.cancel?.blockCount ?? null,
    };
    const verifier = new CheckpointVerifier();
    let blocks = 0;
    try {
      claims.checkpoints.forEach((c) => verifier.addCheckpoint(c));
      if (claims.completion) verifier.setCompletion(claims.completion);
      if (claims.cancel) verifier.setCancel(claims.cancel);
      const cipher = await createBlockCipher(ann.file);
      for (const b of new BlockFramer().push(bytes)) {
        // Authenticated first: only a block that passed AES-GCM reaches the verifier.
        await cipher.decrypt(b.seq, b.ciphertext, b.byteOrder);
        if (b.seq !== blocks) throw new Error(`seq ${b.seq} does not follow ${blocks - 1}`);
        verifier.onBlock(b.seq, b.ciphertext);
        blocks++;
      }
      out.outcome = verifier.outcome(relayState);
      // MSC4101 style: the whole file as stored against the sender's sha256 of what it wrote.
      if (claims.completion?.fileSha256 && bytes.length > 0) {
        const sha = createHash('sha256').update(bytes).digest('base64').replace(/=+$/, '');
        out.fileHashOk = sha === claims.completion.fileSha256;
      }
    } catch (err) {
      if (!(err instanceof CheckpointMismatch)) throw err;
      out.outcome = 'TAMPERED';
      out.error = err.message;
    }
    Object.assign(out, {
      blocks,
      verified: verifier.verified,
      unverifiable: verifier.unverifiable,
    });
  }
} catch (err) {
  out.outcome = 'ERROR';
  out.error = (err as Error).message;
} finally {
  await session.stop();
}
process.stdout.write(JSON.stringify(out) + '\n');
// The WebAssembly crypto and sdk timers can keep the loop alive after stopClient.
process.exit(0);
