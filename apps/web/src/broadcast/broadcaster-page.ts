/**
 * The broadcaster page (`/`): sign in with an access token, pick a preset, go live, share the
 * listen link, watch level / time / listeners / connection, then stop (finish) or cancel.
 */
import { brandHeader, formatClock, h, replaceChildren } from '../ui/dom.ts';
import { BroadcastSession, type SessionRoomHooks } from './broadcast-session.ts';
import { WEB_PRESETS, findPreset, type WebPreset } from './broadcast-presets.ts';
import type { UploaderState } from './ws-uploader.ts';

const TOKEN_KEY = 'mxcast.token';
const PRESET_KEY = 'mxcast.preset';

/**
 * Going live into a Matrix room (src/matrix/): the relay upload is authenticated with the Matrix
 * access token (a relay in homeserver mode checks it with whoami), and `start(title)` gives
 * @mxcast/matrix's room-capture hooks for one broadcast (announcement, checkpoints, completion
 * or cancel). The page is otherwise the same, with a title field and no listen link to share.
 */
export interface RoomBroadcast {
  accessToken: string;
  roomName: string;
  nav: HTMLElement;
  /** Extra setup field (the recovery passphrase) and on-air status line (the backup's). */
  setupField?: HTMLElement;
  liveStatus?: HTMLElement;
  /** `onEpochNotice`: the room's key-epoch notices ('new key epoch: <why>', errors). */
  start(
    title: string,
    onEpochNotice?: (text: string) => void,
  ): SessionRoomHooks & {
    complete(): Promise<unknown>;
    cancel(): Promise<unknown>;
    /** The room's state: paused or resumed. */
    setPaused(paused: boolean): Promise<unknown>;
    /** The Rekey button: a new key epoch now, recorded in the room as requested. */
    rekey?(): void;
  };
}

/** Set when the page was mounted for a room; one page per document. */
let inRoom: RoomBroadcast | null = null;

export function mountBroadcasterPage(root: HTMLElement, room?: RoomBroadcast): void {
  const relayUrl = location.origin;
  inRoom = room ?? null;
  if (room) {
    const main = h('main', { class: 'broadcaster', 'data-view': 'setup' });
    replaceChildren(
      root,
      brandHeader(`Broadcast in ${room.roomName}`),
      room.nav,
      main,
      h(
        'footer',
        { class: 'foot' },
        'The key is generated in your browser and sent only in the encrypted room.',
      ),
    );
    showSetup(main, relayUrl, room.accessToken);
    return;
  }
  const main = h('main', { class: 'broadcaster', 'data-view': 'signin' });
  replaceChildren(
    root,
    brandHeader('Live, end-to-end encrypted audio'),
    main,
    h(
      'footer',
      { class: 'foot' },
      'The key stays in your browser and in the link you share. The relay never sees it.',
    ),
  );
  const token = localStorage.getItem(TOKEN_KEY);
  if (token) showSetup(main, relayUrl, token);
  else showSignIn(main, relayUrl);
}

function showSignIn(main: HTMLElement, relayUrl: string, notice = ''): void {
  main.dataset.view = 'signin';
  const input = h('input', {
    type: 'password',
    id: 'token',
    name: 'token',
    autocomplete: 'current-password',
    placeholder: 'Paste your token',
    required: true,
  });
  const form = h(
    'form',
    { class: 'card', id: 'signin' },
    h('h1', {}, 'Sign in to broadcast'),
    h(
      'p',
      { class: 'muted' },
      'Paste the access token the relay operator gave you (',
      h('code', {}, 'mxcast token create @you:server'),
      '). It is kept in this browser only.',
    ),
    h('label', { class: 'field' }, h('span', {}, 'Access token'), input),
    h('button', { class: 'primary big', type: 'submit' }, 'Sign in'),
    h('p', { class: 'notice', 'data-tone': notice ? 'err' : null, role: 'status' }, notice),
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const value = input.value.trim();
    if (!value) return;
    localStorage.setItem(TOKEN_KEY, value);
    showSetup(main, relayUrl, value);
  });
  replaceChildren(main, form);
  input.focus();
}

