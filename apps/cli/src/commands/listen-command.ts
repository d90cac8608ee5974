/**
 * `mxcast listen`: play, save or pipe a broadcast from a listen link (or an mxc URI and its
 * EncryptedFile), live or from any time, through @mxcast/player. The key stays in this process.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { parseEncryptedFile, type EncryptedFile } from '@mxcast/format';
import {
  geometryProblem,
  parseListenLink,
  STREAM_KEY,
  withAnswerTimeout,
  type DeclaredStreamGeometry,
} from '@mxcast/client';
import {
  DEFAULT_ANSWER_TIMEOUT_MS,
  Player,
  declaredGeometryOf,
  fetchIndex,
  parseMxcUri,
  parseTime,
  isPlayerError,
  PlayerError,
  type DeclaredGeometry,
  type EpochKeys,
  type PcmChunk,
  type PcmSink,
  type PlayFrom,
  type PlayerOutcome,
} from '@mxcast/player';
import { NodeWebSocket, RawPcmSink, WavFileSink } from '@mxcast/player/node';
import { CliError, parseCommandArgs, type Command } from '../command-kit.ts';
import { LISTEN_EXIT, listenExitCode } from './listen-exit.ts';
import { MATRIX_HELP, MATRIX_OPTIONS, openRoom, type OpenedRoom } from './matrix-login.ts';
import { SenderCheck, chooseBroadcast, listRoom, type RoomTarget } from './matrix-listen.ts';
import { roomEpochKeys } from './matrix-epoch-keys.ts';

export { LISTEN_EXIT } from './listen-exit.ts';

const help = `Usage: mxcast listen LINK [options]
       mxcast listen MXC --info FILE --relay URL [options]
       mxcast listen --homeserver URL --room ROOM [--list | --broadcast ID] [options]

Plays, saves or pipes an encrypted broadcast, live or from any point in it. The key comes from
the link's #fragment or the --info file and never leaves this process.

  LINK                 a listen link: http(s)://<relay>/listen#mxc=…&k=…&iv=…[&g=…]
  MXC --info FILE      an mxc:// URI and a JSON file holding its EncryptedFile (or an event
                       content with a "file" key, whose org.matrix.msc4016.stream gives the geometry)
  --relay URL          the relay's base URL (required with MXC; overrides the link's origin);
                       URL,URL,… names the nodes of one relay cluster: each reconnect goes
                       to the next (docs/operations.md "Cluster")
  --from TIME          start TIME into the broadcast: seconds (90, 12.5) or h:mm:ss
  --live               start at the live edge (the default while the broadcast is live;
                       a finished one plays from the start)
  --duration SECONDS   stop after this much audio
  --out FILE.wav       write a WAV file (48 kHz, 16-bit)
  --out -              write raw PCM (s16le, 48 kHz, the stream's channels) to stdout, e.g.
                       mxcast listen LINK --out - | aplay -f S16_LE -r 48000 -c 1
                       (without --out: plays through aplay or paplay if installed)
  --transport http|ws  HTTP download with Range (default) or the relay's WebSocket
  --token TOKEN        access token, if the relay requires one for downloads
  --timeout SECONDS    a relay that sends no answer this long (index or download headers,
                       WebSocket's first message; never a download's body) counts as a
                       dead node: the next --relay URL is tried (default 10)
  --quiet              no status lines

${MATRIX_HELP}  --list                 print the room's broadcasts, one per line, newest first (tab-separated:
                         id, state, start, duration, broadcaster, title) and exit
  --broadcast ID         the broadcast to play (default: the newest live one, else the newest)
  With --homeserver the key comes from the room's Megolm-encrypted announcement, --relay
  defaults to the homeserver URL and the Matrix access token is the download token (unless
  --token or MXCAST_TOKEN gives a relay token: a relay not in --homeserver mode). While it
  plays, every block is checked against the broadcaster's checkpoints as they arrive in the
  room (a mismatch stops it at once: TAMPERED, exit 4); at the end, against its completion or
  cancel, and the last line says "broadcast: finished", "cancelled", "cut" or "interrupted".

Status lines go to stderr: state, position, delay behind live, resyncs, reconnects.

Exit status:
  0  finished (the broadcast's last page carried EOS), or --duration reached
  1  other error
  2  bad arguments
  3  ended without finishing (the stream stopped with no EOS page: cut, cancelled or truncated)
  4  authentication failure: wrong key, or tampered stream (bad tag, seq out of order, broken framing)
  5  not found, refused (token or permission), limited (429/413) or another relay error
  6  network: the relay could not be reached (after reconnect attempts)
  7  output closed: the reader of --out - left (e.g. | head), or the audio player quit
  8  no access: removed from the room, or no key for the broadcast's next key epoch
`;

interface Target {
  relayUrl: string;
  /** `--relay URL,URL,…`: the other nodes of a relay cluster, for reconnects. */
  fallbackRelayUrls?: string[];
  mxc: string;
  file: EncryptedFile;
  /** Key epochs that grow while playing (a room's epoch events); else `file` alone. */
  keys?: EpochKeys;
  geometry?: DeclaredGeometry;
}

