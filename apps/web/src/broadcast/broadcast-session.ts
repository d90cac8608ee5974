/**
 * One broadcast from the browser: create the media (declaring the geometry), open the WebSocket
 * upload, then microphone → capture worklet → encoder worker → uploader. The key is generated
 * here and leaves the browser only inside the listen link's #fragment.
 */
import { MediaClient, buildListenLink } from '@mxcast/client';
import { EpochRekeyer, generateEncryptedFile, type Epoch } from '@mxcast/format';
import captureWorkletUrl from './capture-worklet.ts?worker&url';
import EncodeWorker from './encode-worker.ts?worker';
import { presetGeometry, type WebPreset } from './broadcast-presets.ts';
import type { EncoderResume, FromEncoder, ToEncoder } from './encoder-protocol.ts';
import { ResumePoints, type ResumePoint } from './resume-points.ts';
import { WorkerEpochs } from './worker-epochs.ts';
import { WsUploader, type UploaderState } from './ws-uploader.ts';

export interface BroadcastEvents {
  onConnection(state: UploaderState, detail?: string): void;
  onLevel(rms: number, peak: number): void;
  onProgress(audioSeconds: number, ackedBytes: number): void;
  onListeners(count: number): void;
  onFatal(message: string): void;
}

/**
 * A broadcast into a Matrix room (src/matrix/): @mxcast/matrix's room-capture hooks, the same the
 * CLI's `capture --room` uses. `onCreated` announces the key in the room before any audio is
 * uploaded; `onWrite` sees every byte written, in order (seq -1: the file magic).
 */
export interface SessionRoomHooks {
  onCreated(info: {
    file: ReturnType<typeof generateEncryptedFile>;
    geometry: ReturnType<typeof presetGeometry>;
  }): Promise<void>;
  onWrite(seq: number, bytes: Uint8Array): void;
  /** A reloaded tab continuing this room broadcast (resume-store.ts); see BroadcastStart. */
  resume?: SessionResume;
  /** The relay stored up to `point`; `epochs`: every key epoch so far (resume-store.ts). */
  onResumePoint?(point: ResumePoint, ahead: readonly ResumePoint[], epochs: readonly Epoch[]): void;
  /**
   * Key epochs (docs/matrix.md "Key epochs"), as the CLI's `capture --room`: with it the header
   * epoch ends at seq 2 and every epoch is sent through this (the room's epoch event) once the
   * encoder is bound to switch at its startSeq, before that block is sealed.
   */
  onEpoch?(epoch: Epoch): Promise<void>;
  /** Given the session's rekey() once it runs: the room's reasons (a kick, a request) call it. */
  setRekey?(rekey: () => Promise<Epoch>): void;
}

export interface BroadcastStart {
  relayUrl: string;
  accessToken: string;
  preset: WebPreset;
  events: BroadcastEvents;
  room?: SessionRoomHooks;
  /**
   * Continue a broadcast a reloaded tab left (resume-store.ts) instead of creating one: the
   * media, its key(s) and the block boundary the relay stored (tus HEAD). A room's hooks then
   * attach to the announced broadcast (roomCapture's `resume`): no second announcement.
   */
  resume?: SessionResume;
  /** The relay stored everything up to `point`: what the resume state keeps (resume-store.ts). */
  onResumePoint?(point: ResumePoint, ahead: readonly ResumePoint[]): void;
}

export interface SessionResume {
  mxc: string;
  file: ReturnType<typeof generateEncryptedFile>;
  epochs: EncoderResume['epochs'];
  point: ResumePoint;
}

const LISTENER_POLL_MS = 2000;
/** Audio a new epoch is fixed ahead of its first block: the CLI capture's default lead. */
const REKEY_LEAD_SECONDS = 1.5;

export class BroadcastSession {
  readonly mxc: string;
  readonly listenLink: string;
  readonly #client: MediaClient;
  readonly #uploader: WsUploader;
  readonly #worker: Worker;
  readonly #audio: AudioContext;
  readonly #stream: MediaStream;
  readonly #node: AudioWorkletNode;
  readonly #events: BroadcastEvents;
  #poll: ReturnType<typeof setInterval> | null = null;
  #input: GainNode | null = null;
  #ended = false;
  #rekeyer: EpochRekeyer | null = null;
  #epochs: WorkerEpochs | null = null;

  private constructor(parts: {
    mxc: string;
    listenLink: string;
    client: MediaClient;
    uploader: WsUploader;
    worker: Worker;
    audio: AudioContext;
    stream: MediaStream;
    node: AudioWorkletNode;
    events: BroadcastEvents;
  }) {
    this.mxc = parts.mxc;
    this.listenLink = parts.listenLink;
    this.#client = parts.client;
    this.#uploader = parts.uploader;
    this.#worker = parts.worker;
    this.#audio = parts.audio;
    this.#stream = parts.stream;
    this.#node = parts.node;
    this.#events = parts.events;
  }

