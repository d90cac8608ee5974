/** What the listener page says for each state: pill text, tone, explanation and delay line. */
import type { MediaIndex } from '@mxcast/client';
import type { EngineStatus, ListenErrorCode } from './listen-engine.ts';

/**
 * What the page shows, one value per pill (`data-view`, docs/web.md "Every state"): the player's
 * `data-state` says what the engine does, this says what the listener is told.
 */
export type ViewName =
  | 'connecting'
  | 'live'
  | 'replaying'
  | 'playing'
  | 'buffering'
  | 'seeking'
  | 'paused'
  | 'stopped'
  | 'interrupted'
  | 'finished'
  | 'cancelled'
  | 'ended-early'
  | 'cut'
  | 'tampered'
  | 'no-access'
  | 'error';

export interface StateView {
  view: ViewName;
  pill: string;
  tone: 'live' | 'ok' | 'warn' | 'err' | '';
  message: string;
  delay: string;
}

/**
 * Pill and explanation of every code: a new player code does not compile until it has words.
 * A null explanation shows the error's own message (it says more than a fixed text could).
 */
const ERROR_TEXT: Readonly<Record<ListenErrorCode, [string, string | null]>> = {
  WRONG_KEY: [
    'Wrong key',
    'This link’s key does not open the broadcast. Check that you copied the whole link.',
  ],
  TAMPERED: [
    'Tampered',
    'Part of the broadcast failed its integrity check, so playback stopped. Nothing unverified was played.',
  ],
  NO_ACCESS: [
    'No access',
    'You no longer have access to this broadcast, so playback stopped at what you could open.',
  ],
  NOT_FOUND: ['Not found', 'The relay has no broadcast at this link. It may have been deleted.'],
  REFUSED: [
    'Refused',
    'The relay refused to serve this broadcast to you (access token or permission).',
  ],
  LIMITED: ['Busy', 'The relay is busy or a limit was reached. Try again in a while.'],
  RELAY_ERROR: ['Relay error', 'The relay answered with an error, so playback stopped.'],
  NETWORK: ['Offline', 'The relay cannot be reached. Check your connection and reload.'],
  BAD_STREAM: ['Unplayable', 'The broadcast’s data is not a stream this player understands.'],
  BAD_REQUEST: ['Error', null],
  OUTPUT: [
    'Audio stopped',
    'The audio output failed, so playback stopped. Reload to listen again.',
  ],
  UNSUPPORTED: ['Unsupported', 'This browser cannot use the HLS engine. Switch to Direct.'],
  BAD_LINK: ['Bad link', 'This listen link cannot be read. Check that you copied the whole link.'],
};

/** The sender's verdict on a room listen (room-claims-check.ts, docs/matrix.md). */
export type Verdict = 'finished' | 'cancelled' | 'cut' | 'interrupted' | 'tampered';

const VERDICT_VIEW: Readonly<Record<Verdict, Omit<StateView, 'delay'>>> = {
  finished: {
    view: 'finished',
    pill: 'Finished',
    tone: 'ok',
    message: 'The broadcast finished, and every part the broadcaster vouched for arrived.',
  },
  cancelled: {
    view: 'cancelled',
    pill: 'Cancelled',
    tone: 'warn',
    message: 'The broadcaster cancelled the broadcast.',
  },
  cut: {
    view: 'cut',
    pill: 'Cut by the relay',
    tone: 'err',
    message: 'The relay served less than the broadcaster vouched for: the end is missing.',
  },
  interrupted: {
    view: 'interrupted',
    pill: 'Interrupted',
    tone: 'warn',
    message: 'The broadcast stopped without the broadcaster saying it ended.',
  },
  tampered: {
    view: 'tampered',
    pill: 'Tampered',
    tone: 'err',
    message: 'What the relay served does not match what the broadcaster sent.',
  },
};

