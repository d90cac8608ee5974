/**
 * The listener of the go-live benchmark (bench/matrix-bench.ts): a Matrix client already syncing
 * the room, in its own process. Prints `ready` once synced; then, for the next broadcast that
 * goes live in the room, takes its keys from the room (the announcement, then the key epochs, as
 * `mxcast listen --homeserver --room` does), plays it live through the player (HTTP, unpaced) and
 * prints one JSON line, `{"firstAudioAt": <epoch ms>}`, when the first PCM
 * reaches its sink; then exits.
 *
 *   node --import tsx golive-listener.ts --homeserver URL --user U --password P --state-dir D
 *     --room ROOM_ID
 */
import * as matrix from '@mxcast/matrix';
import { waitForBroadcastKey, watchBroadcasts } from '@mxcast/matrix';
import { roomEpochKeys } from '../../apps/cli/src/commands/matrix-epoch-keys.ts';
import { CallbackSink, Player, declaredGeometryOf } from '@mxcast/player';
import { openSessionFromArgs } from './matrix-session-args.ts';

const { session, homeserver, stateDir, values } = await openSessionFromArgs(
  'mxcast go-live bench listener',
  { room: { type: 'string' } },
  ['room'],
);
const room = values.room!;
const token = session.client.getAccessToken() ?? '';
// Each line carries its wall-clock time, so the bench can place it against the capture's spawn.
const log = (text: string) => process.stderr.write(`golive ${Date.now()}: ${text}\n`);
let started = false;
const firstAudio = new Promise<number>((resolve, reject) => {
  watchBroadcasts(
    session,
    room,
    (b) => {
      if (started || b.state !== 'started') return;
      started = true;
      log(`broadcast ${b.broadcastId} started`);
      void (async () => {
        const ann = await waitForBroadcastKey(session, room, b.broadcastId, 30_000);
        log(`broadcast ${b.broadcastId}: announcement key`);
        // Every Matrix broadcast's audio is under key epochs (docs/matrix.md "Key epochs"): the
        // announcement's key opens only the header epoch (OpusHead, OpusTags). The key ring is
        // made exactly as `mxcast listen --homeserver --room` makes it.
        const opened = {
          matrix,
          session,
          roomId: room,
          homeserver,
          stateDir,
        };
        const target = {
          listing: b,
          mxc: ann.file.url as string,
          file: ann.file,
          geometry: ann.geometry,
        };
        const { keys } = await roomEpochKeys(opened, target, log);
        const player = new Player({
          relayUrl: homeserver,
          mxc: target.mxc,
          file: ann.file,
          keys,
          geometry: declaredGeometryOf(ann.geometry),
          accessToken: token,
          sink: new CallbackSink(() => {
            log('first PCM');
            resolve(Date.now());
            player.stop();
          }),
        });
        player.on('error', (e) => log(`player ${e.code}: ${e.message}`));
        player.on('state', ({ state }) => log(`player ${state}`));
        const outcome = await player.play({ live: true });
        // A play that ended before any PCM (a key it lacks, the relay refusing) is this round's
        // failure, said at once: waiting on would hang the bench.
        reject(new Error(`the player ended without audio: ${JSON.stringify(outcome)}`));
      })().catch(reject);
    },
    reject,
  );
});
process.stdout.write('ready\n');
const at = await firstAudio.catch((err: unknown) => {
  log((err as Error).message);
  process.exit(1);
});
process.stdout.write(JSON.stringify({ firstAudioAt: at }) + '\n');
await session.stop();
process.exit(0);