  static async start(options: BroadcastStart): Promise<BroadcastSession> {
    const { relayUrl, accessToken, preset, events, room } = options;
    // Ask for the microphone first: a refusal should not leave a created media behind.
    const stream = await navigator.mediaDevices.getUserMedia({
      // No echo cancellation: a broadcaster does not play remote audio, so there is no echo to
      // cancel and it only colours the sound. Noise suppression and gain control help speech
      // and hurt music, so they follow the preset.
      audio: {
        channelCount: 1,
        echoCancellation: false,
        noiseSuppression: preset.name !== 'music',
        autoGainControl: preset.name !== 'music',
      },
    });
    const cleanupMic = () => stream.getTracks().forEach((t) => t.stop());
    let audio: AudioContext | null = null;
    try {
      const geometry = presetGeometry(preset);
      const client = new MediaClient({ baseUrl: relayUrl, accessToken });
      const resume = options.resume ?? room?.resume;
      let mirror: WorkerEpochs | null = null;
      const { mxc } = resume ?? (await client.create(geometry));
      const file = resume?.file ?? generateEncryptedFile(mxc);
      const listenLink = buildListenLink(relayUrl, { mxc, file, geometry });
      await room?.onCreated({ file, geometry });

      let lastAudioSeconds = 0;
      const points = new ResumePoints(resume?.point.offset ?? 0, resume?.point ?? null);
      const uploader = new WsUploader({
        client,
        relayUrl,
        accessToken,
        mxc,
        ...(resume ? { startOffset: resume.point.offset } : {}),
        onState: (state, detail) => events.onConnection(state, detail),
        onAck: (offset) => {
          events.onProgress(lastAudioSeconds, offset);
          const point = points.acked(offset);
          if (point) options.onResumePoint?.(point, points.ahead);
          if (point && mirror) room?.onResumePoint?.(point, points.ahead, mirror.schedule.epochs);
        },
      });
      await uploader.start();

      const worker = new EncodeWorker();
      const epochs = new WorkerEpochs(file, (m) => worker.postMessage(m));
      mirror = epochs;
      if (resume) {
        // The worker seals under every saved epoch; the page's mirror must know them too, and
        // where the stream goes on, so the next rekey lands after the resume point.
        for (const e of resume.epochs.slice(1)) epochs.schedule.add(e);
        epochs.sealed(resume.point.nextSeq - 1);
      }
      const ready = new Promise<void>((resolve, reject) => {
        worker.onmessage = (event: MessageEvent<FromEncoder>) => {
          const m = event.data;
          if (m.type === 'ready') resolve();
          else if (m.type === 'bytes') {
            lastAudioSeconds = m.audioSeconds;
            if (m.seq !== null) epochs.sealed(m.seq);
            // Hashed before the uploader queues it (the magic comes with seq null).
            room?.onWrite(m.seq ?? -1, m.bytes);
            points.written(m.seq, m.bytes.length, m.ogg);
            uploader.send(m.bytes);
            events.onProgress(m.audioSeconds, uploader.ackedOffset);
          } else if (m.type === 'level') events.onLevel(m.rms, m.peak);
          else if (m.type === 'epoch') epochs.answered(m);
          else if (m.type === 'error') {
            epochs.fail(m.message);
            reject(new Error(m.message));
            events.onFatal(`encoder: ${m.message}`);
          }
        };
        worker.onerror = (e: ErrorEvent) => {
          reject(new Error(e.message));
          events.onFatal(`encoder: ${e.message}`);
        };
      });
      const channel = new MessageChannel();
      const start: ToEncoder = {
        type: 'start',
        config: {
          frameMs: preset.frameMs,
          framesPerBlock: preset.framesPerBlock,
          bitrate: preset.bitrate,
          channels: 1,
          application: preset.application,
          file,
          ...(resume ? { resume: encoderResume(resume) } : {}),
        },
        pcm: channel.port2,
      };
      worker.postMessage(start, [channel.port2]);
      await ready;
      const blockSeconds = (preset.framesPerBlock * preset.frameMs) / 1000;
      const rekeyer = new EpochRekeyer({
        cipher: epochs,
        nextSeq: () => epochs.nextSeq,
        leadBlocks: Math.max(1, Math.ceil(REKEY_LEAD_SECONDS / blockSeconds)),
        blockMs: blockSeconds * 1000,
        ...(room?.onEpoch ? { onEpoch: (e: Epoch) => room.onEpoch!(e) } : {}),
      });
      // The header epoch (docs/format.md "Key epochs"): epoch 0 seals OpusHead and OpusTags
      // only, so a `joined` newcomer can be given the headers without the past. Fixed before
      // any audio reaches the encoder, so no block 2 is sealed yet; announced at once, while
      // the audio graph is still being built and without holding up the audio (docs/matrix.md
      // "Key epochs": a listener at the very start then rarely waits at block 2).
      // A resumed stream's header epoch was fixed (and announced) by the run it continues.
      const headerEnd = room?.onEpoch && !resume ? await rekeyer.commitAt(2) : undefined;
      if (headerEnd) {
        rekeyer.announce(headerEnd).catch((e: unknown) => {
          events.onFatal(`key epoch at block 2 not announced: ${String(e)}`);
        });
      }

      // A 48 kHz context: Opus's native rate, so the browser resamples the microphone for us.
      audio = new AudioContext({ sampleRate: 48000, latencyHint: 'interactive' });
      await audio.audioWorklet.addModule(captureWorkletUrl);
      const frameSamples = (48000 * preset.frameMs) / 1000;
      const node = new AudioWorkletNode(audio, 'mxcast-capture', {
        numberOfInputs: 1,
        numberOfOutputs: 1,
        channelCount: 1,
        channelCountMode: 'explicit',
        processorOptions: { frameSamples },
      });
      const mute = audio.createGain();
      mute.gain.value = 0;
      // Pause mutes here: the encoder goes on with silence, so the stream's clock, its constant
      // block size and every listener's position stay continuous (docs/audio.md).
      const input = audio.createGain();
      audio.createMediaStreamSource(stream).connect(input).connect(node);
      // The worklet only runs while it is pulled by the destination; its output is silence.
      node.connect(mute).connect(audio.destination);

      node.port.postMessage({ port: channel.port1 }, [channel.port1]);
      await audio.resume();

      const session = new BroadcastSession({
        mxc,
        listenLink,
        client,
        uploader,
        worker,
        audio,
        stream,
        node,
        events,
      });
      session.#input = input;
      // A listen link carries one key: an epoch nobody is told about would cut its listeners off.
      session.#rekeyer = room?.onEpoch ? rekeyer : null;
      session.#epochs = epochs;
      room?.setRekey?.(() => session.rekey());
      session.#startPolling();
      return session;
    } catch (error) {
      cleanupMic();
      await audio?.close();
      throw error;
    }
  }

