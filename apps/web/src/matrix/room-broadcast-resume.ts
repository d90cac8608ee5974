/**
 * Reload and resume for a room broadcast (docs/web.md "Reload and resume"): the page's resume
 * state in IndexedDB (broadcast/resume-store.ts) is written on every relay ack (and, with a
 * recovery passphrase, mirrored to secret storage: room-resume-backup.ts); a room page
 * loaded later on the same browser and device offers an unfinished broadcast of this device, and
 * Resume continues the same media as `mxcast capture --resume` does (docs/matrix.md "Resume from
 * any device"): the relay's stored offset (tus HEAD, a block boundary) picks the point, the
 * reporter attaches to the announced broadcast (state `resumed`, no second announcement).
 */
import { MediaClient } from '@mxcast/client';
import {
  BROADCAST_STATE_TYPE,
  CAPTURE_STATE_PREFIX,
  parseBroadcastState,
  type RoomCaptureOptions,
} from '@mxcast/matrix/browser';
import type { Epoch } from '@mxcast/format';
import { presetGeometry, WEB_PRESETS } from '../broadcast/broadcast-presets.ts';
import type { SessionResume } from '../broadcast/broadcast-session.ts';
import { pointAt, type ResumePoint } from '../broadcast/resume-points.ts';
import { pointAfter, pointFromIndex } from './relay-resume-point.ts';
import {
  formatAgo,
  type ResumeStore,
  type ResumeSummary,
  type WebResumeState,
} from '../broadcast/resume-store.ts';
import { brandHeader, h, replaceChildren } from '../ui/dom.ts';
import type { WebMatrixSession } from './matrix-web-session.ts';
import type { BackupMirror } from './room-resume-backup.ts';

type Broadcast = NonNullable<RoomCaptureOptions['resume']>;

export function ownerOf(session: WebMatrixSession): { userId: string; deviceId: string } {
  return { userId: session.userId, deviceId: session.client.getDeviceId() ?? '' };
}

/** The room's state event for the broadcast, or null when it is gone or `stopped`. */
function liveState(session: WebMatrixSession, roomId: string, broadcastId: string) {
  const ev = session.client
    .getRoom(roomId)
    ?.currentState.getStateEvents(BROADCAST_STATE_TYPE, broadcastId);
  const st = ev ? parseBroadcastState(ev.getContent()) : null;
  return st && st.state !== 'stopped' ? st : null;
}

function stoppedInRoom(session: WebMatrixSession, roomId: string, broadcastId: string): boolean {
  const ev = session.client
    .getRoom(roomId)
    ?.currentState.getStateEvents(BROADCAST_STATE_TYPE, broadcastId);
  return ev ? parseBroadcastState(ev.getContent())?.state === 'stopped' : false;
}

/**
 * The newest unfinished broadcast of this user and device in the room. States of broadcasts the
 * room says are stopped (finished elsewhere, or the stop's clear was lost) are dropped.
 */
export async function findOffer(
  store: ResumeStore,
  session: WebMatrixSession,
  roomId: string,
): Promise<ResumeSummary | null> {
  for (const summary of await store.list(ownerOf(session))) {
    if (summary.roomId !== roomId) continue;
    const state = await store.load(summary.mxc);
    if (state && liveState(session, roomId, state.broadcastId)) return summary;
    // Forgotten only when the room says so (or the state does not open): a room not synced
    // yet must not cost a resume.
    if (!state || stoppedInRoom(session, roomId, state.broadcastId)) {
      await store.clear(summary.mxc);
    }
  }
  return null;
}

/** The Broadcast the reporter attaches to, rebuilt from the state (as findResumable does). */
export function broadcastOf(session: WebMatrixSession, state: WebResumeState): Broadcast {
  const st = liveState(session, state.roomId, state.broadcastId);
  if (!st) throw new Error('the broadcast is no longer live in the room');
  return {
    roomId: state.roomId,
    broadcastId: state.broadcastId,
    announcementEventId: state.announcementEventId,
    announcement: {
      broadcastId: state.broadcastId,
      title: state.title,
      file: { ...state.file, url: state.mxc },
      geometry: state.geometry,
      startedTs: state.startedTs,
    },
    state: st,
  };
}

/**
 * Where the stream goes on: the relay's stored offset must end at a saved block boundary (the
 * acked one or one emitted after it), else the Ogg stream could not continue without a gap.
 */
export async function sessionResumeOf(
  state: WebResumeState,
  relayUrl: string,
  accessToken: string,
): Promise<SessionResume> {
  const client = new MediaClient({ baseUrl: relayUrl, accessToken });
  const { offset } = await client.tusOffset(state.mxc);
  const acked = {
    nextSeq: state.nextSeq,
    offset: state.offset,
    serial: state.serial,
    pageSeq: state.pageSeq,
    granule: state.granule,
  };
  const point =
    pointAt(offset, acked, state.ahead ?? []) ??
    pointAfter(offset, state) ??
    (await pointFromIndex(client, state, offset));
  if (!point) {
    throw new Error(`the relay holds ${offset} bytes, which is no block this tab recorded`);
  }
  return { mxc: state.mxc, file: state.file, epochs: state.epochs, point };
}

/** The preset whose declared geometry the broadcast has (the state keeps its name). */
export function presetNameOf(geometry: WebResumeState['geometry']): string {
  const same = WEB_PRESETS.find(
    (p) => JSON.stringify(presetGeometry(p)) === JSON.stringify(geometry),
  );
  return same?.name ?? 'voice';
}

/**
 * Keeps one room broadcast's resume state: the fixed parts once it is announced (or attached),
 * then the point the relay stored on every ack; cleared when it ends (Stop, Cancel).
 */