export const listenCommand: Command = {
  name: 'listen',
  summary: 'Play, save or pipe a broadcast: live, or from any time in it',
  help,
  async run(argv) {
    const { values, positionals } = parseCommandArgs(
      argv,
      {
        info: { type: 'string' },
        relay: { type: 'string' },
        from: { type: 'string' },
        live: { type: 'boolean' },
        duration: { type: 'string' },
        out: { type: 'string' },
        transport: { type: 'string' },
        token: { type: 'string' },
        timeout: { type: 'string' },
        quiet: { type: 'boolean' },
        ...MATRIX_OPTIONS,
        list: { type: 'boolean' },
        broadcast: { type: 'string' },
      },
      true,
    );
    if (values.homeserver !== undefined) return listenInRoom(values, positionals);
    if (values.room || values.list || values.broadcast)
      throw new CliError('--room, --list and --broadcast go with --homeserver');
    if (positionals.length !== 1)
      throw new CliError('give exactly one LINK or MXC (see mxcast listen --help)');
    const target = await resolveTarget(positionals[0] as string, values.info, values.relay);
    const token = values.token ?? process.env.MXCAST_TOKEN;
    return play(values, target, token);
  },
};

type ListenValues = Partial<
  Record<'from' | 'duration' | 'out' | 'transport' | 'token' | 'timeout', string>
> &
  Partial<Record<'live' | 'quiet', boolean>>;