/**
 * The sender's verdict replaces the player's own words once playback has ended (or at once for
 * tampering); while audio still plays, the player's state is what matters.
 */
export function verdictView(verdict: Verdict, state: EngineStatus['state']): StateView | null {
  const ended = state === 'finished' || state === 'ended-without-finishing' || state === 'error';
  if (!ended && verdict !== 'tampered') return null;
  return { ...VERDICT_VIEW[verdict], delay: '' };
}

export function stateView(
  status: EngineStatus,
  index: MediaIndex | null,
  paused: boolean,
): StateView {
  const d = status.delayBehindLive;
  const liveUpload = index?.state === 'live' || index?.state === 'pending';
  const behind =
    d === null || !liveUpload
      ? ''
      : d < 0.05
        ? 'At the live edge'
        : `${d.toFixed(1)} s behind live`;
  // The relay flags a live media whose upload went silent (docs/protocol.md "Interrupted
  // broadcasts"): at the live edge that reads as a frozen stream, so say what it is.
  if (index?.interrupted && (status.state === 'live' || status.state === 'buffering'))
    return {
      view: 'interrupted',
      pill: 'Interrupted',
      tone: 'warn',
      message: 'The broadcaster’s connection dropped. Waiting for the broadcast to resume…',
      delay: '',
    };
  switch (status.state) {
    case 'error': {
      const [pill, text] = (status.errorCode && ERROR_TEXT[status.errorCode]) || ['Error', null];
      const message = text ?? status.errorMessage ?? 'Playback failed.';
      const view =
        status.errorCode === 'TAMPERED'
          ? 'tampered'
          : status.errorCode === 'NO_ACCESS'
            ? 'no-access'
            : 'error';
      return { view, pill, tone: 'err', message, delay: '' };
    }
    case 'finished':
      return {
        view: 'finished',
        pill: 'Finished',
        tone: 'ok',
        message: 'The broadcast finished. Drag the bar to listen again.',
        delay: '',
      };
    case 'ended-without-finishing':
      // The relay marks an upload its sender cancelled (docs/protocol.md): say so.
      if (index?.state === 'cancelled')
        return {
          view: 'cancelled',
          pill: 'Cancelled',
          tone: 'warn',
          message: 'The broadcaster cancelled the broadcast before finishing it.',
          delay: '',
        };
      return {
        view: 'ended-early',
        pill: 'Ended early',
        tone: 'warn',
        message: 'The broadcast ended without finishing: it was cancelled or cut off.',
        delay: '',
      };
    case 'live':
      return { view: 'live', pill: 'Live', tone: 'live', message: 'Playing live.', delay: behind };
    case 'playing':
      return {
        view: liveUpload ? 'replaying' : 'playing',
        pill: liveUpload ? 'Replaying' : 'Playing',
        tone: 'ok',
        message: liveUpload
          ? 'Playing from earlier in the broadcast. “Go live” jumps to now.'
          : 'Playing the recording.',
        delay: behind,
      };
    case 'buffering':
      return {
        view: 'buffering',
        pill: 'Buffering…',
        tone: 'warn',
        message: 'Waiting for audio from the relay…',
        delay: behind,
      };
    case 'seeking':
      return {
        view: 'seeking',
        pill: 'Seeking…',
        tone: 'warn',
        message: 'Moving to the new position…',
        delay: behind,
      };
    case 'stopped':
      return {
        view: paused ? 'paused' : 'stopped',
        pill: 'Paused',
        tone: '',
        message: !paused
          ? 'Stopped.'
          : status.position > 0
            ? 'Paused. Press play or space to continue.'
            : 'Press play (or space) to start listening.',
        delay: '',
      };
    default:
      return {
        view: 'connecting',
        pill: 'Connecting…',
        tone: 'warn',
        message:
          index?.state === 'pending'
            ? 'Waiting for the broadcaster to start…'
            : 'Connecting to the relay…',
        delay: '',
      };
  }
}
