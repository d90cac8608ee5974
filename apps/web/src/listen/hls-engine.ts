/**
 * The HLS engine: hls.js plays the relay's live EVENT playlist (docs/protocol.md, "HLS view")
 * through MSE, with a fragment loader that decrypts the blocks and remuxes them to fMP4
 * (hls-decrypting-loader.ts). The browser's media stack then does buffering and seeking over a
 * long back-buffer; the price is segment-sized delay behind live (~2 s segments, a few of them).
 */
import Hls, { type ErrorData } from 'hls.js';
import { createBlockCipher, createScheduleCipher, type EncryptedFile } from '@mxcast/format';
import { UNSTABLE_PREFIX, mxcPath, relayFailureOf } from '@mxcast/client';
import { playerCodeOf, type EpochKeys } from '@mxcast/player';
import { HlsClaimsTap, type PlaybackTap } from './hls-claims-tap.ts';
import { createDecryptingLoader } from './hls-decrypting-loader.ts';
import { hlsLiveStart } from './hls-live-start.ts';
import { networkRangeFetch } from './hls-short-body.ts';
import { blocksPerPart, partPlan, segmentPlan, type SegmentGeometry } from './hls-segment-plan.ts';
import { HlsSegmentRemuxer, type RemuxError } from './hls-segment-remuxer.ts';
import type {
  EngineHooks,
  EngineStatus,
  ListenEngine,
  ListenErrorCode,
  ListenState,
} from './listen-engine.ts';

export interface HlsEngineOptions {
  relayUrl: string;
  mxc: string;
  file: EncryptedFile;
  context: AudioContext;
  destination: AudioNode;
  hooks: EngineHooks;
  /**
   * The stream geometry (the listen link's `g`, else the index): which blocks each segment
   * must hold follows from it, not from the bytes the relay sends (hls-segment-plan.ts).
   */
  geometry: SegmentGeometry | null;
  /** The newest audio the relay holds (seconds), from the page's index polling. */
  liveEdge: () => number | null;
  /** The upload's state from the page's index polling (null before the first answer). */
  uploadState: () => 'pending' | 'live' | 'complete' | 'cancelled' | null;
  /**
   * A Matrix access token for a relay in homeserver mode: sent as `Authorization: Bearer` on
   * the playlist and every fragment (hls.js `xhrSetup`; the fragment loader extends hls.js's
   * XHR loader, so it applies there too). docs/web.md "Matrix".
   */
  accessToken?: string;
  /**
   * Key epochs from the room (docs/matrix.md "Key epochs"); none: the file's one key. The
   * fragment loader's remuxer then decrypts each block under its epoch, through the same
   * BlockAuthenticator gate as the direct engine's player.
   */
  keys?: EpochKeys;
  /**
   * A room listen's claims check (room-claims-check.ts): given this engine's tap, it gets the
   * digest of every block the remuxer authenticates and the end of the stream, and stops the
   * engine with TAMPERED when the sender's checkpoints do not hold.
   */
  onPlayer?: (tap: PlaybackTap) => void;
}

/**
 * Margin for "live" vs "playing" in #state (with a segment and slack): hls.js keeps itself
 * PART-HOLD-BACK (< 1 s) behind the newest part in low-latency mode.
 */
const LIVE_SYNC_S = 3;
/** The relay's segments are about this long (docs/protocol.md). */
const SEGMENT_S = 2;
const LIVE_SLACK_S = 2;

export function playlistUrl(relayUrl: string, mxc: string): string {
  return `${relayUrl.replace(/\/+$/, '')}${UNSTABLE_PREFIX}/hls/${mxcPath(mxc)}/playlist.m3u8`;
}

export class HlsEngine implements ListenEngine {
  readonly name = 'hls' as const;
  readonly #o: HlsEngineOptions;
  readonly #audio: HTMLAudioElement;
  #source: MediaElementAudioSourceNode | null = null;
  #hls: Hls | null = null;
  #remuxer: HlsSegmentRemuxer | null = null;
  #tap: HlsClaimsTap | null = null;
  /** The segment (or part) that held the authenticated end of stream (`sn/part`), once seen. */
  #eosUnit: string | null = null;
  #ended = false;
  #started = false;
  #error: { code: ListenErrorCode; message: string } | null = null;
  /** Ends a live start's wait for the first held block when the engine is destroyed. */
  readonly #stopped = new AbortController();