/** The listen path itself: a target (link, mxc + info, or a room's broadcast) through the player. */
async function play(
  values: ListenValues,
  target: Target,
  token: string | undefined,
  onOutcome?: (outcome: PlayerOutcome) => Promise<number | undefined>,
  onPlayer?: (player: Player) => void,
): Promise<number> {
  if (values.from !== undefined && values.live)
    throw new CliError('--from and --live exclude each other');
  const transport = values.transport ?? 'http';
  if (transport !== 'http' && transport !== 'ws')
    throw new CliError(`--transport must be http or ws, not '${transport}'`);
  const from = values.from !== undefined ? parseArgTime(values.from) : undefined;
  let duration: number | undefined;
  if (values.duration !== undefined) {
    duration = Number(values.duration);
    if (!(duration > 0))
      throw new CliError(
        `--duration must be a positive number of seconds, not '${values.duration}'`,
      );
  }
  let answerTimeoutMs = DEFAULT_ANSWER_TIMEOUT_MS;
  if (values.timeout !== undefined) {
    answerTimeoutMs = Number(values.timeout) * 1000;
    if (!(answerTimeoutMs > 0))
      throw new CliError(`--timeout must be a positive number of seconds, not '${values.timeout}'`);
  }
  const sink = makeSink(values.out);
  let start: PlayFrom;
  if (from !== undefined) start = { time: from };
  else if (values.live) start = { live: true };
  else {
    // Live broadcasts are joined live, finished ones played from the start.
    try {
      const answered = await firstAnswer(target, token, answerTimeoutMs);
      if (answered.target.relayUrl !== target.relayUrl && !values.quiet)
        process.stderr.write(
          `listen: ${answered.skipped}; playing from ${answered.target.relayUrl}\n`,
        );
      target = answered.target;
      const state = answered.index.state;
      start = state === 'live' || state === 'pending' ? { live: true } : { time: 0 };
    } catch (err) {
      const outcome = outcomeOf(err);
      return (await onOutcome?.(outcome)) ?? report(outcome, values.quiet ?? false);
    }
  }
  const player = new Player({
    relayUrl: target.relayUrl,
    ...(target.fallbackRelayUrls ? { fallbackRelayUrls: target.fallbackRelayUrls } : {}),
    mxc: target.mxc,
    file: target.file,
    ...(target.keys ? { keys: target.keys } : {}),
    ...(target.geometry ? { geometry: target.geometry } : {}),
    sink,
    transport,
    WebSocket: NodeWebSocket,
    pace: values.out === undefined,
    ...(duration !== undefined ? { duration } : {}),
    ...(token ? { accessToken: token } : {}),
    answerTimeoutMs,
  });
  onPlayer?.(player);
  const quiet = values.quiet ?? false;
  const line = (text: string) => {
    if (!quiet) process.stderr.write(`listen: ${text}\n`);
  };
  player.on('state', () => line(statusLine(player)));
  // The relay flagged the broadcast (docs/protocol.md "Interrupted broadcasts"): said at once.
  player.on('interrupted', ({ interrupted }) =>
    line(interrupted ? 'interrupted: the broadcaster went silent' : 'resumed: blocks again'),
  );
  player.on('reconnecting', (r) =>
    line(
      `reconnecting (attempt ${r.attempt}) from block ${r.fromSeq} at byte ${r.offset}: ${r.reason}`,
    ),
  );
  player.on('error', (e) => {
    if (!e.fatal) line(`${e.code}: ${e.message}`);
  });
  // Over HTTP a player started at a time learns the live edge only from the relay's index:
  // ask it before each periodic line, or behind-live would read ~0 s however far behind.
  // A failed refresh keeps the last known edge (the line is still printed).
  let over = false;
  const timer = setInterval(() => {
    if (quiet) return;
    void player
      .refreshLiveEdge()
      .catch(() => {})
      .then(() => !over && line(statusLine(player)));
  }, 2000);
  const onSignal = () => player.stop();
  process.once('SIGINT', onSignal);
  try {
    const outcome = await player.play(start);
    over = true;
    clearInterval(timer);
    return (await onOutcome?.(outcome)) ?? report(outcome, quiet, statusLine(player));
  } finally {
    over = true;
    clearInterval(timer);
    process.off('SIGINT', onSignal);
  }
}

