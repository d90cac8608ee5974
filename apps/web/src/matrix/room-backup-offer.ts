/**
 * The room page's offer to continue an unfinished broadcast of this user from secret storage
 * (docs/web.md "Reload and resume"), shown when the account data holds one and this browser's
 * IndexedDB does not: the title is inside the encrypted secret, so the offer asks for the
 * recovery passphrase first and names the broadcast once it opens. A wrong passphrase is said
 * plainly and changes nothing (openResumeBackup checks the key before any read or write).
 */
import {
  findResumable,
  openResumeBackup,
  RecoveryError,
  type ResumeBackup,
} from '@mxcast/matrix/browser';
import { presetGeometry, WEB_PRESETS } from '../broadcast/broadcast-presets.ts';
import type { WebResumeState } from '../broadcast/resume-store.ts';
import { formatAgo } from '../broadcast/resume-store.ts';
import { brandHeader, h, replaceChildren } from '../ui/dom.ts';
import type { WebMatrixSession } from './matrix-web-session.ts';
import { ownerOf } from './room-broadcast-resume.ts';
import { BackupMirror, fromStoredCapture, type BackupOffer } from './room-resume-backup.ts';

export interface BackupUnlocked {
  backup: ResumeBackup;
  state: WebResumeState;
}

/** Opens secret storage with the passphrase and reads the room's interrupted broadcast. */
export async function unlockBackup(
  session: WebMatrixSession,
  roomId: string,
  passphrase: string,
): Promise<BackupUnlocked> {
  // No bootstrap: an account with a backup to offer has secret storage already.
  const backup = await openResumeBackup(session, passphrase, { bootstrap: false });
  const found = await findResumable(session, roomId, backup);
  if (!found) throw new Error('your backup holds no unfinished broadcast in this room any more');
  const state = fromStoredCapture(found.stored, ownerOf(session));
  // The page's encoder makes only its presets' streams (mono): another geometry (a stereo
  // `mxcast capture`) could not go on without breaking the stream, so it is refused here.
  const preset = WEB_PRESETS.find((p) => p.name === state.preset);
  const want = preset ? presetGeometry(preset) : null;
  const fields = ['frame_ms', 'frames_per_block', 'block_size', 'sample_rate', 'channels'] as const;
  if (!want || fields.some((f) => want[f] !== state.geometry[f])) {
    throw new Error(
      `this broadcast (${state.geometry.channels} channel(s), preset ${state.preset}) cannot be continued from the web page`,
    );
  }
  return { backup, state };
}

/** The message a failed unlock shows. */
export function unlockMessage(error: unknown): string {
  if (error instanceof RecoveryError && error.code === 'WRONG_PASSPHRASE') {
    return 'Wrong recovery passphrase: it does not open your secret storage. Nothing was changed.';
  }
  return `Could not open your backup: ${(error as Error).message}`;
}

/**
 * "An unfinished broadcast of yours is in your backup" with the passphrase field, Resume and
 * Not now (which leaves the backup as it is: another device may still resume it). Resolves with
 * the unlocked state, or null for Not now.
 */
export function offerBackupResume(
  root: HTMLElement,
  offer: BackupOffer,
  nav: HTMLElement,
  unlock: (passphrase: string) => Promise<BackupUnlocked>,
): Promise<BackupUnlocked | null> {
  return new Promise((resolve) => {
    const ago = formatAgo(Date.now() - offer.startedTs);
    const passphrase = h('input', {
      type: 'password',
      id: 'backup-passphrase',
      name: 'recovery-passphrase',
      autocomplete: 'off',
    });
    const resume = h(
      'button',
      { class: 'primary big', type: 'submit', id: 'resume-backup' },
      'Resume from backup',
    );
    const skip = h('button', { class: 'link', type: 'button', id: 'skip-backup' }, 'Not now');
    const text = h(
      'p',
      { id: 'backup-text' },
      `An unfinished broadcast of yours in this room (started ${ago} ago) is in your backup. ` +
        'Enter your recovery passphrase to resume it here.',
    );
    const status = h('p', { class: 'notice', role: 'status', id: 'backup-error' }, '');
    const form = h(
      'form',
      { class: 'card', id: 'backup-offer', 'data-broadcast-id': offer.broadcastId },
      text,
      h('label', { class: 'field' }, h('span', {}, 'Recovery passphrase'), passphrase),
      h('div', { class: 'actions' }, resume, skip),
      status,
    );
    skip.addEventListener('click', () => resolve(null));
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      const value = passphrase.value;
      if (!value) return;
      resume.disabled = true;
      status.removeAttribute('data-tone');
      status.textContent = 'Opening your backup…';
      unlock(value).then(
        (unlocked) => {
          text.textContent = `Resuming broadcast '${unlocked.state.title}' from your backup…`;
          status.textContent = '';
          resolve(unlocked);
        },
        (error: unknown) => {
          resume.disabled = false;
          status.dataset.tone = 'err';
          status.textContent = unlockMessage(error);
          passphrase.select();
        },
      );
    });
    replaceChildren(root, brandHeader('Unfinished broadcast'), nav, form);
    passphrase.focus();
  });
}

/**
 * The on-air card's line about the backup (`#backup-status`: opening, on, or why not; the
 * number of writes and the seq of the last one in `data-stores` / `data-next-seq`), and the
 * mirror that feeds it.
 */
export function backupStatusLine(): {
  element: HTMLElement;
  mirrorFor(opened: Promise<ResumeBackup>): BackupMirror;
} {
  const element = h('p', { class: 'muted', id: 'backup-status', role: 'status' }, '');
  return {
    element,
    mirrorFor(opened) {
      element.dataset.state = 'opening';
      element.textContent = 'Resume backup: opening secret storage…';
      opened.then(
        () => {
          element.dataset.state = 'on';
          element.textContent = 'Resume backup: on (secret storage)';
        },
        (error: unknown) => {
          element.dataset.state = 'error';
          element.dataset.tone = 'err';
          element.textContent = `Resume backup off: ${unlockMessage(error)}`;
        },
      );
      return new BackupMirror(opened, {
        onError: (message) => {
          element.dataset.tone = 'err';
          element.textContent = `Resume backup: ${message}`;
        },
        onStored: (state, stores) => {
          element.dataset.stores = String(stores);
          element.dataset.nextSeq = String(state.nextSeq);
        },
      });
    },
  };
}
