/**
 * `mxcast capture`: broadcast live from a microphone, stdin, a WAV file or a test signal, as CBR
 * Opus in encrypted blocks streamed to a relay (apps/capture). A thin shell: arguments, signals,
 * stdout/stderr; the pipeline lives in @mxcast/capture.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import {
  CaptureError,
  CaptureSession,
  CAPTURE_PRESETS,
  DEFAULT_PRESET,
  EXIT_CODES,
  StatusLine,
  createOpusEncoder,
  formatSummary,
  openCaptureSource,
  readResumeState,
  writeResumeState,
  type ResumeState,
} from '@mxcast/capture';
import type { ResumableBroadcast, ResumeBackup, RoomCapture } from '@mxcast/matrix';
import { CliError, parseCommandArgs, type Command } from '../command-kit.ts';
import { parseRelayList } from '../relay-list.ts';
import { MATRIX_HELP, MATRIX_OPTIONS, openRoom, type OpenedRoom } from './matrix-login.ts';

const help = `Usage: mxcast capture --relay URL --token TOKEN [options]
       mxcast capture --homeserver URL --room ROOM [--user @U:S --password-file F | --token-file F]
                      [--relay URL] [--checkpoint-every SECONDS] [options]

Captures audio, encodes it as constant-bitrate Opus, one Ogg page per AES-256-GCM block
(MSC4016), and streams it to the relay while it is recorded. Prints the listen link on stdout
as soon as the relay has accepted the first block. The key never leaves this machine except in
the link and the --event-out file.

  --relay URL            the relay's base URL (http://127.0.0.1:8008); URL,URL,… names the nodes
                         of one relay cluster: the upload moves on to the next when one stops
                         answering (docs/operations.md "Cluster")
  --token TOKEN          access token (mxcast token create …); or MXCAST_TOKEN in the environment
  --preset NAME          ${Object.keys(CAPTURE_PRESETS).join(' | ')} (default ${DEFAULT_PRESET})
  --input SOURCE         mic (arecord or sox), - (raw s16le on stdin), FILE.wav,
                         sine[:HZ], sweep[:F1-F2[:SECS]], timecode, silence, noise, voice
                         (default mic)
  --rate HZ              sample rate of raw stdin input (default 48000)
  --channels N           channels of stdin, mic and signals: 1 or 2 (default 1)
  --duration SECONDS     stop after this much audio
  --realtime             pace the input to the wall clock (default for mic and stdin)
  --fast                 never pace: encode as fast as possible (default for files and signals)
  --title TEXT           the broadcast's title (OpusTags TITLE, event body)
  --event-out FILE       write the m.audio event content (with the key) to FILE, mode 0600
  --state FILE           keep resume state (key, iv, next seq, offset, geometry) in FILE, mode 0600
  --resume FILE          continue the broadcast saved in FILE with its next block (and keep
                         its state there, unless --state names another file)
  --passphrase-file FILE encrypt/decrypt the state file with the passphrase in FILE (MSC3270-style)
  --max-outage SECONDS   give up when the relay stays unreachable this long (default 120)
  --timeout SECONDS      a relay request (create, tus, index) or WebSocket open with no answer
                         this long counts as a dead node: the next --relay URL is tried
                         (default 10)
  --rekey-every DURATION start a new key epoch every DURATION of audio (10s, 5m, 1h; off by
                         default): each epoch's key is announced ahead and switches at a block
                         boundary (docs/format.md "Key epochs")
  --quiet                no status lines (the link and errors still print)

${MATRIX_HELP}  --checkpoint-every S   seconds between the sender's signed checkpoints in the room (default 30)
  --recovery-passphrase-file FILE
                         the account's recovery passphrase (or MXCAST_RECOVERY_PASSPHRASE): the
                         resume state goes to the account data, encrypted under the secret
                         storage key (created from it on first use, with a key backup), at each
                         checkpoint and before each key epoch is announced (docs/matrix.md
                         "Resume from any device")
  --resume               (no FILE, with --homeserver and the recovery passphrase) continue this
                         user's interrupted broadcast in the room from its stored state, on any
                         device: a fresh --state-dir will do
  --history shared|joined  what a member who joins mid-broadcast may decrypt: every earlier key
                         epoch (shared) or only from their join on (joined: a join starts an
                         epoch); default from the room's history visibility (docs/matrix.md
                         "Key epochs"). A member leaving or kicked always starts an epoch.
  With --homeserver the broadcast is announced in the room (the key goes out Megolm-encrypted
  to the room's devices), paused and resumed there on network loss, and ended with a completion
  (finished) or a cancel event. --relay defaults to the homeserver URL (the relay's paths behind
  the homeserver's nginx) and the Matrix access token is the upload token (relay in --homeserver
  mode), unless --token or MXCAST_TOKEN gives a relay token (a relay with its own tokens).

Ctrl-C or SIGTERM finishes cleanly (last page with EOS, upload completed, summary);
a second Ctrl-C cancels (the relay drops the broadcast; listeners see it end without finishing).

Exit status:
  0    finished
  1    other error
  ${EXIT_CODES.BAD_INPUT}    bad arguments or input
  ${EXIT_CODES.NETWORK}    relay unreachable
  ${EXIT_CODES.REFUSED}    token or operation refused (401/403)
  ${EXIT_CODES.LIMITED}    relay full or a limit reached (413/429)
  ${EXIT_CODES.RELAY_ERROR}    relay error (bad block, lost data)
  ${EXIT_CODES.BAD_STATE}    bad or unreadable state file, wrong passphrase
  ${EXIT_CODES.CANCELLED}  cancelled (second Ctrl-C)
`;

function positiveNumber(name: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isFinite(n) || n <= 0)
    throw new CliError(`${name} must be a positive number, got '${text}'`);
  return n;
}

/** SECONDS, or a number with a unit: 10s, 2.5m, 1h. */
function positiveDuration(name: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const m = /^\s*(\d+(?:\.\d+)?)\s*(s|m|h)?\s*$/.exec(text);
  const unit = { s: 1, m: 60, h: 3600 }[(m?.[2] ?? 's') as 's' | 'm' | 'h'];
  const n = m ? Number(m[1]) * unit : NaN;
  if (!Number.isFinite(n) || n <= 0)
    throw new CliError(`${name} must be a positive duration (10s, 5m, 1h), got '${text}'`);
  return n;
}