export class RoomResumeRecorder {
  readonly #store: ResumeStore;
  readonly #session: WebMatrixSession;
  readonly #roomId: string;
  readonly resuming: WebResumeState | null;
  /** The secret-storage copy (room-resume-backup.ts), when a recovery passphrase was given. */
  readonly mirror: BackupMirror | null;
  #staleCleared: Promise<void> | null = null;
  #base: Omit<
    WebResumeState,
    'nextSeq' | 'offset' | 'serial' | 'pageSeq' | 'granule' | 'ahead' | 'epochs' | 'updatedTs'
  > | null = null;

  constructor(
    store: ResumeStore,
    session: WebMatrixSession,
    roomId: string,
    resuming: WebResumeState | null,
    mirror: BackupMirror | null = null,
  ) {
    this.#store = store;
    this.#session = session;
    this.#roomId = roomId;
    this.resuming = resuming;
    this.mirror = mirror;
  }

  /** roomCapture's `resume` and roomEpochs' `known` for a resumed broadcast. */
  captureOptions(): { resume?: Broadcast } {
    return this.resuming ? { resume: broadcastOf(this.#session, this.resuming) } : {};
  }
  knownEpochs() {
    return (this.resuming?.epochs ?? [])
      .slice(1)
      .map((e, i) => ({ index: i + 1, startSeq: e.startSeq, key: e.key, iv: e.iv }));
  }

  created(
    info: { file: WebResumeState['file']; geometry: WebResumeState['geometry']; title: string },
    broadcast: { broadcastId: string; announcementEventId: string },
  ): void {
    const mxc = info.file.url ?? this.resuming?.mxc ?? '';
    this.#base = {
      version: 1,
      relayUrl: location.origin,
      mxc,
      ...ownerOf(this.#session),
      roomId: this.#roomId,
      broadcastId: broadcast.broadcastId,
      announcementEventId: broadcast.announcementEventId,
      file: info.file,
      preset: presetNameOf(info.geometry),
      geometry: info.geometry,
      title: this.resuming?.title ?? info.title,
      startedTs: this.resuming?.startedTs ?? Date.now(),
    };
  }

  point(point: ResumePoint, ahead: readonly ResumePoint[], epochs: readonly Epoch[]): void {
    if (!this.#base) return;
    const { nextSeq, offset, serial, pageSeq, granule } = point;
    const state: WebResumeState = {
      ...this.#base,
      nextSeq,
      offset,
      serial,
      pageSeq,
      granule,
      ahead: [...ahead],
      epochs: [...epochs],
      updatedTs: Date.now(),
    };
    // A failed write costs only the resume of this broadcast, never the broadcast itself.
    this.#store.save(state).catch((e: unknown) => console.warn('resume state not saved', e));
    this.mirror?.update(state);
  }

  /**
   * A key epoch about to be announced: into the secret first (room-resume-backup.ts). A resumed
   * broadcast going on without the passphrase cannot update its secret, and a secret missing
   * an epoch the room was told of would make another device seal blocks under the wrong key:
   * so it is emptied (no key needed for that) before the first such epoch goes out. A secret
   * that is only behind in blocks stays: a resume moves it to the relay's offset.
   */
  async epoch(epoch: Epoch): Promise<void> {
    if (this.mirror) return this.mirror.epoch(epoch);
    const id = this.resuming?.broadcastId;
    if (id) {
      this.#staleCleared ??= clearStaleSecret(this.#session, id);
      await this.#staleCleared;
    }
  }

  async ended(): Promise<void> {
    const mxc = this.#base?.mxc ?? this.resuming?.mxc;
    if (mxc) await this.#store.clear(mxc).catch(() => undefined);
    const id = this.#base?.broadcastId ?? this.resuming?.broadcastId;
    if (id) await this.mirror?.ended(id);
  }
}

/** Empties the broadcast's secret when it holds one (see RoomResumeRecorder.epoch). */
async function clearStaleSecret(session: WebMatrixSession, broadcastId: string): Promise<void> {
  const type = `${CAPTURE_STATE_PREFIX}${broadcastId}` as never;
  try {
    const held = (await session.client.getAccountDataFromServer(type)) as {
      encrypted?: object;
    } | null;
    if (held?.encrypted) await session.client.setAccountData(type, {} as never);
  } catch (error) {
    console.warn('a stale resume backup was not emptied', error);
  }
}

/**
 * "Resume broadcast 'TITLE' (stopped 0:23 ago)" / "Discard" before the broadcaster page.
 * Discard forgets the local state only: the room keeps the broadcast as it was left
 * (interrupted, as the CLI leaves it), it is not cancelled.
 */
export function offerResume(
  root: HTMLElement,
  summary: ResumeSummary,
  nav: HTMLElement,
  /** The optional recovery passphrase field: the resumed run keeps the backup up to date. */
  extra: HTMLElement | null = null,
): Promise<'resume' | 'discard'> {
  return new Promise((resolve) => {
    const ago = formatAgo(Date.now() - summary.updatedTs);
    const resume = h(
      'button',
      { class: 'primary big', type: 'button', id: 'resume-broadcast' },
      'Resume broadcast',
    );
    const discard = h(
      'button',
      { class: 'link', type: 'button', id: 'discard-broadcast' },
      'Discard',
    );
    resume.addEventListener('click', () => resolve('resume'));
    discard.addEventListener('click', () => resolve('discard'));
    replaceChildren(
      root,
      brandHeader('Unfinished broadcast'),
      nav,
      h(
        'section',
        { class: 'card', id: 'resume-offer', 'data-mxc': summary.mxc },
        h('p', { id: 'resume-text' }, `Resume broadcast '${summary.title}' (stopped ${ago} ago)`),
        extra,
        h('div', { class: 'actions' }, resume, discard),
      ),
    );
  });
}