function showSetup(main: HTMLElement, relayUrl: string, token: string, notice = ''): void {
  main.dataset.view = 'setup';
  let preset = findPreset(localStorage.getItem(PRESET_KEY));
  const hint = h('p', { class: 'hint', id: 'preset-hint' }, preset.hint);
  const seg = h('div', { class: 'seg', role: 'radiogroup', 'aria-label': 'Preset' });
  for (const p of WEB_PRESETS) {
    const radio = h('input', {
      type: 'radio',
      name: 'preset',
      value: p.name,
      checked: p.name === preset.name,
    });
    radio.addEventListener('change', () => {
      preset = p;
      localStorage.setItem(PRESET_KEY, p.name);
      hint.textContent = p.hint;
    });
    seg.append(h('label', {}, radio, h('span', {}, p.label)));
  }
  const title = h('input', {
    type: 'text',
    id: 'broadcast-title',
    name: 'title',
    value: 'Live broadcast',
    maxlength: 200,
  });
  const goLive = h('button', { class: 'primary big', id: 'go-live', type: 'button' }, 'Go live');
  const status = h(
    'p',
    { class: 'notice', role: 'status', 'data-tone': notice ? 'err' : null },
    notice,
  );
  const signOut = h('button', { class: 'link', type: 'button', id: 'sign-out' }, 'Sign out');
  signOut.addEventListener('click', () => {
    localStorage.removeItem(TOKEN_KEY);
    showSignIn(main, relayUrl);
  });
  goLive.addEventListener('click', () => {
    goLive.disabled = true;
    goLive.textContent = 'Starting…';
    status.removeAttribute('data-tone');
    status.textContent = 'Asking for the microphone…';
    void startLive(main, relayUrl, token, preset, title.value.trim()).catch((error: unknown) => {
      const message = error instanceof Error ? error.message : String(error);
      if (
        /M_UNKNOWN_TOKEN|M_MISSING_TOKEN/.test(message) ||
        (error as { code?: string }).code === 'M_UNKNOWN_TOKEN'
      ) {
        localStorage.removeItem(TOKEN_KEY);
        showSignIn(main, relayUrl, 'The relay does not know that token. Please sign in again.');
        return;
      }
      showSetup(main, relayUrl, token, describeStartError(error));
    });
  });
  replaceChildren(
    main,
    h(
      'section',
      { class: 'card', id: 'setup' },
      h('div', { class: 'row spread' }, h('h1', {}, 'New broadcast'), inRoom ? null : signOut),
      h(
        'p',
        { class: 'muted' },
        inRoom
          ? `Choose how you will sound, then go live: everyone in ${inRoom.roomName} can listen.`
          : 'Choose how you will sound, then go live. You get a link to share.',
      ),
      inRoom ? h('label', { class: 'field' }, h('span', {}, 'Title'), title) : null,
      inRoom?.setupField ?? null,
      seg,
      hint,
      goLive,
      status,
    ),
  );
  goLive.focus();
}

function describeStartError(error: unknown): string {
  if (
    error instanceof DOMException &&
    (error.name === 'NotAllowedError' || error.name === 'SecurityError')
  ) {
    return 'Microphone access was refused. Allow it in the browser to go live.';
  }
  if (error instanceof DOMException && error.name === 'NotFoundError')
    return 'No microphone was found.';
  const message = error instanceof Error ? error.message : String(error);
  return `Could not go live: ${message}`;
}

const CONNECTION_TEXT: Record<UploaderState, [string, string]> = {
  connecting: ['Connecting…', 'warn'],
  open: ['Live', 'live'],
  reconnecting: ['Reconnecting…', 'warn'],
  finishing: ['Finishing…', 'warn'],
  complete: ['Finished', 'ok'],
  failed: ['Disconnected', 'err'],
};