  constructor(options: HlsEngineOptions) {
    this.#o = options;
    this.#audio = document.createElement('audio');
    this.#audio.preload = 'auto';
    for (const event of ['playing', 'waiting', 'seeking', 'seeked', 'pause']) {
      this.#audio.addEventListener(event, () => options.hooks.onChange());
    }
    this.#audio.addEventListener('ended', () => {
      this.#ended = true;
      options.hooks.onChange();
    });
  }

  async start(from: 'live' | number): Promise<void> {
    const { relayUrl, mxc, file, context, destination, hooks } = this.#o;
    if (!Hls.isSupported() || !MediaSource.isTypeSupported('audio/mp4; codecs="opus"')) {
      this.#fail(
        'UNSUPPORTED',
        'This browser cannot play Opus in MP4 through Media Source Extensions.',
      );
      return;
    }
    const geometry = this.#o.geometry;
    if (!geometry) {
      // Without it no segment could be checked for drops or replays: refuse rather than trust.
      this.#fail(
        'BAD_STREAM',
        'No stream geometry in the link or the index: the HLS view needs it.',
      );
      return;
    }
    // PART-TARGET as the relay computes it (ll-hls-playlist.ts), from the geometry alone.
    const partSeconds =
      (blocksPerPart(geometry) * geometry.frame_ms * geometry.frames_per_block) / 1000;
    const keys = this.#o.keys;
    // With epochs the ScheduleCipher starts from the epochs known now; the authenticator adds
    // each one the room announces later (syncKeys) before it opens a block past a boundary.
    const remuxer = keys
      ? new HlsSegmentRemuxer(await createScheduleCipher(keys.epochs, { backend: 'webcrypto' }), {
          keys,
        })
      : new HlsSegmentRemuxer(await createBlockCipher(file, { backend: 'webcrypto' }));
    this.#remuxer = remuxer;
    // A `joined` newcomer's live start: at the first block its keys open, not at hls.js's edge
    // (hls-live-start.ts); a start from a time is not moved (the past there is NO_ACCESS).
    const moved =
      from === 'live' && keys
        ? await hlsLiveStart({
            keys,
            geometry,
            liveEdge: this.#o.liveEdge,
            signal: this.#stopped.signal,
          })
        : null;
    if (this.#stopped.signal.aborted) return;
    if (moved) {
      remuxer.startAt(moved.seq);
      console.info(`mxcast: HLS live start moved to block ${moved.seq}, the first your keys open`);
    }
    if (this.#o.onPlayer) {
      const tap = new HlsClaimsTap((error) => this.#fail(error.code, error.message));
      remuxer.onAuthenticated = (seq, ciphertext) => tap.block(seq, ciphertext);
      this.#tap = tap;
      this.#o.onPlayer(tap);
    }
    const fLoader = createDecryptingLoader({
      remuxer,
      plan: (sn, tail) => segmentPlan(geometry, sn, tail),
      partPlan: (sn, part, tail) => partPlan(geometry, sn, part, tail),
      onEos: (sn, part) => (this.#eosUnit = `${sn}/${part ?? ''}`),
      fetchRange: (url) => networkRangeFetch(url, this.#o.accessToken),
      onFatal: (error: RemuxError) => this.#fail(error.code, error.message),
    });
    const hls = new Hls({
      fLoader: fLoader as unknown as Hls['config']['fLoader'],
      // Keep everything heard so far: seeking back is the point of this engine.
      backBufferLength: Infinity,
      maxBufferLength: 30,
      // Low-latency HLS (RFC 8216bis): parts and blocking playlist reload.
      lowLatencyMode: true,
      // Two parts behind the newest one, not the relay's PART-HOLD-BACK of three (~0.5 s
      // instead of ~0.7 s for Voice; docs/web.md "Low-latency HLS"). RFC 8216bis asks a server
      // for at least 2 × PART-TARGET (MUST) and 3 × (SHOULD), the 3rd part covering a late
      // part; here a part is one or a few ~1 kB blocks announced by blocking reload the moment
      // the relay stores them, so two are enough, and a stall costs one part more each time
      // (liveSyncOnStallIncrease, capped by hls.js at a target duration) instead of 1 s.
      liveSyncDuration: 2 * partSeconds,
      liveSyncOnStallIncrease: partSeconds,
      // A moved live start sits just inside its block, clear of the segment before it.
      ...(from !== 'live'
        ? { startPosition: from }
        : moved
          ? { startPosition: moved.seconds + 0.001 }
          : {}),
      ...(this.#o.accessToken
        ? {
            xhrSetup: (xhr: XMLHttpRequest) =>
              xhr.setRequestHeader('Authorization', `Bearer ${this.#o.accessToken}`),
          }
        : {}),
    });
    this.#hls = hls;
    hls.on(Hls.Events.ERROR, (_event, data: ErrorData) => {
      if (!data.fatal) return;
      const status = data.response?.code;
      // An HTTP answer gets the shared relay failure name (docs/errors.md); anything else
      // hls.js gives up on (no answer, a media error it could not recover) stays NETWORK.
      const code = status && status >= 400 ? playerCodeOf(relayFailureOf(status)) : 'NETWORK';
      if (code === 'NOT_FOUND') this.#fail('NOT_FOUND', 'The relay has no such broadcast.');
      else if (!this.#error) this.#fail(code, `hls.js: ${data.details}`);
    });
    // The end of the media is the authenticated end of stream, appended. hls.js decides it from
    // the playlist instead: with parts, from its last part being buffered at the part's middle
    // (base-stream-controller `_streamEnded`), which a last block shorter than a block (the
    // encoder's end trimmed by the EOS page's granule) never is — playback then stalls a few
    // milliseconds before the end, never `ended`. Once the unit holding the EOS block is in the
    // buffer and what is buffered runs unbroken from the playhead to it (a seek back may leave a
    // gap that hls.js fills later: each fill is checked again), the engine tells hls.js's buffer
    // controller the stream ended, as hls.js itself does (BUFFER_EOS: MediaSource.endOfStream()).
    let eosBuffered = false;
    hls.on(Hls.Events.FRAG_BUFFERED, (_event, data) => {
      if (`${data.frag.sn}/${data.part?.index ?? ''}` === this.#eosUnit) eosBuffered = true;
      if (eosBuffered && this.#playheadInLastRange())
        hls.trigger(Hls.Events.BUFFER_EOS, { type: null });
    });
    this.#source = context.createMediaElementSource(this.#audio);
    this.#source.connect(destination);
    hls.attachMedia(this.#audio);
    hls.loadSource(playlistUrl(relayUrl, mxc));
    hls.once(Hls.Events.MANIFEST_PARSED, () => {
      this.#started = true;
      this.#audio.play().catch(() => undefined);
      hooks.onChange();
    });
  }

  seek(to: number | 'live'): void {
    const audio = this.#audio;
    if (to === 'live') {
      const edge = this.#hls?.liveSyncPosition ?? null;
      if (edge !== null) audio.currentTime = edge;
    } else {
      audio.currentTime = Math.max(0, to);
    }
    // Seeking past the end of a finished stream leaves it ended; seeking back plays again.
    this.#ended = false;
    void audio.play().catch(() => undefined);
  }

  /**
   * Playback speed for the past (docs/web.md "Speed"): the media element time-stretches with
   * the pitch kept (`preservesPitch`, the default, set anyway).
   */
  setRate(rate: number): void {
    this.#audio.preservesPitch = true;
    // The default too: attaching the MediaSource (the element's load algorithm) resets the rate.
    this.#audio.defaultPlaybackRate = rate;
    this.#audio.playbackRate = rate;
  }

  status(): EngineStatus {
    const audio = this.#audio;
    const position = audio.currentTime;
    const edge = this.#o.liveEdge();
    const delay = edge === null ? null : Math.max(0, edge - position);
    const state = this.#state(delay);
    if (state === 'finished' || state === 'ended-without-finishing') this.#tap?.ended(state);
    const errors = state === 'error' ? this.#errorFields() : {};
    return { state, position, delayBehindLive: delay, ...errors };
  }

  #state(delay: number | null): ListenState {
    const audio = this.#audio;
    // A cancelled broadcast loses its playlist (404) and is never finished: it ended early once
    // what was buffered has played out.
    const starved =
      audio.ended || audio.paused || audio.readyState < HTMLMediaElement.HAVE_FUTURE_DATA;
    if (this.#o.uploadState() === 'cancelled' && (this.#error?.code === 'NOT_FOUND' || starved)) {
      return 'ended-without-finishing';
    }
    if (this.#error) return 'error';
    if (this.#ended || (this.#uploadOver() && audio.ended))
      return this.#eosUnit !== null ? 'finished' : 'ended-without-finishing';
    if (!this.#started) return 'connecting';
    if (audio.seeking) return 'seeking';
    if (audio.paused && audio.readyState < HTMLMediaElement.HAVE_FUTURE_DATA) return 'connecting';
    if (audio.readyState < HTMLMediaElement.HAVE_FUTURE_DATA) return 'buffering';
    // Live = as near the edge as this engine plays: its sync distance, one segment still being
    // written and the index's polling, with some slack.
    const nearEdge = delay === null || delay <= LIVE_SYNC_S + SEGMENT_S + LIVE_SLACK_S;
    return nearEdge && !this.#uploadOver() ? 'live' : 'playing';
  }

  /** The buffered range holding the playhead is the last one (nothing missing up to the end). */
  #playheadInLastRange(): boolean {
    const { buffered, currentTime } = this.#audio;
    for (let i = 0; i < buffered.length; i++) {
      // Slack for hls.js's start, a few ms before the first range, and for rounding.
      if (buffered.start(i) - 0.1 <= currentTime && currentTime <= buffered.end(i) + 0.1)
        return i === buffered.length - 1;
    }
    return false;
  }

  #uploadOver(): boolean {
    const state = this.#o.uploadState();
    return state === 'complete' || state === 'cancelled';
  }

  #errorFields(): Pick<EngineStatus, 'errorCode' | 'errorMessage'> {
    return this.#error ? { errorCode: this.#error.code, errorMessage: this.#error.message } : {};
  }

  #fail(code: ListenErrorCode, message: string): void {
    if (this.#error) return;
    this.#error = { code, message };
    // The page shows the code's plain words; the detail (which segment, which block) goes to
    // the console for whoever debugs it.
    console.warn(`mxcast: HLS engine stopped: ${code}: ${message}`);
    this.#hls?.stopLoad();
    this.#audio.pause();
    this.#o.hooks.onChange();
  }

  async destroy(): Promise<void> {
    this.#stopped.abort();
    this.#remuxer?.stop();
    this.#hls?.destroy();
    this.#hls = null;
    this.#audio.pause();
    this.#audio.removeAttribute('src');
    this.#source?.disconnect();
  }
}
