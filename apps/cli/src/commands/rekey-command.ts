/**
 * `mxcast rekey --homeserver URL --room ROOM [--broadcast ID]`: asks the running capture of one
 * of this user's broadcasts to start a new key epoch (docs/matrix.md "Key epochs"). Works from
 * any device of the broadcaster's user: the request is an encrypted event in the room, related
 * to the announcement; the capture answers requests from its own user only, with rekey().
 */
import { CliError, parseCommandArgs, type Command } from '../command-kit.ts';
import { MATRIX_HELP, MATRIX_OPTIONS, openRoom } from './matrix-login.ts';

const help = `Usage: mxcast rekey --homeserver URL --room ROOM [--broadcast ID]
                    [--user @U:S --password-file F | --token-file F] [--state-dir DIR]

Start a new key epoch in a live broadcast of yours: from the epoch's first block on, only the
room's members at that moment hold the key. Sends a rekey request to the room (encrypted); the
capture, running on any of your devices, answers it. A member leaving or kicked starts an
epoch by itself; this is for the other times (a device you no longer trust, a link shared).

  --broadcast ID   the broadcast (default: your newest live one in the room)

${MATRIX_HELP}
Exit status: 0 request sent; 2 bad arguments; 5 login failed, or no live broadcast of yours.`;

export const rekeyCommand: Command = {
  name: 'rekey',
  summary: 'Start a new key epoch in your live broadcast in a Matrix room',
  help,
  async run(argv) {
    const { values } = parseCommandArgs(argv, {
      ...MATRIX_OPTIONS,
      broadcast: { type: 'string' },
    });
    if (!values.homeserver) throw new CliError('--homeserver URL is required');
    const opened = await openRoom(values, 'rekey');
    try {
      const { matrix, session, roomId } = opened;
      const listed = await matrix.listBroadcasts(session, roomId);
      const mine = listed.filter((b) => b.broadcaster === session.userId && b.live);
      const b = values.broadcast ? mine.find((x) => x.broadcastId === values.broadcast) : mine[0];
      if (!b) {
        throw new CliError(
          values.broadcast
            ? `no live broadcast ${values.broadcast} of ${session.userId} in ${roomId}`
            : `no live broadcast of ${session.userId} in ${roomId} (${listed.length} listed: ${listed.map((x) => `${x.broadcastId} ${x.state} by ${x.broadcaster}`).join(', ') || 'none'})`,
          5,
        );
      }
      const eventId = await matrix.sendRekeyRequest(session, {
        roomId,
        announcementEventId: b.announcementEventId,
        broadcastId: b.broadcastId,
      });
      process.stdout.write(`rekey requested for ${b.broadcastId} (${eventId})\n`);
      return 0;
    } finally {
      await opened.session.stop();
      // The WebAssembly crypto and the sdk's timers can keep the loop alive after stop.
      setTimeout(() => process.exit(process.exitCode ?? 0), 200).unref();
    }
  },
};