async function stopMatrix(opened: OpenedRoom): Promise<void> {
  await opened.session.stop();
  // The WebAssembly crypto and the sdk's timers can keep the loop alive after stop.
  setTimeout(() => process.exit(process.exitCode ?? 0), 200).unref();
}

export const captureCommand: Command = {
  name: 'capture',
  summary: 'Broadcast live: capture, encode CBR Opus, encrypt and stream to a relay',
  help,
  async run(argvGiven) {
    // A bare `--resume` (followed by another option or nothing) resumes from the room.
    const argv = argvGiven.map((a, i) =>
      a === '--resume' && (argvGiven[i + 1] === undefined || argvGiven[i + 1]?.startsWith('--'))
        ? '--resume-room'
        : a,
    );
    const { values } = parseCommandArgs(argv, {
      relay: { type: 'string' },
      token: { type: 'string' },
      preset: { type: 'string' },
      input: { type: 'string' },
      rate: { type: 'string' },
      channels: { type: 'string' },
      duration: { type: 'string' },
      realtime: { type: 'boolean' },
      fast: { type: 'boolean' },
      title: { type: 'string' },
      'event-out': { type: 'string' },
      state: { type: 'string' },
      resume: { type: 'string' },
      'passphrase-file': { type: 'string' },
      'max-outage': { type: 'string' },
      timeout: { type: 'string' },
      'rekey-every': { type: 'string' },
      quiet: { type: 'boolean' },
      ...MATRIX_OPTIONS,
      'checkpoint-every': { type: 'string' },
      history: { type: 'string' },
      'recovery-passphrase-file': { type: 'string' },
      'resume-room': { type: 'boolean' },
    });
    const matrixMode = values.homeserver !== undefined;
    if (!matrixMode && (values.room || values['checkpoint-every']))
      throw new CliError('--room and --checkpoint-every go with --homeserver');
    const checkpointEvery = positiveNumber('--checkpoint-every', values['checkpoint-every']);
    const history = values.history;
    if (history !== undefined && history !== 'shared' && history !== 'joined')
      throw new CliError(`--history must be shared or joined, got '${history}'`);
    if (history !== undefined && !matrixMode)
      throw new CliError('--history goes with --homeserver');
    const relayText = values.relay ?? values.homeserver;
    if (!relayText) throw new CliError('--relay URL is required');
    const [relay, ...fallbackRelays] = parseRelayList('--relay', relayText);
    // With --homeserver the Matrix access token is the upload token, unless a relay token is
    // given (a relay with its own tokens, not in --homeserver mode: scripts/matrix-stack.sh's).
    let token = values.token ?? process.env.MXCAST_TOKEN;
    if (!matrixMode && !token) throw new CliError('--token TOKEN is required (or MXCAST_TOKEN)');
    const preset = values.preset ?? DEFAULT_PRESET;
    if (!CAPTURE_PRESETS[preset]) {
      throw new CliError(
        `unknown preset '${preset}' (have: ${Object.keys(CAPTURE_PRESETS).join(', ')})`,
      );
    }
    if (values.realtime && values.fast)
      throw new CliError('--realtime and --fast exclude each other');
    if (values.resume && values.preset)
      throw new CliError('--resume takes the preset from the state file; drop --preset');
    const duration = positiveNumber('--duration', values.duration);
    const maxOutage = positiveNumber('--max-outage', values['max-outage']);
    const timeout = positiveNumber('--timeout', values.timeout);
    const rekeyEvery = positiveDuration('--rekey-every', values['rekey-every']);
    const rate = positiveNumber('--rate', values.rate);
    const channelsText = values.channels ?? '1';
    if (channelsText !== '1' && channelsText !== '2') {
      throw new CliError(`--channels must be 1 or 2, got '${channelsText}'`);
    }
    let passphrase: string | undefined;
    if (values['passphrase-file']) {
      try {
        passphrase = (await readFile(values['passphrase-file'], 'utf8')).replace(/\r?\n$/, '');
      } catch (err) {
        throw new CliError(`cannot read --passphrase-file: ${(err as NodeJS.ErrnoException).code}`);
      }
      if (!passphrase) throw new CliError('--passphrase-file is empty');
    }

    let recovery: string | undefined = process.env.MXCAST_RECOVERY_PASSPHRASE || undefined;
    if (values['recovery-passphrase-file']) {
      try {
        recovery = (await readFile(values['recovery-passphrase-file'], 'utf8')).replace(
          /\r?\n$/,
          '',
        );
      } catch (err) {
        throw new CliError(
          `cannot read --recovery-passphrase-file: ${(err as NodeJS.ErrnoException).code}`,
        );
      }
      if (!recovery) throw new CliError('--recovery-passphrase-file is empty');
    }
    const resumeRoom = values['resume-room'] === true;
    if (resumeRoom && (!matrixMode || !recovery))
      throw new CliError(
        '--resume without FILE needs --homeserver, --room and the recovery passphrase (--recovery-passphrase-file or MXCAST_RECOVERY_PASSPHRASE)',
      );
    if (recovery && !matrixMode)
      throw new CliError('the recovery passphrase goes with --homeserver');

    // Matrix: logged in before the source opens, so a bad password costs no recording or upload.
    let opened: OpenedRoom | undefined;
    let backup: ResumeBackup | undefined;
    let resumable: ResumableBroadcast | null = null;
    let statePath = values.state ?? values.resume;
    if (matrixMode) {
      opened = await openRoom(values, 'capture');
      token ??= opened.session.client.getAccessToken() ?? undefined;
      if (!token) throw new CliError('the Matrix session has no access token');
      if (recovery) {
        const o = opened;
        try {
          // A wrong passphrase stops here, before anything is read or written.
          backup = await o.matrix.openResumeBackup(o.session, recovery, {
            bootstrap: !resumeRoom,
          });
          if (backup.bootstrapped)
            process.stderr.write('matrix: secret storage and key backup set up for this account\n');
          if (resumeRoom) {
            resumable = await o.matrix.findResumable(o.session, o.roomId, backup);
            if (!resumable)
              throw new CliError(
                `no interrupted broadcast of ${o.session.userId} with a stored state in ${o.roomId}`,
                EXIT_CODES.BAD_STATE,
              );
          }
        } catch (err) {
          await stopMatrix(o);
          if (err instanceof o.matrix.RecoveryError)
            throw new CliError(err.message, EXIT_CODES.BAD_STATE);
          throw err;
        }
        // The state is kept beside the device (0700 dir) and mirrored to the account data.
        statePath ??= path.join(o.stateDir, 'capture-state.json');
        if (resumable) {
          await writeResumeState(statePath, resumable.stored.resume, passphrase);
        }
      }
    }
    const resumePath = resumable ? statePath : values.resume;
    const source = await openCaptureSource(values.input ?? 'mic', {
      channels: Number(channelsText),
      ...(rate !== undefined ? { rate } : {}),
      stdin: process.stdin,
    }).catch(async (err) => {
      if (opened) await stopMatrix(opened);
      throw err instanceof CaptureError ? new CliError(err.message, err.exitCode) : err;
    });
    const realtime = values.fast ? false : (values.realtime ?? source.live);
    const status = values.quiet ? null : new StatusLine(process.stderr);
    const notice = (text: string) =>
      status ? status.message(text) : process.stderr.write(text + '\n');
    if (rekeyEvery !== undefined && !matrixMode) {
      // Without a room nothing carries the new epochs: the link holds epoch 0's key only.
      notice(
        `note: --rekey-every without --homeserver: the listen link opens only the first key epoch; ` +
          `the others are in the --state file`,
      );
    }

    const room = opened
      ? opened.matrix.roomCapture(opened.session, {
          roomId: opened.roomId,
          ...(resumable ? { resume: resumable.broadcast } : {}),
          ...(checkpointEvery !== undefined ? { checkpointEverySeconds: checkpointEvery } : {}),
          onNotice: notice,
        })
      : undefined;
    const epochs =
      opened && room
        ? opened.matrix.roomEpochs(opened.session, room, {
            ...(history !== undefined ? { history } : {}),
            ...(resumable ? { known: knownEpochs(resumable.stored.resume) } : {}),
            onNotice: notice,
          })
        : undefined;

    const session = new CaptureSession({
      relay,
      ...(fallbackRelays.length > 0 ? { fallbackRelays } : {}),
      token: token as string,
      preset,
      source,
      createEncoder: createOpusEncoder,
      title: values.title ?? `mxcast capture ${new Date().toISOString().slice(0, 16)}`,
      realtime,
      ...(duration !== undefined ? { duration } : {}),
      ...(values['event-out'] ? { eventOut: values['event-out'] } : {}),
      // A resumed capture keeps its state in the same file unless told otherwise.
      ...(statePath ? { statePath } : {}),
      ...(resumePath ? { resumePath } : {}),
      ...(passphrase ? { passphrase } : {}),
      ...(maxOutage !== undefined ? { maxOutageMs: maxOutage * 1000 } : {}),
      ...(timeout !== undefined ? { timeoutMs: timeout * 1000 } : {}),
      ...(rekeyEvery !== undefined ? { rekeyEvery } : {}),
      onLink: (link) => {
        status?.message('listening at:');
        process.stdout.write(link + '\n');
      },
      onStatus: (stats) => status?.update(stats),
      onNotice: notice,
      ...(room
        ? {
            // Epoch 0 only for OpusHead/OpusTags, so a `joined` newcomer can be given the
            // headers without the past (docs/format.md "Key epochs", header epoch).
            headerEpoch: true,
            onCreated: async (info) => {
              await room.onCreated(info);
              epochs?.start();
              mirror?.start();
            },
            onEpoch: async (epoch) => {
              // Stored before announced: a device resuming after a crash knows every epoch a
              // listener may have been told about (docs/matrix.md "Resume from any device").
              await mirror?.now();
              // (With key backup on, the event's new Megolm session is in the backup before
              // the event is sent: @mxcast/matrix key-backup-upload.ts.)
              await (epochs as NonNullable<typeof epochs>).onEpoch(epoch);
            },
            onWrite: (seq, bytes) => room.onWrite(seq, bytes),
            onConnection: (state) => room.onConnection(state),
          }
        : {}),
    });

    const mirror =
      backup && room && statePath
        ? stateMirror(backup, room, statePath, passphrase, (checkpointEvery ?? 30) * 1000, notice)
        : undefined;

    // The room's reasons for a new key epoch (a leave or kick, `mxcast rekey`) call rekey().
    epochs?.setRekey(() => session.rekey());
    let interrupts = 0;
    let cancelSent = false;
    const onSigint = () => {
      interrupts++;
      if (interrupts === 1) {
        status?.message('finishing… (Ctrl-C again to cancel the broadcast)');
        session.stop();
      } else if (interrupts === 2) {
        status?.message('cancelling…');
        void session
          .cancel()
          .catch((err: Error) => process.stderr.write(`cancel: ${err.message}\n`));
      }
    };
    const onSigterm = () => session.stop();
    process.on('SIGINT', onSigint);
    process.on('SIGTERM', onSigterm);
    try {
      const result = await session.run();
      status?.done();
      if (room?.reporter && interrupts >= 2) {
        // The second Ctrl-C came while the finish was already under way and the relay completed
        // the upload anyway. The user asked for a cancel: the room is told so (no completion),
        // and listeners report "cancelled" (docs/matrix.md).
        await room.cancel();
        cancelSent = true;
        process.stderr.write(
          'matrix: cancel sent (the upload had already completed on the relay; the room has no completion)\n',
        );
        throw new CaptureError('CANCELLED', 'cancelled: the room was told to drop the broadcast');
      }
      if (room?.reporter) {
        const completion = await room.complete();
        process.stderr.write(`matrix: completion sent (${completion.blockCount} blocks)\n`);
      }
      await mirror?.clear();
      process.stderr.write(formatSummary(result.stats, 'finished') + '\n');
      return 0;
    } catch (err) {
      status?.done();
      const cancelled =
        interrupts >= 2 || (err instanceof CaptureError && err.code === 'CANCELLED');
      if (cancelled) await mirror?.clear().catch(() => {});
      else await mirror?.now().catch(() => {});
      if (room?.reporter && !cancelSent && cancelled) {
        // Only an explicit cancel tells the room so (listeners report "cancelled").
        await room
          .cancel()
          .then(() => process.stderr.write('matrix: cancel sent\n'))
          .catch((e: Error) => process.stderr.write(`matrix: cancel not sent: ${e.message}\n`));
      } else if (room?.reporter && !cancelSent) {
        // A failure is not a cancel: the broadcast is left paused, listeners report
        // "interrupted", and --resume can continue it (docs/matrix.md).
        await room
          .interrupt()
          .then(() =>
            process.stderr.write(
              'matrix: left interrupted (paused in the room; --resume continues it)\n',
            ),
          )
          .catch((e: Error) => process.stderr.write(`matrix: pause not sent: ${e.message}\n`));
      }
      if (err instanceof CaptureError) throw new CliError(err.message, err.exitCode);
      throw err;
    } finally {
      mirror?.stop();
      // The Megolm sessions of this run (announcement, epoch events) into the key backup
      // before the process ends (docs/matrix.md "Resume from any device").
      if (opened && backup)
        await opened.matrix
          .flushKeyBackup(opened.session)
          .catch((e: Error) => process.stderr.write(`matrix: key backup: ${e.message}\n`));
      process.off('SIGINT', onSigint);
      process.off('SIGTERM', onSigterm);
      if (opened) await stopMatrix(opened);
    }
  },
};