async function startLive(
  main: HTMLElement,
  relayUrl: string,
  token: string,
  preset: WebPreset,
  title = '',
): Promise<void> {
  // Key epochs (room broadcasts, docs/web.md "Key epochs"): how many, and why the last began.
  const epochCount = h('b', { id: 'epochs' }, '1');
  const rekeyReason = h('span', { id: 'rekey-reason', class: 'muted' }, '');
  const rekey = h('button', { type: 'button', id: 'rekey' }, 'Rekey');
  const run =
    inRoom?.start(title || 'Live broadcast', (text) => {
      const why = /^new key epoch: (.*)$/.exec(text);
      if (why) rekeyReason.textContent = `Last rekey: ${why[1]}`;
      else if (text.startsWith('matrix: rekey:')) {
        rekeyReason.textContent = text.slice('matrix: '.length);
        rekeyReason.dataset.tone = 'err';
      }
    }) ?? null;
  const pill = h(
    'span',
    { class: 'pill', id: 'connection', 'data-tone': 'warn', role: 'status' },
    'Connecting…',
  );
  const elapsed = h('b', { id: 'elapsed' }, '0:00');
  const listeners = h('b', { id: 'listeners' }, '0');
  const sent = h('b', { id: 'sent' }, '0 KB');
  const meterBar = h('i', {});
  const meter = h(
    'div',
    {
      class: 'meter',
      role: 'meter',
      'aria-label': 'Input level',
      'aria-valuemin': 0,
      'aria-valuemax': 1,
    },
    meterBar,
  );
  const link = h('input', {
    type: 'text',
    readonly: true,
    id: 'listen-link',
    'aria-label': 'Listen link',
    value: '',
  });
  const copy = h('button', { type: 'button', id: 'copy-link' }, 'Copy');
  const stop = h('button', { class: 'primary', type: 'button', id: 'stop' }, 'Stop and finish');
  const cancel = h('button', { class: 'danger', type: 'button', id: 'cancel' }, 'Cancel broadcast');
  const notice = h('p', { class: 'notice', role: 'status', id: 'notice' }, '');

  let liveSession: BroadcastSession | null = null;
  const events = {
    onConnection(state: UploaderState, detail?: string) {
      const [text, tone] = CONNECTION_TEXT[state];
      pill.textContent = text;
      pill.dataset.tone = tone;
      main.dataset.connection = state;
      if (detail && state === 'failed') {
        notice.textContent = detail;
        notice.dataset.tone = 'err';
      }
    },
    onLevel(rms: number) {
      // A dB scale reads better than linear: −60 dBFS → empty, 0 dBFS → full.
      const db = 20 * Math.log10(Math.max(rms, 1e-6));
      const fill = Math.max(0, Math.min(1, (db + 60) / 60));
      meterBar.style.transform = `scaleX(${fill.toFixed(3)})`;
      meter.setAttribute('aria-valuenow', fill.toFixed(2));
    },
    onProgress(audioSeconds: number, ackedBytes: number) {
      elapsed.textContent = formatClock(audioSeconds);
      if (liveSession) epochCount.textContent = String(liveSession.epochCount);
      sent.textContent = `${Math.round(ackedBytes / 1024)} KB`;
    },
    onListeners(count: number) {
      listeners.textContent = String(count);
    },
    onFatal(message: string) {
      notice.textContent = message;
      notice.dataset.tone = 'err';
    },
  };

  const session = await BroadcastSession.start({
    relayUrl,
    accessToken: token,
    preset,
    events,
    ...(run ? { room: run } : {}),
  });
  liveSession = session;
  link.value = session.listenLink;
  main.dataset.view = 'live';
  main.dataset.mxc = session.mxc;
  pill.textContent = 'Live';
  pill.dataset.tone = 'live';

  copy.addEventListener('click', () => {
    link.select();
    navigator.clipboard.writeText(link.value).then(
      () => flash(copy, 'Copied'),
      () => flash(copy, 'Press Ctrl+C'),
    );
  });
  // Pause (room broadcasts): the microphone muted, the room's state `paused` until Resume.
  const pause = h('button', { type: 'button', id: 'pause', 'aria-pressed': 'false' }, 'Pause');
  pause.addEventListener('click', () => {
    const paused = pause.getAttribute('aria-pressed') !== 'true';
    session.setPaused(paused);
    pause.setAttribute('aria-pressed', String(paused));
    pause.textContent = paused ? 'Resume' : 'Pause';
    pill.textContent = paused ? 'Paused' : 'Live';
    pill.dataset.tone = paused ? 'warn' : 'live';
    main.dataset.paused = String(paused);
    void run?.setPaused(paused).catch((error: unknown) => {
      notice.textContent = `The room did not get the new state: ${String(error)}`;
    });
  });
  rekey.addEventListener('click', () => {
    try {
      run?.rekey?.();
    } catch (error) {
      rekeyReason.textContent = `Rekey failed: ${(error as Error).message}`;
      rekeyReason.dataset.tone = 'err';
    }
  });
  stop.addEventListener('click', () => {
    stop.disabled = cancel.disabled = rekey.disabled = true;
    notice.textContent = 'Finishing: sending the last block…';
    session
      .stop()
      .then(() => run?.complete())
      .then(
        () => showEnded(main, relayUrl, token, session.listenLink, 'finished'),
        (error: unknown) => events.onFatal(`Could not finish: ${String(error)}`),
      );
  });
  cancel.addEventListener('click', () => {
    if (!confirmCancel()) return;
    stop.disabled = cancel.disabled = rekey.disabled = true;
    session
      .cancel()
      .then(() => run?.cancel())
      .then(
        () => showEnded(main, relayUrl, token, session.listenLink, 'cancelled'),
        (error: unknown) => events.onFatal(`Could not cancel: ${String(error)}`),
      );
  });

  replaceChildren(
    main,
    h(
      'section',
      { class: 'card', id: 'live' },
      h('div', { class: 'row spread' }, h('h1', {}, `On air · ${preset.label}`), pill),
      h(
        'div',
        { class: 'stats' },
        h('div', { class: 'stat' }, elapsed, h('small', {}, 'Elapsed')),
        h('div', { class: 'stat' }, listeners, h('small', {}, 'Listeners')),
        h('div', { class: 'stat' }, sent, h('small', {}, 'Stored on relay')),
        run?.rekey ? h('div', { class: 'stat' }, epochCount, h('small', {}, 'Key epochs')) : null,
      ),
      h('label', { class: 'field' }, h('span', {}, 'Microphone level')),
      meter,
      run
        ? h(
            'p',
            { class: 'muted', id: 'room-note' },
            'Everyone in the room can listen: it is listed live in their rooms page.',
          )
        : h(
            'label',
            { class: 'field', for: 'listen-link' },
            h('span', {}, 'Listen link (the key is in the part after #)'),
          ),
      run ? null : h('div', { class: 'linkbox' }, link, copy),
      h(
        'div',
        { class: 'row', style: 'margin-top:16px' },
        stop,
        run ? pause : null,
        run?.rekey ? rekey : null,
        cancel,
      ),
      run?.rekey ? h('p', {}, rekeyReason) : null,
      inRoom?.liveStatus ?? null,
      notice,
    ),
  );
  stop.focus();
}