/** `--homeserver --room`: list, or play one broadcast and check it against its sender. */
async function listenInRoom(
  values: ListenValues & Parameters<typeof openRoom>[0] & { list?: boolean; broadcast?: string },
  positionals: string[],
): Promise<number> {
  if (positionals.length > 0)
    throw new CliError('--homeserver takes no LINK or MXC: the room gives the broadcast');
  if (values.list && values.broadcast)
    throw new CliError('--list and --broadcast exclude each other');
  const relay = checkUrl(
    ((values as { relay?: string }).relay ?? values.homeserver ?? '').replace(/\/+$/, ''),
  );
  const opened: OpenedRoom = await openRoom(values, 'listen');
  try {
    if (values.list) {
      const lines = await listRoom(opened);
      process.stdout.write(lines.map((l) => l + '\n').join(''));
      return LISTEN_EXIT.finished;
    }
    // The Matrix access token, unless a relay token is given (a relay not in --homeserver mode).
    const token =
      values.token ??
      process.env.MXCAST_TOKEN ??
      opened.session.client.getAccessToken() ??
      undefined;
    if (!token) throw new CliError('the Matrix session has no access token');
    const room: RoomTarget = await chooseBroadcast(opened, values.broadcast, 30_000);
    const quiet = values.quiet ?? false;
    if (!quiet) {
      const b = room.listing;
      process.stderr.write(
        `listen: ${b.broadcastId} "${b.title ?? ''}" by ${b.broadcaster} (${b.state})\n`,
      );
    }
    // The key epochs from the room, growing while it plays (docs/matrix.md "Key epochs").
    const { keys, feed } = await roomEpochKeys(opened, room, (text) => {
      if (!quiet) process.stderr.write(`listen: ${text}\n`);
    });
    const target: Target = {
      relayUrl: relay,
      mxc: room.mxc,
      file: room.file,
      keys,
      geometry: declaredGeometryOf(room.geometry),
    };
    const check = new SenderCheck(opened, room, relay, token);
    const onOutcome = async (outcome: PlayerOutcome) => {
      const verdict = await check.finish();
      if (verdict.outcome === 'TAMPERED') {
        process.stderr.write(`mxcast listen: TAMPERED: ${verdict.message}\n`);
        process.stderr.write('broadcast: TAMPERED\n');
        return listenExitCode('TAMPERED');
      }
      process.stderr.write(
        `listen: checked against the sender: ${verdict.blocks} blocks, ${verdict.verified} checkpoints verified, ${verdict.unverifiable} unverifiable\n`,
      );
      const code = report(outcome, quiet);
      process.stderr.write(`broadcast: ${verdict.outcome}\n`);
      // The player's own status, unless the sender's claims say it did not finish.
      if (verdict.outcome !== 'finished' && code === LISTEN_EXIT.finished)
        return LISTEN_EXIT.endedWithoutFinishing;
      // A cancelled broadcast is gone from the relay (404): that is the cancel, not an error.
      if (verdict.outcome === 'cancelled') return LISTEN_EXIT.endedWithoutFinishing;
      return code;
    };
    return await play(values, target, token, onOutcome, (player) => check.attach(player)).finally(
      () => feed.stop(),
    );
  } finally {
    await opened.session.stop();
    // The WebAssembly crypto and the sdk's timers can keep the loop alive after stop.
    setTimeout(() => process.exit(process.exitCode ?? 0), 200).unref();
  }
}

function parseArgTime(text: string): number {
  try {
    return parseTime(text);
  } catch (err) {
    throw new CliError(`--from: ${(err as Error).message}`);
  }
}

async function resolveTarget(
  arg: string,
  info: string | undefined,
  relayText: string | undefined,
): Promise<Target> {
  // `--relay URL,URL,…` names the nodes of one relay cluster (docs/operations.md "Cluster").
  const [relay, ...others] = relayText?.split(',').map((u) => checkUrl(u.trim())) ?? [];
  const fallback = others.length > 0 ? { fallbackRelayUrls: others } : {};
  if (arg.startsWith('mxc://')) {
    if (!info)
      throw new CliError('an mxc URI needs --info FILE (the EncryptedFile JSON or event content)');
    if (!relay) throw new CliError('an mxc URI needs --relay URL');
    let json: unknown;
    try {
      json = JSON.parse(await readFile(info, 'utf8'));
    } catch (err) {
      throw new CliError(`--info ${info}: ${(err as Error).message}`);
    }
    let file: EncryptedFile;
    try {
      file = parseEncryptedFile(json);
    } catch (err) {
      throw new CliError(`--info ${info}: ${(err as Error).message}`);
    }
    try {
      parseMxcUri(arg);
    } catch (err) {
      throw new CliError((err as Error).message);
    }
    // An event content's stream info (docs/listen-link.md), checked by the protocol's validator.
    const stream = (json as Record<string, unknown>)[STREAM_KEY];
    let geometry: DeclaredGeometry | undefined;
    if (stream !== undefined) {
      const problem = geometryProblem(stream, { complete: false });
      if (problem) throw new CliError(`--info ${info}: ${STREAM_KEY}: ${problem}`);
      geometry = declaredGeometryOf(stream as DeclaredStreamGeometry);
    }
    return { relayUrl: relay, ...fallback, mxc: arg, file, ...(geometry ? { geometry } : {}) };
  }
  if (info) throw new CliError('--info goes with an mxc URI, not a listen link');
  let link;
  try {
    // Its key and iv pass parseEncryptedFile, or it throws "bad listen link: …" (exit 2).
    link = parseListenLink(arg);
  } catch (err) {
    throw new CliError((err as Error).message);
  }
  return {
    relayUrl: relay ?? link.relayUrl,
    ...fallback,
    mxc: link.mxc,
    file: link.file,
    ...(link.geometry ? { geometry: declaredGeometryOf(link.geometry) } : {}),
  };
}

function checkUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('not http(s)');
    return url;
  } catch {
    throw new CliError(`--relay '${url}' is not an http(s) URL`);
  }
}

function makeSink(out: string | undefined): PcmSink {
  if (out === '-') return new RawPcmSink(process.stdout);
  if (out !== undefined) {
    if (!/\.wav$/i.test(out)) throw new CliError(`--out takes FILE.wav or -, not '${out}'`);
    return new WavFileSink(out);
  }
  const player = findAudioPlayer();
  if (!player) {
    throw new CliError(
      'no audio player found (aplay or paplay); use --out FILE.wav to save, or --out - | <player> for raw s16le 48 kHz PCM',
    );
  }
  return new ProcessSink(player);
}

function findAudioPlayer(): 'aplay' | 'paplay' | undefined {
  for (const name of ['paplay', 'aplay'] as const) {
    if (spawnSync('which', [name], { stdio: 'ignore' }).status === 0) return name;
  }
  return undefined;
}

/** How long a failed write to the player waits for its exit, to name the exit code. */
const PLAYER_EXIT_WAIT_MS = 1000;

/**
 * Raw PCM into aplay/paplay, started on the first chunk (when the channel count is known). A
 * player that quits or cannot start (no sound device, closed by the user) ends the listen with
 * a one-line error instead of leaving it writing into a closed pipe.
 */
class ProcessSink implements PcmSink {
  #child: ChildProcess | undefined;
  #raw: RawPcmSink | undefined;
  #gone: string | undefined;
  constructor(readonly program: 'aplay' | 'paplay') {}

