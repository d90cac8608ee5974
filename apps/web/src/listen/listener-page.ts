/**
 * The listener page (`/listen#mxc=…&k=…&iv=…&g=…`): plays a broadcast live, with the delay
 * behind live shown, a seek bar over everything broadcast so far, "Go live", and an engine
 * switch (docs/web.md). The root `.player` element carries `data-state` (the player's state) and
 * `data-position` (seconds, decimal) for tests and embedders; `data-error` names an error code.
 */
import {
  MediaClient,
  mxcPath,
  parseListenLink,
  type MediaIndex,
  type ParsedListenLink,
} from '@mxcast/client';
import type { EncryptedFile } from '@mxcast/format';
import type { EpochKeys } from '@mxcast/player';
import type { PlaybackTap } from './hls-claims-tap.ts';
import { brandHeader, formatClock, h, replaceChildren } from '../ui/dom.ts';
import { DirectEngine } from './direct-engine.ts';
import type { HlsEngineOptions } from './hls-engine.ts';
import type { EngineName, EngineStatus, ListenEngine, ListenState } from './listen-engine.ts';
import { stateView, verdictView, type Verdict } from './listen-state-view.ts';
import { MediaOutput } from './media-output.ts';
import { downloadSupported, recordingName, startDownload } from './download-job.ts';
import { ListenMediaSession } from './media-session.ts';

/** Whether MSE here plays Opus in MP4, which the HLS engine's remux produces. */
export function hlsSupported(): boolean {
  return (
    typeof MediaSource !== 'undefined' && MediaSource.isTypeSupported('audio/mp4; codecs="opus"')
  );
}

/** hls.js is loaded only when the HLS engine is chosen. */
async function createHlsEngine(options: HlsEngineOptions): Promise<ListenEngine> {
  const { HlsEngine } = await import('./hls-engine.ts');
  return new HlsEngine(options);
}

const INDEX_POLL_MS = 1500;
const UI_TICK_MS = 200;
const SEEK_STEP_S = 5;
const ENGINE_KEY = 'mxcast.engine';
const VOLUME_KEY = 'mxcast.volume';
/** Speeds for the past (docs/web.md "Speed"); the live edge plays at 1×. */
const SPEEDS = [1, 1.25, 1.5, 1.75, 2] as const;
/** Arrow up/down change the volume by this much. */
const VOLUME_STEP = 0.1;

/**
 * What the Matrix pages (src/matrix/) hand the listener instead of a link in the address bar:
 * the broadcast from a decrypted announcement, the access token homeserver mode requires on
 * every relay request (MSC3916), its title, and a way back to the room.
 */
export interface RoomListen {
  link: ParsedListenLink;
  accessToken: string;
  title: string;
  nav: HTMLElement;
  /**
   * Each player an engine starts (the direct engine's Player, the HLS engine's tap): checkpoint
   * verification from the room's claims.
   */
  onPlayer?: (player: PlaybackTap) => void;
  /**
   * Key epochs from the room (docs/matrix.md "Key epochs"): both engines decrypt with them (the
   * direct engine's player, the HLS engine's remuxer), through the same BlockAuthenticator.
   */
  keys?: EpochKeys;
  /** Who broadcasts and in which room: the lock screen shows them (Media Session). */
  broadcaster?: string;
  roomName?: string;
}

/** A listener mounted from a room; `close()` stops it when the user navigates away. */
export interface MountedListener {
  close(): Promise<void>;
  /** The sender's verdict (room-claims-check.ts): the player's pill and sentence say it. */
  setVerdict(verdict: Verdict): void;
}

export function mountListenerPage(root: HTMLElement, room: RoomListen): MountedListener;
export function mountListenerPage(root: HTMLElement): void;
export function mountListenerPage(root: HTMLElement, room?: RoomListen): MountedListener | void {
  if (room) {
    const view = new ListenerView(root, room.link, room);
    return { close: () => view.close(), setVerdict: (v) => view.setVerdict(v) };
  }
  let link: ParsedListenLink;
  try {
    link = parseListenLink(location.href);
  } catch (error) {
    replaceChildren(root, brandHeader('Listen'), badLinkCard((error as Error).message));
    return;
  }
  new ListenerView(root, link);
}

function badLinkCard(message: string): HTMLElement {
  return h(
    'section',
    { class: 'card player', 'data-state': 'error', 'data-error': 'BAD_LINK', 'data-position': '0' },
    h('h1', {}, 'This link cannot be played'),
    h(
      'p',
      { class: 'muted' },
      'Ask the broadcaster for the full link: it must contain everything after the # sign.',
    ),
    h('p', { class: 'message', 'data-tone': 'err' }, message),
  );
}

