/**
 * The Matrix pages of the web app (docs/web.md "Matrix"), at `/rooms`: log in, the user's joined
 * rooms with the live ones marked, a room's broadcasts (live and past) from @mxcast/matrix's
 * listing (the CLI's own), and listening to one with the key from its decrypted announcement.
 * Where the user is lives in the address (`/rooms?room=…&broadcast=…`), so Back and reload work.
 */
import { buildListenLink, MediaClient, parseListenLink } from '@mxcast/client';
import {
  BROADCAST_STATE_TYPE,
  parseBroadcastState,
  openResumeBackup,
  roomCapture,
  roomEpochs,
  watchBroadcasts,
  type ResumeBackup,
  type BroadcastListing,
  type BroadcastWatch,
  type StreamOutcome,
} from '@mxcast/matrix/browser';
import {
  KnownMembership,
  RoomEvent,
  RoomStateEvent,
  type MatrixEvent,
  type Room,
} from 'matrix-js-sdk';
import { brandHeader, formatClock, h, replaceChildren } from '../ui/dom.ts';
import { listRoomBroadcasts, roomListen } from './room-broadcasts.ts';
import { RoomClaimsCheck } from './room-claims-check.ts';
import {
  findOffer,
  offerResume,
  RoomResumeRecorder,
  sessionResumeOf,
} from './room-broadcast-resume.ts';
import { ResumeStore, type WebResumeState } from '../broadcast/resume-store.ts';
import { backupStatusLine, offerBackupResume, unlockBackup } from './room-backup-offer.ts';
import { findBackupOffer } from './room-resume-backup.ts';
import { webRoomEpochKeys } from './room-epoch-keys.ts';
import type { MountedListener } from '../listen/listener-page.ts';
import { login, openSession, savedLogin, type WebMatrixSession } from './matrix-web-session.ts';

export async function mountMatrixApp(root: HTMLElement): Promise<void> {
  const saved = savedLogin();
  if (!saved) {
    showLogin(root);
    return;
  }
  replaceChildren(
    root,
    brandHeader('Rooms'),
    h('p', { class: 'muted', role: 'status' }, 'Connecting to your homeserver…'),
  );
  let session: WebMatrixSession;
  try {
    session = await openSession(saved);
  } catch (error) {
    showLogin(root, `Could not open your session: ${(error as Error).message}`);
    return;
  }
  new MatrixApp(root, session).route();
}

function showLogin(root: HTMLElement, notice = ''): void {
  const homeserver = h('input', {
    type: 'url',
    id: 'mx-homeserver',
    name: 'homeserver',
    value: location.origin,
    required: true,
    autocomplete: 'url',
  });
  const user = h('input', { type: 'text', id: 'mx-user', name: 'user', autocomplete: 'username' });
  const password = h('input', {
    type: 'password',
    id: 'mx-password',
    name: 'password',
    autocomplete: 'current-password',
  });
  const token = h('input', {
    type: 'password',
    id: 'mx-token',
    name: 'token',
    autocomplete: 'off',
  });
  const message = h(
    'p',
    { class: 'notice', id: 'mx-login-message', role: 'alert', 'data-tone': 'err' },
    notice,
  );
  message.hidden = !notice;
  const submit = h('button', { type: 'submit', class: 'primary big' }, 'Log in');
  const form = h(
    'form',
    { class: 'card', id: 'mx-login', 'aria-labelledby': 'mx-login-title' },
    h('h1', { id: 'mx-login-title' }, 'Log in with Matrix'),
    h(
      'p',
      { class: 'muted' },
      'Broadcast into your rooms or listen to them. Your device and its encryption keys stay in this browser until you log out.',
    ),
    h('label', { class: 'field' }, h('span', {}, 'Homeserver'), homeserver),
    h('label', { class: 'field' }, h('span', {}, 'User'), user),
    h('label', { class: 'field' }, h('span', {}, 'Password'), password),
    h('p', { class: 'hint' }, 'Or, instead of user and password:'),
    h('label', { class: 'field' }, h('span', {}, 'Access token'), token),
    message,
    h('div', { class: 'row' }, submit),
  );
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const auth = token.value.trim()
      ? { accessToken: token.value.trim() }
      : { user: user.value.trim(), password: password.value };
    if (!('accessToken' in auth) && (!auth.user || !auth.password)) {
      message.textContent = 'Give a user and password, or an access token.';
      message.hidden = false;
      return;
    }
    submit.disabled = true;
    message.hidden = true;
    void login(homeserver.value.trim(), auth)
      .then(() => mountMatrixApp(root))
      .catch((error: unknown) => {
        submit.disabled = false;
        message.textContent = `Login failed: ${(error as Error).message}`;
        message.hidden = false;
      });
  });
  replaceChildren(root, brandHeader('Rooms'), form);
  user.focus();
}