/** The epochs after the first, numbered as EpochAnnouncer numbers them (index = position). */
function knownEpochs(resume: ResumeState) {
  const list = resume.epochs ?? [];
  return list
    .slice(1)
    .map((e, i) => ({ index: i + 1, startSeq: e.startSeq, key: e.key, iv: e.iv }));
}

/**
 * Mirrors the capture's state file into the account data secret: every `everyMs` when it
 * changed (the checkpoint rhythm), at once before an epoch is announced and when the run ends;
 * emptied once the broadcast finished or was cancelled (nothing left to resume).
 */
function stateMirror(
  backup: ResumeBackup,
  room: RoomCapture,
  statePath: string,
  passphrase: string | undefined,
  everyMs: number,
  notice: (text: string) => void,
) {
  let last = '';
  let timer: NodeJS.Timeout | undefined;
  let chain: Promise<void> = Promise.resolve();
  const push = async (): Promise<void> => {
    const b = room.reporter?.broadcast;
    if (!b) return;
    const state = await readResumeState(statePath, passphrase);
    const key = `${state.nextSeq}/${state.epochs?.length ?? 1}`;
    if (key === last) return;
    await backup.store({
      roomId: b.roomId,
      broadcastId: b.broadcastId,
      announcementEventId: b.announcementEventId,
      startedTs: b.announcement.startedTs,
      resume: state,
    });
    last = key;
  };
  const now = (): Promise<void> => (chain = chain.catch(() => {}).then(push));
  return {
    start() {
      // The first store soon after the start (the state file exists once the first block is
      // made), then at the checkpoint rhythm.
      setTimeout(() => void now().catch(() => {}), 1500).unref();
      timer = setInterval(() => {
        now().catch((err: Error) => notice(`matrix: resume state not stored: ${err.message}`));
      }, everyMs);
      timer.unref();
    },
    now,
    async clear() {
      this.stop();
      const b = room.reporter?.broadcast;
      await chain.catch(() => {});
      if (b) await backup.clear(b.broadcastId);
    },
    stop() {
      clearInterval(timer);
    },
  };
}