/** The engine's speed setter, where it has one (the HLS engine's media element). */
function rateOf(engine: ListenEngine): ((rate: number) => void) | null {
  const e = engine as ListenEngine & { setRate?: (rate: number) => void };
  return typeof e.setRate === 'function' ? (rate) => e.setRate?.(rate) : null;
}

class ListenerView {
  readonly #link: ParsedListenLink;
  readonly #file: EncryptedFile;
  readonly #client: MediaClient;
  #context: AudioContext | null = null;
  #analyser: AnalyserNode | null = null;
  #output: MediaOutput | null = null;
  readonly #session: ListenMediaSession;
  /** The speed asked for; the engine plays it only away from the live edge. */
  #rate = 1;
  /** The engine the user chose, while speed ≠ 1 runs on HLS (the direct engine cannot stretch). */
  #chosenEngine: EngineName | null = null;
  #verdict: Verdict | null = null;
  #engine: ListenEngine | null = null;
  #engineName: EngineName;
  #index: MediaIndex | null = null;
  #notFound = false;
  #paused = false;
  #pausedAt = 0;
  #dragging = false;
  #levelData = new Float32Array(512);

  // UI
  readonly #player: HTMLElement;
  readonly #pill: HTMLElement;
  readonly #play: HTMLButtonElement;
  readonly #seek: HTMLInputElement;
  readonly #pos: HTMLElement;
  readonly #edge: HTMLElement;
  readonly #goLive: HTMLButtonElement;
  readonly #delay: HTMLElement;
  readonly #message: HTMLElement;
  readonly #meter: HTMLElement;
  readonly #engineHint: HTMLElement;
  readonly #volume: HTMLInputElement;
  readonly #speed: HTMLSelectElement;
  readonly #announce: HTMLElement;
  readonly #download: HTMLButtonElement;
  readonly #title = h('h1', { id: 'title' }, 'Live broadcast');
  readonly #accessToken: string | undefined;
  readonly #roomTitle: string | undefined;
  readonly #room: RoomListen | undefined;
  readonly #onPlayer: ((player: PlaybackTap) => void) | undefined;
  /** Aborted by close(): timers, key handler and level loop stop, the engine is destroyed. */
  readonly #closed = new AbortController();

