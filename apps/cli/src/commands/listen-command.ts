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
  type DeclaredStreamGeometry,
} from '@mxcast/client';
import {
  Player,
  declaredGeometryOf,
  fetchIndex,
  parseMxcUri,
  parseTime,
  isPlayerError,
  type DeclaredGeometry,
  type PcmChunk,
  type PcmSink,
  type PlayFrom,
  type PlayerOutcome,
} from '@mxcast/player';
import { NodeWebSocket, RawPcmSink, WavFileSink } from '@mxcast/player/node';
import { CliError, parseCommandArgs, type Command } from '../command-kit.ts';
import { LISTEN_EXIT, listenExitCode } from './listen-exit.ts';

export { LISTEN_EXIT } from './listen-exit.ts';

const help = `Usage: mxcast listen LINK [options]
       mxcast listen MXC --info FILE --relay URL [options]

Plays, saves or pipes an encrypted broadcast, live or from any point in it. The key comes from
the link's #fragment or the --info file and never leaves this process.

  LINK                 a listen link: http(s)://<relay>/listen#mxc=…&k=…&iv=…[&g=…]
  MXC --info FILE      an mxc:// URI and a JSON file holding its EncryptedFile (or an event
                       content with a "file" key, whose org.matrix.msc4016.stream gives the geometry)
  --relay URL          the relay's base URL (required with MXC; overrides the link's origin)
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
  --quiet              no status lines

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
`;

interface Target {
  relayUrl: string;
  mxc: string;
  file: EncryptedFile;
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
        quiet: { type: 'boolean' },
      },
      true,
    );
    if (positionals.length !== 1)
      throw new CliError('give exactly one LINK or MXC (see mxcast listen --help)');
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
    const target = await resolveTarget(positionals[0] as string, values.info, values.relay);
    const token = values.token ?? process.env.MXCAST_TOKEN;

    const sink = makeSink(values.out);
    let start: PlayFrom;
    if (from !== undefined) start = { time: from };
    else if (values.live) start = { live: true };
    else {
      // Live broadcasts are joined live, finished ones played from the start.
      try {
        const index = await fetchIndex(
          {
            relayUrl: target.relayUrl,
            ...parseMxcUri(target.mxc),
            ...(token ? { accessToken: token } : {}),
          },
          fetch,
        );
        start = index.state === 'live' || index.state === 'pending' ? { live: true } : { time: 0 };
      } catch (err) {
        return report(outcomeOf(err), values.quiet ?? false);
      }
    }
    const player = new Player({
      relayUrl: target.relayUrl,
      mxc: target.mxc,
      file: target.file,
      ...(target.geometry ? { geometry: target.geometry } : {}),
      sink,
      transport,
      WebSocket: NodeWebSocket,
      pace: values.out === undefined,
      ...(duration !== undefined ? { duration } : {}),
      ...(token ? { accessToken: token } : {}),
    });
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
      return report(outcome, quiet, statusLine(player));
    } finally {
      over = true;
      clearInterval(timer);
      process.off('SIGINT', onSignal);
    }
  },
};

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
  relay: string | undefined,
): Promise<Target> {
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
    return { relayUrl: checkUrl(relay), mxc: arg, file, ...(geometry ? { geometry } : {}) };
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
    relayUrl: relay ? checkUrl(relay) : link.relayUrl,
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
      throw new CliError(
        `the audio player ${this.program} ${this.#gone ?? `stopped reading: ${(err as Error).message}`}`,
      );
    }
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
