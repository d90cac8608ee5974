/**
 * CaptureSession: one broadcast from source to relay. Creates the media (MSC2246) or picks up a
 * saved one (`--resume`), runs source → Opus CBR → Ogg page → encrypted block → upload, keeps the
 * resume state, reports progress, and ends cleanly (EOS, upload complete) on `stop()` or at the
 * end of input, or without EOS on `cancel()`.
 */
import {
  buildEventContent,
  buildListenLink,
  ClientError,
  MediaClient,
  type BroadcastEventContent,
  type StreamGeometry,
} from '@mxcast/client';
import {
  createScheduleCipher,
  epochFile,
  epochFromFile,
  generateEncryptedFile,
  KeySchedule,
  type EncryptedFile,
  type Epoch,
} from '@mxcast/format';
import { open } from 'node:fs/promises';
import { BlockPipeline, type FrameEncoder, type PipelineBlock } from './block-pipeline.ts';
import { CaptureError, captureErrorFrom } from './capture-error.ts';
import { EpochRekeyer, type EpochAnnouncement } from './epoch-rekeyer.ts';
import {
  audioBlockSize,
  CAPTURE_PRESETS,
  presetGeometry,
  type CapturePreset,
} from './capture-presets.ts';
import type { CaptureSource } from './capture-source.ts';
import type { CaptureStats } from './capture-status.ts';
import { RealtimePacer } from './realtime-pacer.ts';
import { readResumeState, writeResumeState, type ResumeState } from './resume-state.ts';
import { UploadSession, type AckEvent } from './upload-session.ts';

export interface CaptureSessionOptions {
  relay: string;
  /**
   * Other nodes of the same relay cluster: the upload moves to them in turn when `relay` stops
   * answering (docs/operations.md "Cluster"). The listen link keeps naming `relay`.
   */
  fallbackRelays?: string[];
  token: string;
  preset: string;
  source: CaptureSource;
  /** Creates the Opus encoder for the preset (packages/audio's OpusCbrEncoder in the CLI). */
  createEncoder: (preset: CapturePreset, channels: number) => FrameEncoder;
  title: string;
  /** Seconds of audio to capture, then finish. */
  duration?: number;
  realtime: boolean;
  eventOut?: string;
  statePath?: string;
  resumePath?: string;
  passphrase?: string;
  maxOutageMs?: number;
  /**
   * How long each relay request (create, tus, index) and WebSocket open may wait for an answer,
   * ms (MediaClient's timeoutMs, default 10 s): a node that accepts and never answers then
   * counts as down and the next URL is tried.
   */
  timeoutMs?: number;
  backoffMs?: number;
  maxBufferedBytes?: number;
  /** The listen link, once the relay has accepted the first block. */
  onLink?: (link: string) => void;
  onStatus?: (stats: CaptureStats) => void;
  onNotice?: (text: string) => void;
  onAck?: (ack: AckEvent) => void;
  /**
   * The stream exists (mxc, key, geometry) and nothing is uploaded yet: the Matrix wiring
   * announces it in the room here (docs/matrix.md). A rejection ends the run before any audio.
   */
  onCreated?: (info: CreatedStream) => Promise<void>;
  /**
   * Every piece handed to the upload, in order: the file magic (seq -1), then each framed block.
   * The sender's checkpoints hash these (docs/matrix.md "Checkpoints and completion").
   */
  onWrite?: (seq: number, bytes: Uint8Array) => void;
  /**
   * The relay connection was lost (`lost`) or is back (`back`): the Matrix wiring sets the
   * broadcast's state to paused / resumed (docs/matrix.md).
   */
  onConnection?: (state: 'lost' | 'back') => void;
  /**
   * The first key epoch of a new broadcast (startSeq 0); default a fresh key and IV. A resumed
   * broadcast takes its epochs from the resume state instead.
   */
  initialEpoch?: Epoch;
  /**
   * A new key epoch was fixed (docs/format.md "Key epochs"): send it to the members here (the
   * Matrix epoch event). Called before its startSeq is reached, with `rekeyLeadSeconds` of audio
   * to spare; rekey() resolves when this does. The epoch is fixed (and saved) before this is
   * called, so a rejection cannot take it back: members without it stop at its first block —
   * retry inside onEpoch rather than fail.
   */
  onEpoch?: (epoch: Epoch) => Promise<void>;
  /**
   * Epoch 0 covers only the header blocks 0 and 1 (OpusHead, OpusTags) and epoch 1 starts at the
   * first audio block, seq 2 (docs/format.md "Key epochs", header epoch): a member given no past
   * epoch (`joined` history) can still be given the headers and play from its join. Off by
   * default (a plain link's one key then opens the whole stream); `mxcast capture --homeserver`
   * turns it on. Only for a new broadcast; a resumed one keeps its epochs. Epoch 1 is fixed and
   * saved while `onCreated` runs, and `onEpoch` gets it as soon as both are done, before any
   * block is sealed.
   */
  headerEpoch?: boolean;
  /** Start a new key epoch every this many seconds of audio (`--rekey-every`); off by default. */
  rekeyEvery?: number;
  /** Audio between fixing a new epoch and its first block (default 1.5 s, at least one block). */
  rekeyLeadSeconds?: number;
}