  constructor(root: HTMLElement, link: ParsedListenLink, room?: RoomListen) {
    this.#link = link;
    // parseListenLink already ran parseEncryptedFile: a link that got this far has a valid file.
    this.#file = link.file;
    this.#accessToken = room?.accessToken;
    this.#roomTitle = room?.title;
    this.#room = room;
    this.#onPlayer = room?.onPlayer;
    this.#client = new MediaClient({
      baseUrl: link.relayUrl,
      ...(room ? { accessToken: room.accessToken } : {}),
    });
    const stored = localStorage.getItem(ENGINE_KEY);
    this.#engineName = stored === 'hls' && this.#hlsAllowed(room) ? 'hls' : 'direct';
    const q = new URLSearchParams(location.search).get('engine');
    if (q === 'hls' || q === 'direct') this.#engineName = q;
    if (!this.#hlsAllowed(room)) this.#engineName = 'direct';

    this.#pill = h('span', { class: 'pill', role: 'status', id: 'state' }, 'Connecting…');
    this.#play = h(
      'button',
      { class: 'play primary', type: 'button', id: 'play', 'aria-label': 'Pause' },
      '❚❚',
    );
    this.#seek = h('input', {
      type: 'range',
      id: 'seek',
      min: 0,
      max: 0,
      step: 'any',
      value: 0,
      'aria-label': 'Position in the broadcast',
    });
    this.#pos = h('span', { id: 'position' }, '0:00');
    this.#edge = h('span', { id: 'edge' }, '0:00');
    this.#goLive = h('button', { type: 'button', id: 'go-live' }, 'Go live');
    this.#delay = h('p', { class: 'delay', id: 'delay' }, '');
    this.#message = h(
      'p',
      { class: 'message', id: 'message', role: 'status' },
      'Connecting to the relay…',
    );
    const bar = h('i', {});
    this.#meter = h('div', { class: 'meter', 'aria-hidden': 'true' }, bar);
    this.#engineHint = h('p', { class: 'hint', id: 'engine-hint' }, '');
    const storedVolume = Number(localStorage.getItem(VOLUME_KEY) ?? '1');
    this.#volume = h('input', {
      type: 'range',
      id: 'volume',
      min: 0,
      max: 1,
      step: 0.05,
      value: Number.isFinite(storedVolume) ? storedVolume : 1,
      'aria-label': 'Volume',
    });
    this.#speed = h('select', { id: 'speed', 'aria-label': 'Playback speed' });
    for (const rate of SPEEDS) this.#speed.append(h('option', { value: rate }, `${rate}×`));
    this.#download = h(
      'button',
      { type: 'button', id: 'download', disabled: true },
      'Download recording (.opus)',
    );
    // State changes are announced once, politely (the pill's own text changes too often).
    this.#announce = h('p', { class: 'sr-only', id: 'announce', 'aria-live': 'polite' }, '');
    this.#session = new ListenMediaSession({
      play: () => {
        if (this.#paused) void this.#togglePlay();
      },
      pause: () => {
        if (!this.#paused) void this.#togglePlay();
      },
      seekTo: (t) => this.#seekTo(t),
      seekBy: (d) => this.#seekTo(Math.max(0, this.#status().position + d)),
      goLive: () => this.#seekTo('live'),
    });

    const seg = h('div', { class: 'seg', role: 'radiogroup', 'aria-label': 'Playback engine' });
    for (const [name, label] of [
      ['direct', 'Direct'],
      ['hls', 'HLS (hls.js)'],
    ] as const) {
      const radio = h('input', {
        type: 'radio',
        name: 'engine',
        value: name,
        id: `engine-${name}`,
        checked: name === this.#engineName,
        disabled: name === 'hls' && !this.#hlsAllowed(room),
      });
      radio.addEventListener('change', () => void this.#switchEngine(name));
      seg.append(h('label', {}, radio, h('span', {}, label)));
    }

    this.#player = h(
      'section',
      {
        class: 'card player',
        'data-state': 'connecting',
        'data-position': '0.00',
        'data-engine': this.#engineName,
      },
      h('div', { class: 'player-title' }, this.#title, this.#pill),
      h(
        'div',
        { class: 'transport' },
        this.#play,
        h(
          'div',
          { class: 'timeline' },
          this.#seek,
          h('div', { class: 'times' }, this.#pos, this.#edge),
        ),
        this.#goLive,
      ),
      this.#delay,
      this.#meter,
      h(
        'div',
        { class: 'controls' },
        h('label', { class: 'control' }, h('span', {}, 'Volume'), this.#volume),
        h('label', { class: 'control' }, h('span', {}, 'Speed'), this.#speed),
      ),
      this.#message,
      this.#announce,
      downloadSupported() ? h('div', { class: 'download row' }, this.#download) : null,
      h(
        'div',
        { class: 'engine' },
        h('label', { class: 'field' }, h('span', {}, 'Playback engine')),
        seg,
        this.#engineHint,
      ),
    );
    replaceChildren(
      root,
      brandHeader('Listen'),
      room?.nav,
      this.#player,
      h(
        'footer',
        { class: 'foot' },
        room
          ? 'End-to-end encrypted: the key came in the room, not from the relay.'
          : 'End-to-end encrypted: the key is in your link, not on the relay.',
      ),
    );
    this.#bind(bar);
    this.#setEngineHint();
    void this.#boot();
  }

  /** Stops playing and every timer (the Matrix pages navigate away without a reload). */
  async close(): Promise<void> {
    this.#closed.abort();
    this.#session.close();
    await this.#engine?.destroy();
    this.#engine = null;
    this.#output?.close();
    await this.#context?.close();
  }

  setVerdict(verdict: Verdict): void {
    this.#verdict = verdict;
    this.#render();
  }

  async #boot(): Promise<void> {
    await this.#pollIndex();
    const { signal } = this.#closed;
    if (signal.aborted) return;
    const poll = setInterval(() => {
      // A complete or cancelled upload changes no more: stop asking.
      if (this.#uploadOver() || this.#notFound || signal.aborted) clearInterval(poll);
      else void this.#pollIndex();
    }, INDEX_POLL_MS);
    const ui = setInterval(() => this.#render(), UI_TICK_MS);
    signal.addEventListener('abort', () => clearInterval(ui));
    if (this.#notFound) return this.#render();
    this.#context = new AudioContext({ sampleRate: 48000, latencyHint: 'interactive' });
    this.#analyser = this.#context.createAnalyser();
    this.#analyser.fftSize = 2048;
    this.#output = new MediaOutput(this.#context);
    this.#output.volume = Number(this.#volume.value);
    this.#player.append(this.#output.element);
    this.#analyser.connect(this.#output.input);
    if (this.#context.state === 'suspended') {
      // Autoplay policy: audio starts on the first click or key press.
      this.#paused = true;
      this.#message.textContent = 'Press play to listen.';
      this.#render();
      return;
    }
    await this.#startEngine('live');
  }

  #bind(bar: HTMLElement): void {
    this.#play.addEventListener('click', () => void this.#togglePlay());
    this.#download.addEventListener('click', () => void this.#startDownload());
    this.#volume.addEventListener('input', () => this.#setVolume(Number(this.#volume.value)));
    this.#speed.addEventListener('change', () => void this.#setRate(Number(this.#speed.value)));
    this.#goLive.addEventListener('click', () => this.#seekTo('live'));
    this.#seek.addEventListener('input', () => {
      this.#dragging = true;
      this.#pos.textContent = formatClock(Number(this.#seek.value));
    });
    this.#seek.addEventListener('change', () => {
      this.#dragging = false;
      this.#seekTo(Number(this.#seek.value));
    });
    // Space toggles, arrows seek by 5 s, End / L go live. The range gets the same keys so
    // that its native 'any'-step arrows do not fight ours.
    document.addEventListener(
      'keydown',
      (event) => {
        if (event.altKey || event.ctrlKey || event.metaKey) return;
        const target = event.target as HTMLElement;
        if (
          target.tagName === 'INPUT' &&
          target !== this.#seek &&
          (target as HTMLInputElement).type !== 'radio'
        )
          return;
        const position = this.#status().position;
        if (event.key === ' ' && target.tagName !== 'BUTTON') {
          event.preventDefault();
          void this.#togglePlay();
        } else if (event.key === 'ArrowLeft') {
          event.preventDefault();
          this.#seekTo(Math.max(0, position - SEEK_STEP_S));
        } else if (event.key === 'ArrowRight') {
          event.preventDefault();
          this.#seekTo(position + SEEK_STEP_S);
        } else if (event.key === 'End' || event.key === 'l') {
          event.preventDefault();
          this.#seekTo('live');
        } else if (event.key === 'ArrowUp' || event.key === 'ArrowDown') {
          if (target.tagName === 'SELECT') return;
          event.preventDefault();
          const step = event.key === 'ArrowUp' ? VOLUME_STEP : -VOLUME_STEP;
          this.#setVolume(Number(this.#volume.value) + step);
        }
      },
      { signal: this.#closed.signal },
    );
    const tick = () => {
      if (this.#analyser) {
        this.#analyser.getFloatTimeDomainData(this.#levelData);
        let sum = 0;
        for (const v of this.#levelData) sum += v * v;
        const db = 10 * Math.log10(Math.max(sum / this.#levelData.length, 1e-12));
        bar.style.transform = `scaleX(${Math.max(0, Math.min(1, (db + 60) / 60)).toFixed(3)})`;
      }
      if (!this.#closed.signal.aborted) requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
  }

  #liveEdge(): number | null {
    const index = this.#index;
    const g = this.#link.geometry ?? index?.geometry ?? null;
    if (!index || !g) return null;
    return (Math.max(0, index.block_count - 2) * g.frames_per_block * g.frame_ms) / 1000;
  }

  #uploadOver(): boolean {
    return this.#index?.state === 'complete' || this.#index?.state === 'cancelled';
  }

  async #pollIndex(): Promise<void> {
    try {
      this.#index = await this.#client.index(this.#link.mxc);
    } catch (error) {
      if ((error as { code?: string }).code === 'M_NOT_FOUND') {
        this.#notFound = true;
        void this.#engine?.destroy();
        this.#engine = null;
      }
    }
  }

  #engineHooks() {
    return { onChange: () => this.#render() };
  }

  async #startEngine(from: 'live' | number): Promise<void> {
    const context = this.#context;
    const analyser = this.#analyser;
    if (!context || !analyser || this.#notFound) return;
    await context.resume();
    if (this.#closed.signal.aborted) return;
    const common = {
      relayUrl: this.#link.relayUrl,
      mxc: this.#link.mxc,
      file: this.#file,
      context,
      destination: analyser,
      hooks: this.#engineHooks(),
      ...(this.#accessToken ? { accessToken: this.#accessToken } : {}),
      ...(this.#onPlayer ? { onPlayer: this.#onPlayer } : {}),
      ...(this.#room?.keys ? { keys: this.#room.keys } : {}),
    };
    const engine: ListenEngine =
      this.#engineName === 'hls'
        ? await createHlsEngine({
            ...common,
            geometry: this.#link.geometry ?? this.#index?.geometry ?? null,
            liveEdge: () => this.#liveEdge(),
            uploadState: () => this.#index?.state ?? null,
          })
        : new DirectEngine({ ...common, geometry: this.#link.geometry });
    this.#engine = engine;
    this.#player.dataset.engine = engine.name;
    this.#paused = false;
    await this.#output?.play();
    await engine.start(from);
    rateOf(engine)?.(this.#rate);
    this.#render();
  }

  /** The decrypted recording, streamed through the download service worker. */
  async #startDownload(): Promise<void> {
    const base = this.#link.relayUrl.replace(/\/+$/, '');
    try {
      await startDownload({
        url: `${base}/_matrix/client/v1/media/download/${mxcPath(this.#link.mxc)}`,
        file: this.#file,
        name: recordingName(this.#roomTitle ?? 'broadcast'),
        ...((this.#room?.keys?.epochs.length ?? 0) > 1
          ? { epochs: [...(this.#room?.keys?.epochs ?? [])] }
          : {}),
        ...(this.#accessToken ? { accessToken: this.#accessToken } : {}),
      });
      this.#download.dataset.started = 'true';
    } catch (error) {
      this.#message.textContent = `The download could not start: ${(error as Error).message}`;
    }
  }

  /**
   * HLS needs MSE with Opus in MP4; key epochs go to its remuxer as they do to the direct
   * player (hls-engine.ts), so a rekeyed room broadcast plays there too.
   */
  #hlsAllowed(_room: RoomListen | undefined): boolean {
    return hlsSupported();
  }

  #setVolume(value: number): void {
    const v = Math.max(0, Math.min(1, Math.round(value * 100) / 100));
    this.#volume.value = String(v);
    if (this.#output) this.#output.volume = v;
    localStorage.setItem(VOLUME_KEY, String(v));
  }

  /**
   * Speed for the past (docs/web.md "Speed"). The HLS engine's media element time-stretches with
   * the pitch kept; the direct engine plays PCM at the clock of the AudioContext and cannot, so
   * a speed ≠ 1 moves playback to the HLS engine at the same position, and back at 1×.
   */
  async #setRate(rate: number): Promise<void> {
    const next = SPEEDS.includes(rate as (typeof SPEEDS)[number]) ? rate : 1;
    this.#rate = next;
    this.#speed.value = String(next);
    this.#player.dataset.rate = String(next);
    const engine = this.#engine;
    if (next !== 1 && this.#engineName !== 'hls' && this.#hlsAllowed(this.#room)) {
      this.#chosenEngine = this.#engineName;
      await this.#switchEngine('hls', false);
    } else if (next === 1 && this.#chosenEngine && this.#chosenEngine !== this.#engineName) {
      const back = this.#chosenEngine;
      this.#chosenEngine = null;
      await this.#switchEngine(back, false);
    } else if (engine) {
      rateOf(engine)?.(next);
    }
    this.#render();
  }

  async #switchEngine(name: EngineName, remember = true): Promise<void> {
    if (name === this.#engineName) return;
    const status = this.#status();
    const wasLive = status.state === 'live' || status.state === 'connecting';
    this.#engineName = name;
    if (remember) {
      localStorage.setItem(ENGINE_KEY, name);
      this.#chosenEngine = null;
    }
    for (const radio of this.#player.querySelectorAll<HTMLInputElement>('input[name=engine]'))
      radio.checked = radio.value === name;
    this.#setEngineHint();
    await this.#engine?.destroy();
    this.#engine = null;
    if (!this.#paused) await this.#startEngine(wasLive ? 'live' : status.position);
  }

  #setEngineHint(): void {
    this.#engineHint.textContent =
      this.#engineName === 'direct'
        ? 'Direct: blocks over a WebSocket, decoded here. Lowest delay behind live.'
        : 'HLS: hls.js plays the relay’s playlist through the browser’s media stack. A few seconds more delay; smooth seeking over long back-buffers.';
  }

  async #togglePlay(): Promise<void> {
    if (this.#paused) {
      const from = this.#pausedAt > 0 ? this.#pausedAt : 'live';
      await this.#startEngine(from);
    } else {
      this.#pausedAt = this.#status().position;
      this.#paused = true;
      this.#output?.pause();
      await this.#engine?.destroy();
      this.#engine = null;
      this.#render();
    }
  }

  #seekTo(to: number | 'live'): void {
    if (this.#paused) {
      void this.#startEngine(to);
      return;
    }
    const state = this.#engine?.status().state;
    // A direct player that has read the whole recording may still be heard (whileHeard): it has
    // stopped reading all the same, so a seek is a new start too.
    const readerOver = this.#engine instanceof DirectEngine && this.#engine.readerOver;
    if (state === 'finished' || state === 'ended-without-finishing' || readerOver) {
      // A player that reached the end has stopped reading: listening again is a new start.
      const engine = this.#engine;
      this.#engine = null;
      void engine?.destroy().then(() => this.#startEngine(to));
      return;
    }
    const edge = this.#liveEdge();
    const target = to === 'live' || edge === null ? to : Math.min(to, edge);
    this.#engine?.seek(target);
    this.#render();
  }

  #status(): EngineStatus {
    if (this.#notFound) {
      return {
        state: 'error',
        position: 0,
        delayBehindLive: null,
        errorCode: 'NOT_FOUND',
        errorMessage: 'not found',
      };
    }
    if (this.#paused || !this.#engine) {
      return {
        state: this.#paused ? 'stopped' : 'connecting',
        position: this.#pausedAt,
        delayBehindLive: null,
      };
    }
    return this.#engine.status();
  }

  #render(): void {
    const status = this.#status();
    const state: ListenState = status.state;
    const plain = stateView(status, this.#index, this.#paused);
    const verdict = this.#verdict ? verdictView(this.#verdict, state) : null;
    const view = verdict ?? plain;
    const p = this.#player;
    p.dataset.state = state;
    if (p.dataset.view !== view.view) {
      p.dataset.view = view.view;
      this.#announce.textContent = `${view.pill}. ${view.message}`;
    }
    p.dataset.position = status.position.toFixed(2);
    if (status.errorCode) p.dataset.error = status.errorCode;
    else delete p.dataset.error;
    this.#pill.textContent = view.pill;
    this.#pill.dataset.tone = view.tone;
    this.#message.textContent = view.message;
    this.#message.dataset.tone = view.tone === 'err' ? 'err' : view.tone === 'ok' ? 'ok' : '';
    const over = state === 'error';
    this.#play.disabled = over;
    this.#seek.disabled = over;
    this.#goLive.disabled = over || this.#uploadOver() || state === 'live';
    const playing =
      !this.#paused && !['finished', 'ended-without-finishing', 'error', 'stopped'].includes(state);
    this.#play.textContent = playing ? '❚❚' : '▶';
    this.#play.setAttribute('aria-label', playing ? 'Pause' : 'Play');

    // The engine may know newer audio than the last index poll: take whichever is further.
    const engineEdge =
      status.delayBehindLive === null ? 0 : status.position + status.delayBehindLive;
    const edge = Math.max(this.#liveEdge() ?? 0, this.#uploadOver() ? 0 : engineEdge);
    const max = Math.max(edge, status.position);
    this.#seek.max = max.toFixed(2);
    if (!this.#dragging) {
      this.#seek.value = status.position.toFixed(2);
      this.#pos.textContent = formatClock(status.position);
    }
    this.#edge.textContent = this.#uploadOver() ? formatClock(edge) : `${formatClock(edge)} live`;
    this.#delay.textContent = view.delay;
    const upload = this.#index?.state;
    // From a room the broadcaster's title stays; the state pill says live or recorded.
    this.#title.textContent =
      this.#roomTitle ??
      (upload === 'complete'
        ? 'Recorded broadcast'
        : upload === 'cancelled'
          ? 'Broadcast (ended early)'
          : 'Live broadcast');
    this.#meter.classList.toggle('idle', !playing);
    document.title = `${view.pill} · mxcast`;

    // Faster than live is impossible: at the live edge the speed is 1× and the choice disabled.
    const atEdge = state === 'live';
    this.#speed.disabled = over || atEdge || !this.#hlsAllowed(this.#room);
    // The whole recording exists once the upload completed (a cancelled one has no end).
    this.#download.disabled = this.#index?.state !== 'complete';
    if (atEdge && this.#rate !== 1 && !this.#paused) void this.#setRate(1);
    this.#session.setInfo({
      title: this.#title.textContent ?? 'Live broadcast',
      ...(this.#room?.broadcaster ? { broadcaster: this.#room.broadcaster } : {}),
      ...(this.#room?.roomName ? { room: this.#room.roomName } : {}),
    });
    this.#session.update(playing, status.position, max, this.#rate);
  }
}