function confirmCancel(): boolean {
  return window.confirm('Cancel this broadcast? Listeners will see it end unfinished.');
}

function flash(button: HTMLButtonElement, text: string): void {
  const original = button.textContent;
  button.textContent = text;
  setTimeout(() => (button.textContent = original), 1500);
}

function showEnded(
  main: HTMLElement,
  relayUrl: string,
  token: string,
  listenLink: string,
  how: 'finished' | 'cancelled',
): void {
  main.dataset.view = how;
  const again = h(
    'button',
    { class: 'primary big', type: 'button', id: 'new-broadcast' },
    'New broadcast',
  );
  again.addEventListener('click', () => showSetup(main, relayUrl, token));
  replaceChildren(
    main,
    h(
      'section',
      { class: 'card', id: 'ended' },
      h(
        'div',
        { class: 'row spread' },
        h('h1', {}, how === 'finished' ? 'Broadcast finished' : 'Broadcast cancelled'),
        h(
          'span',
          { class: 'pill', 'data-tone': how === 'finished' ? 'ok' : 'err' },
          how === 'finished' ? 'Finished' : 'Cancelled',
        ),
      ),
      how === 'finished'
        ? h(
            'p',
            { class: 'muted' },
            'The recording stays available at the same link for anyone who has it.',
          )
        : h(
            'p',
            { class: 'muted' },
            'The relay deleted the broadcast. Listeners see it as ended without finishing.',
          ),
      how === 'finished' && !inRoom
        ? h(
            'div',
            { class: 'linkbox', style: 'margin-bottom:16px' },
            h('input', {
              type: 'text',
              readonly: true,
              value: listenLink,
              'aria-label': 'Listen link',
            }),
          )
        : null,
      again,
    ),
  );
  again.focus();
}