/** A live broadcast in the room: a state event that is not `stopped`. */
function hasLiveBroadcast(room: Room): boolean {
  return room.currentState.getStateEvents(BROADCAST_STATE_TYPE).some((ev) => {
    const st = parseBroadcastState(ev.getContent());
    return st !== null && st.state !== 'stopped';
  });
}

/**
 * While on air, leaving the broadcaster page would drop its controls with the broadcast still
 * running: Back and Log out point at Stop instead. True when it held the user back.
 */
function onAirGuard(): boolean {
  if (!document.querySelector('#live')) return false;
  const notice = document.querySelector<HTMLElement>('#notice');
  if (notice) notice.textContent = 'You are on air: stop or cancel the broadcast first.';
  document.querySelector<HTMLElement>('#stop')?.focus();
  return true;
}

/** The end of a room broadcast as the sender's claims tell it (StreamOutcome, docs/matrix.md). */
const OUTCOME_TEXT: Record<StreamOutcome, (who: string) => string> = {
  finished: (who) => `Finished: every block ${who} vouched for arrived`,
  cancelled: (who) => `Cancelled by ${who}`,
  cut: (who) => `Cut by the relay: ${who} vouched for more than it served`,
  interrupted: (who) => `Interrupted: ${who} never said it ended`,
};

const STATE_LABEL: Record<string, string> = {
  started: 'Live',
  resumed: 'Live',
  paused: 'Paused',
  stopped: 'Ended',
};

class MatrixApp {
  readonly #root: HTMLElement;
  readonly #session: WebMatrixSession;
  #cleanup: (() => void) | null = null;

  constructor(root: HTMLElement, session: WebMatrixSession) {
    this.#root = root;
    this.#session = session;
    addEventListener('popstate', () => this.route());
  }

  go(params: Record<string, string>): void {
    const q = new URLSearchParams(params).toString();
    history.pushState(null, '', `/rooms${q ? `?${q}` : ''}`);
    this.route();
  }

  route(): void {
    this.#cleanup?.();
    this.#cleanup = null;
    const q = new URLSearchParams(location.search);
    const room = q.get('room');
    const broadcast = q.get('broadcast');
    if (room && broadcast === 'new') void this.#broadcast(room);
    else if (room && broadcast) void this.#listen(room, broadcast);
    else if (room) this.#room(room);
    else this.#rooms();
  }