  async write(chunk: PcmChunk): Promise<void> {
    if (!this.#raw) {
      const ch = String(chunk.channels);
      const args =
        this.program === 'aplay'
          ? ['-q', '-t', 'raw', '-f', 'S16_LE', '-r', '48000', '-c', ch]
          : ['--raw', '--format=s16le', '--rate=48000', `--channels=${ch}`];
      const child = spawn(this.program, args, { stdio: ['pipe', 'ignore', 'inherit'] });
      child.once('error', (err) => (this.#gone ??= `could not start: ${err.message}`));
      child.once('exit', (code, signal) => (this.#gone ??= `exited (${signal ?? `code ${code}`})`));
      // EPIPE once the player is gone: reported through #gone, not as an unhandled error.
      child.stdin?.on('error', () => {});
      this.#child = child;
      this.#raw = new RawPcmSink(child.stdin as NonNullable<ChildProcess['stdin']>, { end: true });
    }
    if (this.#gone) throw new CliError(`the audio player ${this.program} ${this.#gone}`);
    try {
      await this.#raw.write(chunk);
    } catch (err) {
      // A player that quit makes the write fail (EPIPE) before its 'exit' event arrives: wait a
      // moment for it, so the error names the exit code rather than the closed pipe.
      await this.#exited(PLAYER_EXIT_WAIT_MS);
      throw new CliError(
        `the audio player ${this.program} ${this.#gone ?? `stopped reading: ${(err as Error).message}`}`,
      );
    }
  }

  /** Resolves once the player has exited, or after `ms` (a player that closed its input only). */
  #exited(ms: number): Promise<void> {
    const child = this.#child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      child.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  async close(): Promise<void> {
    if (this.#gone) return; // nothing to flush into a player that is gone
    await this.#raw?.close();
    const child = this.#child;
    if (child && child.exitCode === null && child.signalCode === null && !this.#gone)
      await new Promise((resolve) => child.once('exit', resolve));
  }
}

function statusLine(player: Player): string {
  const s = player.status();
  const delay = s.delayBehindLive === null ? '-' : `${s.delayBehindLive.toFixed(2)}s`;
  // "interrupted" replaces the state word while the relay says the upload is silent.
  const state = s.interrupted ? 'interrupted' : s.state;
  return `${state} position=${formatTime(s.position)} behind-live=${delay} resyncs=${s.resyncs} reconnects=${s.reconnects}`;
}

function formatTime(seconds: number): string {
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = (seconds % 60).toFixed(2).padStart(5, '0');
  return `${h}:${String(m).padStart(2, '0')}:${s}`;
}

/**
 * The media's index from the first node of `--relay URL,URL,…` that answers within the timeout
 * (docs/operations.md "Failover"), and the target reordered to start there: a dead or hung
 * first node costs one timeout, not the listen. An answer that is an error (404, 403 …) is the
 * cluster's answer and is not asked again elsewhere; every node silent or unreachable is one
 * NETWORK error naming them all (exit 6).
 */
async function firstAnswer(
  target: Target,
  token: string | undefined,
  timeoutMs: number,
): Promise<{ target: Target; index: Awaited<ReturnType<typeof fetchIndex>>; skipped: string }> {
  const all = [target.relayUrl, ...(target.fallbackRelayUrls ?? [])];
  const timed = withAnswerTimeout(fetch, timeoutMs);
  const failures: PlayerError[] = [];
  for (const [i, relayUrl] of all.entries()) {
    try {
      const loc = {
        relayUrl,
        ...parseMxcUri(target.mxc),
        ...(token ? { accessToken: token } : {}),
      };
      const index = await fetchIndex(loc, timed);
      // The rotation order stays: the nodes after this one, then those before it.
      const others = [...all.slice(i + 1), ...all.slice(0, i)];
      const { fallbackRelayUrls: _, ...rest } = target;
      const reordered = {
        ...rest,
        relayUrl,
        ...(others.length ? { fallbackRelayUrls: others } : {}),
      };
      return { target: reordered, index, skipped: failures.map((e) => e.message).join('; ') };
    } catch (err) {
      // Unreachable, hung or 5xx (not fatal: a retry may cure it): the next node may answer.
      if (!isPlayerError(err) || err.fatal || all.length === 1) throw err;
      failures.push(err);
    }
  }
  const last = failures.at(-1) as PlayerError;
  const why = failures.map((e) => e.message).join('; ');
  throw new PlayerError(last.code, `no relay answered: ${why}`, { fatal: true, cause: last });
}

function outcomeOf(err: unknown): PlayerOutcome {
  if (isPlayerError(err)) return { state: 'error', error: err };
  throw err;
}

function report(outcome: PlayerOutcome, quiet: boolean, last?: string): number {
  if (outcome.state === 'error') {
    const e = outcome.error;
    process.stderr.write(`mxcast listen: ${e?.code ?? 'ERROR'}: ${e?.message ?? 'failed'}\n`);
    return listenExitCode(e?.code);
  }
  if (!quiet && last) process.stderr.write(`listen: ${last}\n`);
  if (outcome.state === 'ended-without-finishing') {
    process.stderr.write('mxcast listen: the stream ended without finishing (no EOS page)\n');
    return LISTEN_EXIT.endedWithoutFinishing;
  }
  return LISTEN_EXIT.finished;
}