/** Default lead of a new epoch: covers an encrypted Matrix event's delivery with room to spare. */
export const DEFAULT_REKEY_LEAD_SECONDS = 1.5;

export interface CreatedStream {
  mxc: string;
  /** The v3 EncryptedFile (with the key), `url` = mxc. */
  file: EncryptedFile;
  geometry: StreamGeometry;
  title: string;
  /** 0, or the seq a resumed run continues at. */
  firstSeq: number;
  /** The key epochs so far (one for a new broadcast; a resumed one's from its state). */
  epochs: Epoch[];
}

export interface CaptureResult {
  mxc: string;
  link: string;
  event: BroadcastEventContent;
  stats: CaptureStats;
  /** Seq of the first block this run wrote (0, or the resumed seq). */
  firstSeq: number;
  /** Seq after the last block written. */
  nextSeq: number;
  /** Samples per channel (48 kHz) captured by this run. */
  samples: number;
  ackLagsMs: number[];
  /** Every key epoch of the broadcast, the first at seq 0. */
  epochs: Epoch[];
  /** How each epoch announcement of this run went (onEpoch time, lead left). */
  announcements: EpochAnnouncement[];
}

export class CaptureSession {
  private readonly options: CaptureSessionOptions;
  private readonly stopController = new AbortController();
  private upload: UploadSession | null = null;
  private rekeyer: EpochRekeyer | null = null;
  private cancelled = false;

  constructor(options: CaptureSessionOptions) {
    this.options = options;
  }

  /** Finish cleanly: the source stops, the last page carries EOS, the upload completes. */
  stop(): void {
    this.stopController.abort();
  }

  get stopping(): boolean {
    return this.stopController.signal.aborted;
  }

  /**
   * Starts a new key epoch (docs/format.md "Key epochs"): fixed `rekeyLeadSeconds` ahead, saved in
   * the resume state, sent through `onEpoch`; resolves with it once sent. The pipeline switches
   * keys exactly at its startSeq. Rejects with BAD_STATE before the broadcast has started.
   */
  async rekey(): Promise<Epoch> {
    if (!this.rekeyer) throw new CaptureError('BAD_STATE', 'no broadcast is running to rekey');
    return this.rekeyer.rekey();
  }

  /** Cancel: no EOS; the relay is told (DELETE) so listeners' streams end without finishing. */
  async cancel(): Promise<void> {
    this.cancelled = true;
    this.stopController.abort();
    this.options.source.close();
    if (this.upload) await this.upload.cancel();
  }