  #header(): HTMLElement {
    const logout = h('button', { type: 'button', id: 'logout', class: 'link' }, 'Log out');
    logout.addEventListener('click', () => {
      if (onAirGuard()) return;
      logout.disabled = true;
      this.#cleanup?.();
      void this.#session.logout().finally(() => {
        history.pushState(null, '', '/rooms');
        showLogin(this.#root, '');
      });
    });
    return h(
      'div',
      { class: 'row spread mx-user' },
      h('span', { class: 'muted', id: 'mx-whoami' }, this.#session.userId),
      logout,
    );
  }

  #nav(label: string, params: Record<string, string>): HTMLElement {
    const back = h(
      'a',
      { href: `/rooms?${new URLSearchParams(params).toString()}`, class: 'back', id: 'back' },
      `← ${label}`,
    );
    back.addEventListener('click', (ev) => {
      ev.preventDefault();
      if (onAirGuard()) return;
      this.go(params);
    });
    return h('nav', { class: 'mx-nav', 'aria-label': 'Back' }, back, this.#header());
  }

  #rooms(): void {
    const { client } = this.#session;
    const list = h('ul', { class: 'mx-list', id: 'rooms', 'aria-label': 'Your rooms' });
    const render = (): void => {
      const rooms = client
        .getRooms()
        .filter((r) => r.getMyMembership() === KnownMembership.Join)
        .map((r) => ({ room: r, live: hasLiveBroadcast(r) }))
        .sort((a, b) => Number(b.live) - Number(a.live) || a.room.name.localeCompare(b.room.name));
      replaceChildren(
        list,
        ...rooms.map(({ room, live }) => {
          const a = h(
            'a',
            {
              href: `/rooms?room=${encodeURIComponent(room.roomId)}`,
              class: 'mx-item',
              'data-room-id': room.roomId,
              'data-live': live ? 'true' : 'false',
            },
            h('span', { class: 'mx-name' }, room.name || room.roomId),
            live ? h('span', { class: 'pill', 'data-tone': 'live' }, 'Live') : null,
          );
          a.addEventListener('click', (ev) => {
            ev.preventDefault();
            this.go({ room: room.roomId });
          });
          return h('li', {}, a);
        }),
      );
      if (rooms.length === 0)
        list.append(h('li', { class: 'muted' }, 'You have not joined any room yet.'));
    };
    render();
    // Rooms joined, broadcasts started or stopped while the page is open.
    const onState = (): void => render();
    client.on(RoomStateEvent.Events, onState);
    client.on(RoomEvent.MyMembership, onState);
    this.#cleanup = () => {
      client.off(RoomStateEvent.Events, onState);
      client.off(RoomEvent.MyMembership, onState);
    };
    replaceChildren(
      this.#root,
      brandHeader('Rooms'),
      h('nav', { class: 'mx-nav', 'aria-label': 'Account' }, h('span', {}), this.#header()),
      h('section', { class: 'card', id: 'rooms-page' }, h('h1', {}, 'Your rooms'), list),
    );
  }

  #room(roomId: string): void {
    const room = this.#session.client.getRoom(roomId);
    const table = h('tbody', {});
    const status = h(
      'p',
      { class: 'muted', role: 'status', id: 'broadcasts-status' },
      'Loading broadcasts…',
    );
    const rows = new Map<string, BroadcastListing>();
    let shown = false;
    const tick = setInterval(() => {
      // The page was left (the table, once shown, is no longer in the document): stop.
      if (!table.isConnected) return shown ? clearInterval(tick) : undefined;
      shown = true;
      for (const td of table.querySelectorAll<HTMLElement>('td[data-started-ts]'))
        td.textContent = formatClock((Date.now() - Number(td.dataset.startedTs)) / 1000);
    }, 1000);
    const render = (): void => {
      const all = [...rows.values()].sort((a, b) => b.startedTs - a.startedTs);
      status.textContent = all.length ? '' : 'No broadcast in this room yet.';
      replaceChildren(
        table,
        ...all.map((b) => {
          const listen = h(
            'button',
            {
              type: 'button',
              class: b.live ? 'primary' : '',
              'data-listen': b.broadcastId,
              // Every row's button says Listen: the name says which one for a screen reader.
              'aria-label': `Listen to ${b.title ?? 'this broadcast'}`,
            },
            'Listen',
          );
          listen.addEventListener('click', () =>
            this.go({ room: roomId, broadcast: b.broadcastId }),
          );
          return h(
            'tr',
            {
              'data-broadcast-id': b.broadcastId,
              'data-state': b.state,
              'data-live': b.live ? 'true' : 'false',
            },
            h('th', { scope: 'row' }, b.title ?? '(no key for this device yet)'),
            h('td', { 'data-label': 'Broadcaster' }, b.broadcaster),
            h(
              'td',
              { 'data-label': 'Started' },
              new Date(b.startedTs).toLocaleString([], { dateStyle: 'short', timeStyle: 'short' }),
            ),
            h(
              'td',
              // A live row's duration ticks (below); a stopped one is fixed.
              { 'data-label': 'Duration', 'data-started-ts': b.live ? b.startedTs : null },
              formatClock(b.durationMs / 1000),
            ),
            h(
              'td',
              { 'data-label': 'State' },
              h(
                'span',
                {
                  class: 'pill',
                  'data-tone': b.live ? (b.state === 'paused' ? 'warn' : 'live') : 'ok',
                },
                STATE_LABEL[b.state] ?? b.state,
              ),
            ),
            h('td', {}, listen),
          );
        }),
      );
    };
    const goLive = h(
      'button',
      { type: 'button', class: 'primary', id: 'broadcast-here' },
      'Go live here',
    );
    goLive.addEventListener('click', () => this.go({ room: roomId, broadcast: 'new' }));
    const relist = (): void => {
      void listRoomBroadcasts(this.#session, roomId).then(
        (list) => {
          for (const b of list) rows.set(b.broadcastId, b);
          render();
        },
        (error: unknown) => {
          status.textContent = `Could not list the broadcasts: ${(error as Error).message}`;
        },
      );
    };
    relist();
    // State changes come through the watch; a re-announcement (the key reaching this device
    // late, docs/matrix.md "Key re-share") is a timeline event: list again, at most every 1 s.
    const watch: BroadcastWatch = watchBroadcasts(this.#session, roomId, (b) => {
      rows.set(b.broadcastId, b);
      render();
    });
    let timer: ReturnType<typeof setTimeout> | undefined;
    const onTimeline = (ev: MatrixEvent): void => {
      if (ev.getRoomId() !== roomId || timer) return;
      timer = setTimeout(() => {
        timer = undefined;
        relist();
      }, 1000);
    };
    const { client } = this.#session;
    client.on(RoomEvent.Timeline, onTimeline);
    this.#cleanup = () => {
      watch.stop();
      clearTimeout(timer);
      client.off(RoomEvent.Timeline, onTimeline);
    };
    replaceChildren(
      this.#root,
      brandHeader('Room'),
      this.#nav('Rooms', {}),
      h(
        'section',
        { class: 'card', id: 'room-page', 'data-room-id': roomId },
        h('div', { class: 'row spread' }, h('h1', {}, room?.name ?? roomId), goLive),
        h('h2', {}, 'Broadcasts'),
        status,
        h(
          'div',
          { class: 'mx-table-wrap' },
          h(
            'table',
            { class: 'mx-table', id: 'broadcasts' },
            h(
              'thead',
              {},
              h(
                'tr',
                {},
                ...['Title', 'Broadcaster', 'Started', 'Duration', 'State', ''].map((t) =>
                  h('th', { scope: 'col' }, t),
                ),
              ),
            ),
            table,
          ),
        ),
      ),
    );
  }

  /** Going live from the microphone into the room (src/broadcast with the room's hooks). */
  async #broadcast(roomId: string): Promise<void> {
    const session = this.#session;
    const room = session.client.getRoom(roomId);
    const { mountBroadcasterPage } = await import('../broadcast/broadcaster-page.ts');
    // Reload and resume (docs/web.md): an unfinished broadcast of this device is offered first.
    const store = await ResumeStore.open().catch(() => null);
    const offer = store ? await findOffer(store, session, roomId).catch(() => null) : null;
    let resuming: WebResumeState | null = null;
    // The secret-storage copy (docs/matrix.md "Resume from any device"), when opened.
    let backup: Promise<ResumeBackup> | null = null;
    const passphrase = h('input', {
      type: 'password',
      id: 'recovery-passphrase',
      name: 'recovery-passphrase',
      autocomplete: 'off',
    });
    if (store && offer) {
      const choice = await offerResume(
        this.#root,
        offer,
        this.#nav('Room', { room: roomId }),
        h(
          'label',
          { class: 'field' },
          h('span', {}, 'Recovery passphrase (optional: keeps your backup up to date)'),
          passphrase,
        ),
      );
      if (choice === 'resume') resuming = await store.load(offer.mxc);
      else await store.clear(offer.mxc);
    } else if (store) {
      // Nothing here in IndexedDB (another browser, a lost profile): the account's backup.
      const fromBackup = await findBackupOffer(session, roomId).catch(() => null);
      if (fromBackup) {
        const unlocked = await offerBackupResume(
          this.#root,
          fromBackup,
          this.#nav('Room', { room: roomId }),
          (passphrase) => unlockBackup(session, roomId, passphrase),
        );
        if (unlocked) {
          resuming = unlocked.state;
          backup = Promise.resolve(unlocked.backup);
        }
      }
    }
    let sessionResume: Awaited<ReturnType<typeof sessionResumeOf>> | undefined;
    let resumeError: string | null = null;
    if (resuming) {
      try {
        sessionResume = await sessionResumeOf(resuming, location.origin, session.accessToken);
      } catch (error) {
        // Kept for a later try (the relay may be back); this page goes on as a new broadcast.
        resumeError = `Could not resume: ${(error as Error).message}`;
        resuming = null;
      }
    }
    // The saved preset: the resumed stream keeps its geometry (broadcaster-page's preset key).
    if (resuming) localStorage.setItem('mxcast.preset', resuming.preset);
    // With the recovery passphrase the resume state is also kept in secret storage, so another
    // browser or device can continue the broadcast (room-resume-backup.ts).
    const backupLine = backupStatusLine();
    mountBroadcasterPage(this.#root, {
      accessToken: session.accessToken,
      roomName: room?.name ?? roomId,
      nav: this.#nav('Room', { room: roomId }),
      setupField: h(
        'label',
        { class: 'field' },
        h('span', {}, 'Recovery passphrase (optional: resume from another device)'),
        passphrase,
      ),
      liveStatus: backupLine.element,
      start: (title, onEpochNotice) => {
        if (!backup && passphrase.value) backup = openResumeBackup(session, passphrase.value);
        const mirror = backup ? backupLine.mirrorFor(backup) : null;
        const recorder = store
          ? new RoomResumeRecorder(store, session, roomId, resuming, mirror)
          : null;
        const capture = roomCapture(session, { roomId, ...recorder?.captureOptions() });
        // Key epochs as `mxcast capture --room` (docs/matrix.md "Key epochs"): the header epoch,
        // a new epoch on a leave or kick, a `joined` join or `mxcast rekey`, answers to key
        // requests from new devices.
        const epochs = roomEpochs(session, capture, {
          ...(onEpochNotice ? { onNotice: onEpochNotice } : {}),
          ...(resuming ? { known: recorder?.knownEpochs() ?? [] } : {}),
        });
        return {
          onCreated: async (info) => {
            await capture.onCreated({ ...info, title });
            const b = capture.reporter?.broadcast;
            if (b) recorder?.created({ ...info, title }, b);
            epochs.start();
          },
          ...(sessionResume ? { resume: sessionResume } : {}),
          onResumePoint: (point, ahead, keys) => recorder?.point(point, ahead, keys),
          onWrite: (seq, bytes) => capture.onWrite(seq, bytes),
          onEpoch: async (epoch) => {
            // Into the backup before the room hears of it, as `mxcast capture` does.
            await recorder?.epoch(epoch);
            await epochs.onEpoch(epoch);
          },
          setRekey: (rekey) => epochs.setRekey(rekey),
          rekey: () => {
            if (!epochs.announcer) throw new Error('the broadcast is not announced yet');
            epochs.announcer.request('request', 'Rekey pressed');
          },
          complete: async () => {
            epochs.stop();
            const claim = await capture.complete();
            await recorder?.ended();
            return claim;
          },
          cancel: async () => {
            epochs.stop();
            await capture.cancel();
            await recorder?.ended();
          },
          setPaused: async (paused) => {
            if (paused) await capture.reporter?.pause();
            else await capture.reporter?.resume();
          },
        };
      },
    });
    // Resume goes live at once (the microphone is asked again): the same page as Go live.
    if (resuming) this.#root.querySelector<HTMLButtonElement>('#go-live')?.click();
    else if (resumeError) {
      this.#root
        .querySelector('#setup')
        ?.prepend(
          h(
            'p',
            { class: 'notice', role: 'status', 'data-tone': 'err', id: 'resume-error' },
            resumeError,
          ),
        );
    }
  }

  async #listen(roomId: string, broadcastId: string): Promise<void> {
    const nav = this.#nav('Room', { room: roomId });
    replaceChildren(
      this.#root,
      brandHeader('Listen'),
      nav,
      h('p', { class: 'muted', role: 'status' }, 'Getting the key…'),
    );
    let found;
    try {
      found = await roomListen(this.#session, roomId, broadcastId);
    } catch (error) {
      replaceChildren(
        this.#root,
        brandHeader('Listen'),
        nav,
        h(
          'section',
          {
            class: 'card player',
            'data-state': 'error',
            'data-error': 'NO_ACCESS',
            'data-position': '0',
          },
          h('h1', {}, 'No access'),
          h('p', { class: 'message', 'data-tone': 'err' }, (error as Error).message),
        ),
      );
      return;
    }
    const link = parseListenLink(buildListenLink(location.origin, found.parts));
    const { mountListenerPage } = await import('../listen/listener-page.ts');
    // The room's key epochs for the player (docs/matrix.md "Key epochs"); the notices go to
    // the console (the page's pill says NO_ACCESS when access ends).
    const epochs = await webRoomEpochKeys(
      this.#session,
      {
        roomId,
        announcementEventId: found.announcementEventId,
        broadcastId,
        broadcaster: found.broadcaster,
      },
      (text) => console.info(`mxcast: ${text}`),
    );
    // What the broadcaster vouches for, checked block by block (docs/matrix.md).
    const claims = h('p', { class: 'hint', id: 'claims', role: 'status', 'data-verified': '0' });
    const relay = new MediaClient({
      baseUrl: link.relayUrl,
      accessToken: this.#session.accessToken,
    });
    const who = found.broadcaster;
    // Set once the listener is mounted (the check's callback is made before that).
    const view: { listener?: MountedListener } = {};
    const check = new RoomClaimsCheck(
      this.#session,
      { roomId, announcementEventId: found.announcementEventId, broadcaster: who },
      async () => {
        const { state } = await relay.index(link.mxc);
        return state === 'complete' || state === 'cancelled' ? state : 'unknown';
      },
      () => {
        // The player's own pill says the verdict too (docs/web.md "Every state").
        if (check.tampered) view.listener?.setVerdict('tampered');
        else if (check.outcome) view.listener?.setVerdict(check.outcome);
        claims.dataset.verified = String(check.verified);
        if (check.outcome) claims.dataset.outcome = check.outcome;
        claims.textContent = check.outcome
          ? `${OUTCOME_TEXT[check.outcome](who)} (${check.verified} checkpoint${check.verified === 1 ? '' : 's'} verified)`
          : check.tampered
            ? `Does not match what ${found.broadcaster} sent: ${check.tampered}`
            : `${check.verified} checkpoint${check.verified === 1 ? '' : 's'} of ${found.broadcaster} verified`;
      },
    );
    nav.append(claims);
    const listener = mountListenerPage(this.#root, {
      link,
      accessToken: this.#session.accessToken,
      title: found.title,
      nav,
      onPlayer: (player) => check.attach(player),
      broadcaster: who,
      keys: epochs.keys,
      roomName: this.#session.client.getRoom(roomId)?.name ?? roomId,
    });
    // Back, or log out: the audio and the claim polling stop with the page.
    view.listener = listener;
    this.#cleanup = () => {
      check.stop();
      epochs.feed.stop();
      void listener.close();
    };
  }
}
