/**
 * Media Session (W3C Media Session API) for the listener: title, broadcaster and room on the
 * lock screen and in the notification, and its buttons wired to the page (docs/web.md
 * "Background playback"). Lock screens have no "go live" button: "next track" — the button that
 * skips forward to the end of something — jumps to the live edge.
 */

export interface SessionInfo {
  title: string;
  broadcaster?: string;
  room?: string;
}

export interface SessionControls {
  play(): void;
  pause(): void;
  /** Seconds from the start of the broadcast. */
  seekTo(seconds: number): void;
  seekBy(seconds: number): void;
  goLive(): void;
}

/** The lock screen's default skip (seconds) when it does not say. */
const DEFAULT_SKIP_S = 10;

const ACTIONS = [
  'play',
  'pause',
  'stop',
  'seekbackward',
  'seekforward',
  'seekto',
  'nexttrack',
] as const;

export class ListenMediaSession {
  readonly #session: MediaSession | null;
  #key = '';

  constructor(controls: SessionControls) {
    this.#session =
      typeof navigator !== 'undefined' && navigator.mediaSession ? navigator.mediaSession : null;
    const session = this.#session;
    if (!session) return;
    const handlers: Record<(typeof ACTIONS)[number], MediaSessionActionHandler> = {
      play: () => controls.play(),
      pause: () => controls.pause(),
      stop: () => controls.pause(),
      seekbackward: (d) => controls.seekBy(-(d.seekOffset ?? DEFAULT_SKIP_S)),
      seekforward: (d) => controls.seekBy(d.seekOffset ?? DEFAULT_SKIP_S),
      seekto: (d) => {
        if (d.seekTime !== undefined) controls.seekTo(d.seekTime);
      },
      nexttrack: () => controls.goLive(),
    };
    for (const action of ACTIONS) {
      try {
        session.setActionHandler(action, handlers[action]);
      } catch {
        // A browser that does not know an action throws: the others still work.
      }
    }
  }

  /** Sets the metadata when it changed (a new MediaMetadata makes the OS redraw). */
  setInfo(info: SessionInfo): void {
    const session = this.#session;
    if (!session || typeof MediaMetadata === 'undefined') return;
    const key = JSON.stringify(info);
    if (key === this.#key) return;
    this.#key = key;
    session.metadata = new MediaMetadata({
      title: info.title,
      artist: info.broadcaster ?? '',
      album: info.room ?? 'mxcast',
    });
  }

  /** Playing or paused on the lock screen, and where the position is on its bar. */
  update(playing: boolean, position: number, duration: number, rate: number): void {
    const session = this.#session;
    if (!session) return;
    session.playbackState = playing ? 'playing' : 'paused';
    if (typeof session.setPositionState !== 'function' || !(duration > 0)) return;
    try {
      session.setPositionState({
        duration,
        position: Math.min(Math.max(0, position), duration),
        playbackRate: rate,
      });
    } catch {
      // Out-of-range values throw; the next tick sets a consistent state.
    }
  }

  close(): void {
    const session = this.#session;
    if (!session) return;
    for (const action of ACTIONS) {
      try {
        session.setActionHandler(action, null);
      } catch {
        // see the constructor
      }
    }
    session.metadata = null;
    session.playbackState = 'none';
  }
}