  async run(): Promise<CaptureResult> {
    const o = this.options;
    const source = o.source;
    const started = performance.now();
    let preset: CapturePreset;
    let file: EncryptedFile;
    let epochs: Epoch[];
    let mxc: string;
    let title = o.title;
    let serial = (Math.random() * 0x100000000) >>> 0;
    let resumeSeq: number | undefined;
    let startOffset = 0;
    // The node that created the media leads: the listen link, the resume state and the upload
    // start on it; the other URLs stay fallbacks in their order (docs/operations.md "Cluster").
    let relay = o.relay;
    let fallbacks = o.fallbackRelays ?? [];
    const timeout = o.timeoutMs !== undefined ? { timeoutMs: o.timeoutMs } : {};
    let client = new MediaClient({ baseUrl: relay, accessToken: o.token, ...timeout });

    if (o.resumePath) {
      const state = await readResumeState(o.resumePath, o.passphrase);
      preset = CAPTURE_PRESETS[state.preset] ?? badPreset(state.preset);
      if (state.geometry.channels !== source.channels) {
        throw new CaptureError(
          'BAD_INPUT',
          `the broadcast in ${o.resumePath} has ${state.geometry.channels} channel(s), the input ${source.channels}`,
        );
      }
      file = state.file as EncryptedFile;
      epochs = state.epochs ?? [epochFromFile(file)];
      mxc = state.mxc;
      title = state.title;
      serial = state.serial;
      // Any node of the cluster can say where the broadcast stands: a dead first URL must not
      // stop the resume. The node that answered leads, the others stay fallbacks in order.
      const relays = [o.relay, ...fallbacks];
      const answered = await onFirstAnswering(
        relays,
        o.token,
        timeout,
        (c) => c.index(mxc),
        (at) => o.onNotice?.(`read the index on ${relays[at]} (${relays[0]} did not answer)`),
      );
      const index = answered.result;
      relay = relays[answered.at]!;
      fallbacks = relays.filter((_, i) => i !== answered.at);
      client = answered.client;
      if (index.state !== 'live') {
        throw new CaptureError(
          'BAD_STATE',
          `cannot resume ${mxc}: the relay says it is ${index.state}`,
        );
      }
      if (index.block_count < 2) {
        throw new CaptureError(
          'BAD_STATE',
          `cannot resume ${mxc}: the relay has only ${index.block_count} block(s), not the header pages`,
        );
      }
      // The relay's count is the truth: the state file may be a second behind its acks.
      resumeSeq = index.block_count;
      startOffset = index.byte_length;
      o.onNotice?.(`resuming ${mxc} at block ${resumeSeq} (byte ${startOffset})`);
    } else {
      preset = CAPTURE_PRESETS[o.preset] ?? badPreset(o.preset);
      file = o.initialEpoch ? epochFile(o.initialEpoch) : generateEncryptedFile();
      epochs = [epochFromFile(file)];
      const geometry0 = presetGeometry(preset, source.channels);
      const relays = [o.relay, ...fallbacks];
      const created = await onFirstAnswering(
        relays,
        o.token,
        timeout,
        (c) => c.create(geometry0),
        (at) => o.onNotice?.(`created the media on ${relays[at]} (${relays[0]} did not answer)`),
      );
      relay = relays[created.at]!;
      fallbacks = relays.filter((_, i) => i !== created.at);
      client = created.client;
      mxc = created.result.mxc;
    }
    file = { ...file, url: mxc };
    const geometry: StreamGeometry = presetGeometry(preset, source.channels);
    const event = buildEventContent({ title, mxc, file, preset: preset.name, geometry });
    const link = buildListenLink(relay, { mxc, file, geometry });
    if (o.eventOut) await writePrivate(o.eventOut, JSON.stringify(event, null, 2) + '\n');

    // One cipher per epoch behind one ScheduleCipher: each block is sealed under its seq's epoch.
    const cipher = await createScheduleCipher(new KeySchedule(epochs));
    const encoder = o.createEncoder(preset, source.channels);
    const pipeline = new BlockPipeline({
      preset,
      channels: source.channels,
      cipher,
      encoder,
      serial,
      title,
      ...(resumeSeq !== undefined ? { resumeSeq } : {}),
    });
    const firstSeq = pipeline.nextSeq;

    // ---- resume state, kept about once a second and at the end ----
    let ackedSeq = firstSeq - 1;
    let ackedOffset = startOffset;
    let stateDirty = false;
    let stateWrite: Promise<void> = Promise.resolve();
    const saveState = () => {
      if (!o.statePath) return stateWrite;
      const path = o.statePath;
      const state: ResumeState = {
        version: 1,
        relay,
        mxc,
        file,
        preset: preset.name,
        geometry,
        title,
        serial,
        epochs: cipher.schedule.toJSON(),
        nextSeq: ackedSeq + 1,
        offset: ackedOffset,
        granule: String(
          ackedSeq >= 2
            ? BigInt((ackedSeq - 1) * preset.framesPerBlock * pipeline.frameSamples)
            : 0n,
        ),
        updatedAt: new Date().toISOString(),
      };
      stateDirty = false;
      stateWrite = stateWrite.then(() => writeResumeState(path, state, o.passphrase));
      return stateWrite;
    };

    // ---- key epochs: fixed ahead, saved, then announced ----
    const blockSeconds = (preset.framesPerBlock * preset.frameMs) / 1000;
    const rekeyer = new EpochRekeyer({
      cipher,
      nextSeq: () => pipeline.nextSeq,
      leadBlocks: Math.max(
        1,
        Math.ceil((o.rekeyLeadSeconds ?? DEFAULT_REKEY_LEAD_SECONDS) / blockSeconds),
      ),
      blockMs: blockSeconds * 1000,
      persist: () => saveState(),
      ...(o.onEpoch
        ? {
            onEpoch: o.onEpoch,
            onAnnounced: (a: EpochAnnouncement) =>
              o.onNotice?.(
                `key epoch at block ${a.startSeq} announced in ${a.ms} ms, ${a.marginBlocks} block(s) of lead left`,
              ),
          }
        : {}),
    });
    // The header epoch's end is fixed before anyone can call rekey(): a rekey asked for by the
    // room in the meantime then starts after it, never before seq 2. Its key needs no audio, so
    // it is fixed and saved (commitAt saves the state) while the stream is being announced, and
    // its event goes out as soon as both are done, before any block is sealed or uploaded: a
    // listener at the very start then rarely waits at block 2 (docs/matrix.md "Key epochs").
    const headerCommit = o.headerEpoch && resumeSeq === undefined ? rekeyer.commitAt(2) : undefined;
    if (o.statePath && !headerCommit) await saveState();
    // The announcement carries the stream's own file, epoch 0 (the schedule is read before
    // epoch 1 is added): its key opens the headers only.
    const created = o.onCreated?.({
      mxc,
      file,
      geometry,
      title,
      firstSeq,
      epochs: cipher.schedule.toJSON(),
    });
    // A refused announcement ends the run; the commit is then only a saved state, nothing sent.
    headerCommit?.catch(() => {});
    await created;
    const headerEnd = await headerCommit;
    // Started once the announcement went out: a refused one ends the run with nothing to stop.
    const stateTimer = setInterval(() => {
      if (stateDirty) void saveState().catch(() => {});
    }, 1000);
    this.rekeyer = rekeyer;
    const announcing: Promise<unknown>[] = [];
    if (headerEnd) {
      // Not awaited: the audio does not wait for the homeserver.
      announcing.push(
        rekeyer.announce(headerEnd).catch((e: unknown) => {
          o.onNotice?.(`key epoch at block ${headerEnd.startSeq} not announced: ${String(e)}`);
        }),
      );
    }
    const rekeySamples = o.rekeyEvery ? Math.round(o.rekeyEvery * 48000) : Infinity;
    let nextRekeyAt = rekeySamples;

    let linkShown = false;
    let connectionLost = false;
    const upload = new UploadSession({
      client,
      fallbackClients: fallbacks.map(
        (baseUrl) => new MediaClient({ baseUrl, accessToken: o.token, ...timeout }),
      ),
      mxc,
      startOffset,
      startSeq: firstSeq,
      tusOnly: resumeSeq !== undefined,
      ...(o.maxOutageMs !== undefined ? { maxOutageMs: o.maxOutageMs } : {}),
      ...(o.backoffMs !== undefined ? { backoffMs: o.backoffMs } : {}),
      ...(o.maxBufferedBytes !== undefined ? { maxBufferedBytes: o.maxBufferedBytes } : {}),
      onAck: (ack) => {
        ackedSeq = Math.max(ackedSeq, ack.seq);
        ackedOffset = ack.offset;
        stateDirty = true;
        if (!linkShown && ack.seq >= firstSeq) {
          linkShown = true;
          o.onLink?.(link);
        }
        o.onAck?.(ack);
      },
      onOutage: () => {
        connectionLost = true;
        o.onConnection?.('lost');
      },
      onReconnect: (r) => {
        if (connectionLost) {
          connectionLost = false;
          o.onConnection?.('back');
        }
        if (r.error) {
          const via = r.relay === client.baseUrl ? '' : ` on ${r.relay}`;
          const resent = r.resent > 0 ? ` (${r.resent} acknowledged block(s) sent again)` : '';
          o.onNotice?.(
            `reconnected after: ${r.error}; continuing via tus from byte ${r.offset}${via}${resent}`,
          );
        }
      },
    });
    this.upload = upload;

    const stats = (): CaptureStats => ({
      audioSeconds: pipeline.inputSamples / 48000,
      wallSeconds: (performance.now() - started) / 1000,
      blocks: pipeline.blocks,
      bytes: pipeline.blockBytes + (resumeSeq === undefined ? 4 : 0),
      opusBytes: pipeline.opusBytes,
      ackedBytes: upload.ackedOffset - startOffset,
      ackLagMs: upload.lastAckLagMs,
      reconnects: upload.reconnects,
      transport: upload.transport,
      progress:
        !o.realtime && source.totalSamples
          ? Math.min(1, pipeline.inputSamples / source.totalSamples)
          : null,
    });

    const sendAll = async (blocks: PipelineBlock[]) => {
      for (const b of blocks) {
        await upload.send(b.seq, b.bytes);
        o.onWrite?.(b.seq, b.bytes);
      }
    };

    try {
      if (resumeSeq === undefined) {
        const head = await pipeline.start();
        await upload.send(-1, head.magic);
        o.onWrite?.(-1, head.magic);
        await sendAll(head.blocks);
      }
      const limit = o.duration !== undefined ? Math.round(o.duration * 48000) : Infinity;
      const pacer = o.realtime ? new RealtimePacer(48000, this.stopController.signal) : null;
      const ch = source.channels;
      // A stop ends the source itself (each source watches the signal), so what it already
      // took in, a resampler's tail included, is still encoded.
      for await (let chunk of source.read(this.stopController.signal)) {
        if (this.cancelled) break;
        const room = limit - pipeline.inputSamples;
        if (chunk.length / ch > room) chunk = chunk.subarray(0, room * ch);
        await sendAll(await pipeline.push(chunk));
        // Not at the very end: an epoch that no block would use is not worth announcing.
        if (
          pipeline.inputSamples >= nextRekeyAt &&
          pipeline.inputSamples < limit &&
          !this.stopping
        ) {
          nextRekeyAt += rekeySamples;
          // Fixed before the next block is sealed; announced without holding up the audio.
          const epoch = await rekeyer.commit();
          announcing.push(
            rekeyer.announce(epoch).catch((e: unknown) => {
              o.onNotice?.(`key epoch at block ${epoch.startSeq} not announced: ${String(e)}`);
            }),
          );
        }
        o.onStatus?.(stats());
        if (pipeline.inputSamples >= limit) break;
        if (pacer) await pacer.advance(chunk.length / ch);
      }
      source.close();
      if (this.cancelled)
        throw new CaptureError('CANCELLED', 'cancelled: the relay was told to drop the broadcast');
      await sendAll(await pipeline.finish());
      await upload.finish();
      await Promise.all(announcing);
      if (!linkShown) {
        linkShown = true;
        o.onLink?.(link);
      }
    } catch (err) {
      source.close();
      // Blocks stored before a refusal (a full relay) stay stored: the link to them is still
      // worth giving, though the acknowledgement socket may not have reported them yet.
      if (!linkShown && !this.cancelled) await upload.settleAcks();
      if (this.cancelled) {
        throw new CaptureError('CANCELLED', 'cancelled: the broadcast ended without finishing');
      }
      if (err instanceof ClientError) throw captureErrorFrom(err, relay);
      throw err;
    } finally {
      // No new epoch for a broadcast that has ended: no block would ever use it.
      this.rekeyer = null;
      clearInterval(stateTimer);
      if (o.statePath) await saveState().catch(() => {});
    }
    const expected = audioBlockSize(preset);
    if (pipeline.audioBlockSize !== null && pipeline.audioBlockSize !== expected) {
      o.onNotice?.(
        `note: audio blocks are ${pipeline.audioBlockSize} bytes, the preset predicts ${expected}`,
      );
    }
    return {
      mxc,
      link,
      event,
      stats: stats(),
      firstSeq,
      nextSeq: pipeline.nextSeq,
      samples: pipeline.inputSamples,
      ackLagsMs: upload.ackLagsMs,
      epochs: cipher.schedule.toJSON(),
      announcements: rekeyer.announcements,
    };
  }
}