  /**
   * Starts a new key epoch (docs/format.md "Key epochs"): fixed in the encoder about 1.5 s of
   * audio ahead (more if the room was slow to take the last one), then announced in the room;
   * resolves once it was. The encoder switches keys exactly at its startSeq.
   */
  async rekey(): Promise<Epoch> {
    if (!this.#rekeyer || this.#ended) throw new Error('no broadcast is running to rekey');
    return this.#rekeyer.rekey();
  }

  /** Key epochs so far, epoch 0 (and the header epoch's end) included. */
  get epochCount(): number {
    return this.#epochs?.schedule.epochs.length ?? 1;
  }

  /** Paused: the microphone is muted (silence is still sent); resumed: it is heard again. */
  setPaused(paused: boolean): void {
    if (this.#input) this.#input.gain.value = paused ? 0 : 1;
  }

  /** Stops capture, writes the EOS block and completes the media. */
  async stop(): Promise<void> {
    if (this.#ended) return;
    this.#ended = true;
    this.#stopCapture();
    const stopped = new Promise<void>((resolve, reject) => {
      const previous = this.#worker.onmessage;
      this.#worker.onmessage = (event: MessageEvent<FromEncoder>) => {
        previous?.call(this.#worker, event);
        if (event.data.type === 'stopped') resolve();
        if (event.data.type === 'error') reject(new Error(event.data.message));
      };
    });
    this.#worker.postMessage({ type: 'stop' } satisfies ToEncoder);
    await stopped;
    try {
      await this.#uploader.finish();
    } finally {
      this.#teardown();
    }
  }

  /** Cancels the broadcast: the relay marks it cancelled and listeners see it end unfinished. */
  async cancel(): Promise<void> {
    if (this.#ended) return;
    this.#ended = true;
    this.#stopCapture();
    try {
      await this.#client.deleteMedia(this.mxc);
    } finally {
      this.#uploader.abort();
      this.#teardown();
    }
  }

  #stopCapture(): void {
    this.#node.port.postMessage({ stop: true });
    this.#stream.getTracks().forEach((t) => t.stop());
  }

  #teardown(): void {
    if (this.#poll) clearInterval(this.#poll);
    this.#worker.terminate();
    void this.#audio.close();
  }

  #startPolling(): void {
    const tick = () => {
      this.#client.index(this.mxc).then(
        (index) => this.#events.onListeners(index.listeners),
        () => undefined,
      );
    };
    tick();
    this.#poll = setInterval(tick, LISTENER_POLL_MS);
  }
}

function encoderResume(r: SessionResume): EncoderResume {
  const { nextSeq, serial, pageSeq, granule } = r.point;
  return { nextSeq, serial, pageSeq, granule, epochs: r.epochs };
}