/**
 * Creates the media on the first relay URL that answers. Only "no answer" moves on (connection
 * refused or reset, 502/503 from a proxy whose node is gone: ClientError.retryable); a Matrix
 * error from a node that did answer (a bad token, a full relay) is the answer and stops here.
 */
async function onFirstAnswering<T>(
  relays: string[],
  token: string,
  timeout: { timeoutMs?: number },
  call: (client: MediaClient) => Promise<T>,
  onMovedOn: (at: number) => void,
): Promise<{ client: MediaClient; result: T; at: number }> {
  const failures: string[] = [];
  for (let at = 0; ; at++) {
    const client = new MediaClient({ baseUrl: relays[at]!, accessToken: token, ...timeout });
    try {
      const result = await call(client);
      if (at > 0) onMovedOn(at);
      return { client, result, at };
    } catch (e) {
      if (!(e instanceof ClientError) || !e.retryable) throw captureErrorFrom(e, relays[at]!);
      failures.push(e.message);
      if (at === relays.length - 1) {
        if (relays.length === 1) throw captureErrorFrom(e, relays[at]!);
        // One line naming every node and why, not only the last one's failure.
        throw captureErrorFrom(
          new ClientError(
            e.code,
            `no relay answered (${relays.length} tried): ${failures.join('; ')}`,
            e.status,
            { cause: e },
          ),
          relays.join(','),
        );
      }
    }
  }
}

function badPreset(name: string): never {
  throw new CaptureError(
    'BAD_INPUT',
    `unknown preset '${name}' (have: ${Object.keys(CAPTURE_PRESETS).join(', ')})`,
  );
}

/** Writes a file readable only by its owner (it may hold a key). */
async function writePrivate(path: string, text: string): Promise<void> {
  const fh = await open(path, 'w', 0o600).catch((e: NodeJS.ErrnoException) => {
    throw new CaptureError('BAD_INPUT', `cannot write ${path}: ${e.code ?? e.message}`);
  });
  try {
    await fh.writeFile(text);
    await fh.chmod(0o600);
  } finally {
    await fh.close();
  }
}
