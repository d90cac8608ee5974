/**
 * Reloading alice's tab mid-broadcast resumes the same broadcast (docs/web.md "Reload and
 * resume"), on the real stack: alice goes live in the room from Chromium's fake microphone, bob
 * listens with the CLI from the start; alice's page is reloaded, the room page offers "Resume
 * broadcast", she presses it; the same media goes on (the state `resumed`, no second
 * announcement) until Stop. Then the stored file, decrypted with the key her page kept, is one
 * Ogg stream: page sequence without a gap, one serial, BOS once, EOS once; opusinfo and ffprobe
 * take it; the room's states are started, resumed, stopped; bob's listen ended finished.
 * From the secret-storage backup (docs/matrix.md "Resume from any device"): a broadcast started
 * with a recovery passphrase, its context closed, is resumed by a fresh context (a new device of
 * alice, empty IndexedDB) after a wrong passphrase changed nothing; and a `mxcast capture
 * --recovery-passphrase-file` killed -9 is resumed in the browser, whose context is then closed
 * and `mxcast capture --resume` on another CLI device finishes it (both directions).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createScheduleCipher, decryptAll, type Epoch } from '@mxcast/format';
import { OggFlag, parseOggPage } from '@mxcast/ogg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runMxcast } from '../capture/capture-harness.ts';
import { startCliRoom, type CliRoom } from '../matrix/matrix-cli-kit.ts';
import { matrixCall } from '../matrix/matrix-users.ts';
import type { BrowserContext } from 'playwright-core';
import { screenshot, startWebRig, type Page, type WebRig } from './web-harness.ts';

const TITLE = 'Reloaded show';
let room: CliRoom;
let rig: WebRig;

beforeAll(async () => {
  [room, rig] = await Promise.all([startCliRoom({ relayHomeserver: true }), startWebRig()]);
}, 900_000);

afterAll(async () => {
  await rig?.close();
  await room?.stop();
});

async function statesOf(id: string): Promise<string[]> {
  const res = await matrixCall<{
    chunk: { type: string; state_key?: string; content: { state?: string } }[];
  }>(
    room.stack.url,
    'GET',
    `/_matrix/client/v3/rooms/${encodeURIComponent(room.roomId)}/messages?dir=b&limit=200`,
    { token: room.users.alice.accessToken },
  );
  return res.chunk
    .filter((e) => e.type === 'org.mxcast.broadcast.state' && e.state_key === id)
    .map((e) => e.content.state ?? '')
    .reverse();
}

/** The page's own resume state, opened in the page with its wrapping key (resume-store.ts). */
function savedState(page: Page) {
  return page.evaluate(async () => {
    const db = await new Promise<IDBDatabase>((resolve, reject) => {
      const r = indexedDB.open('mxcast-broadcast-resume');
      r.onsuccess = () => resolve(r.result);
      r.onerror = () => reject(r.error);
    });
    const get = (store: string, key?: string) =>
      new Promise<unknown>((resolve, reject) => {
        const s = db.transaction(store).objectStore(store);
        const r = key === undefined ? s.getAll() : s.get(key);
        r.onsuccess = () => resolve(r.result);
        r.onerror = () => reject(r.error);
      });
    const wrap = (await get('keys', 'wrap')) as CryptoKey;
    const records = (await get('states')) as {
      mxc: string;
      iv: Uint8Array<ArrayBuffer>;
      sealed: ArrayBuffer;
    }[];
    const out = [];
    for (const r of records) {
      const plain = await crypto.subtle.decrypt(
        { name: 'AES-GCM', iv: r.iv, additionalData: new TextEncoder().encode(r.mxc) },
        wrap,
        r.sealed,
      );
      out.push(JSON.parse(new TextDecoder().decode(plain)) as Record<string, unknown>);
    }
    db.close();
    return out;
  });
}

/**
 * The stored media decrypted under `epochs`: one Ogg Opus stream (seq and page sequence without
 * a gap, one serial, BOS and EOS once, every audio page one block of granules further) that
 * opusinfo accepts. Its length in seconds.
 */
async function checkStoredStream(mxc: string, epochs: Epoch[], serial: number): Promise<number> {
  const res = await fetch(
    `${room.stack.url}/_matrix/client/v1/media/download/${mxc.slice('mxc://'.length)}`,
    { headers: { authorization: `Bearer ${room.users.alice.accessToken}` } },
  );
  expect(res.status).toBe(200);
  const file = new Uint8Array(await res.arrayBuffer());
  const blocks = await decryptAll(await createScheduleCipher(epochs), file);
  expect(blocks.map((x) => x.seq)).toEqual(blocks.map((_, i) => i));
  const pages = blocks.map((x) => parseOggPage(x.plaintext));
  expect(new Set(pages.map((p) => p.serial))).toEqual(new Set([serial]));
  expect(pages.map((p) => p.pageSeq)).toEqual(pages.map((_, i) => i));
  expect(pages.filter((p) => p.flags & OggFlag.BOS)).toHaveLength(1);
  expect(pages.filter((p) => p.flags & OggFlag.EOS).map((p) => p.pageSeq)).toEqual([
    pages.length - 1,
  ]);
  // Granules: the audio pages before the last (whose granule trims the padding) step evenly,
  // across the resume point too.
  const granules = pages.slice(2, -1).map((p) => p.granule);
  const steps = new Set(granules.slice(1).map((g, i) => g - granules[i]!));
  expect(steps.size).toBe(1);
  const opus = join(mkdtempSync(join(tmpdir(), 'mxcast-web-backup-')), 'stream.opus');
  writeFileSync(opus, Buffer.concat(pages.map((p) => Buffer.from(p.bytes))));
  expect(execFileSync('opusinfo', [opus], { encoding: 'utf8' })).not.toMatch(/WARNING|ERROR/);
  return probeSeconds(opus);
}

function probeSeconds(f: string): number {
  return Number(
    execFileSync(
      'ffprobe',
      ['-v', 'error', '-show_entries', 'format=duration', '-of', 'csv=p=0', f],
      {
        encoding: 'utf8',
      },
    ).trim(),
  );
}

/** The secret of a broadcast in alice's account data, as the homeserver holds it. */
function accountData(id: string) {
  return matrixCall<Record<string, unknown>>(
    room.stack.url,
    'GET',
    `/_matrix/client/v3/user/${encodeURIComponent(room.users.alice.userId)}/account_data/org.mxcast.capture_state.${id}`,
    { token: room.users.alice.accessToken },
  );
}

/** A fresh browser context logged in as alice with her password: a new device, empty IndexedDB. */
async function newAliceDevice(context: BrowserContext): Promise<Page> {
  const page = await context.newPage();
  await page.goto(`${room.stack.url}/rooms`);
  await page.waitForSelector('#mx-login', { timeout: 30_000 });
  await page.fill('#mx-homeserver', room.stack.url);
  await page.fill('#mx-user', 'alice');
  await page.fill('#mx-password', room.users.alice.password);
  await page.click('#mx-login button[type=submit]');
  await page.waitForSelector(`#rooms a[data-room-id="${room.roomId}"]`, { timeout: 60_000 });
  await page.click(`#rooms a[data-room-id="${room.roomId}"]`);
  await page.click('#broadcast-here');
  return page;
}

describe('web broadcaster reload', () => {
  it('reloading alice’s tab mid-broadcast resumes the same broadcast', async () => {
    const roomItem = `#rooms a[data-room-id="${room.roomId}"]`;
    // bob's CLI device exists before alice announces, so her key reaches it.
    expect((await room.mx('listen', 'bob', ['--list']).done).code).toBe(0);
    const context = await rig.browser.newContext();
    try {
      const alice = await context.newPage();
      await alice.goto(`${room.stack.url}/rooms`);
      await alice.waitForSelector('#mx-login', { timeout: 30_000 });
      await alice.fill('#mx-homeserver', room.stack.url);
      await alice.fill('#mx-token', room.users.alice.accessToken);
      await alice.click('#mx-login button[type=submit]');
      await alice.waitForSelector(roomItem, { timeout: 60_000 });
      await alice.click(roomItem);
      await alice.click('#broadcast-here');
      await alice.waitForSelector('#setup', { timeout: 30_000 });
      await alice.fill('#broadcast-title', TITLE);
      await alice.click('#go-live');
      await alice.waitForSelector('#live', { timeout: 30_000 });

      // Some acked audio, and a state saved from the acks.
      let before: Record<string, unknown>[] = [];
      const until = Date.now() + 30_000;
      while (Date.now() < until) {
        before = await savedState(alice);
        if (before.length === 1 && (before[0]!.nextSeq as number) >= 8) break;
        await new Promise((r) => setTimeout(r, 500));
      }
      expect(before).toHaveLength(1);
      const state = before[0]!;
      const mxc = state.mxc as string;
      const id = state.broadcastId as string;
      const wav = join(room.work, 'reloaded.wav');
      const bob = room.mx('listen', 'bob', [`--broadcast=${id}`, '--from', '0', '--out', wav]);

      await new Promise((r) => setTimeout(r, 3000));
      const reloadAt = Date.now();
      await alice.reload();
      await alice.waitForSelector('#resume-offer', { timeout: 60_000 });
      expect(await alice.textContent('#resume-text')).toMatch(
        new RegExp(`^Resume broadcast '${TITLE}' \\(stopped \\d+:\\d\\d ago\\)$`),
      );
      expect(await alice.getAttribute('#resume-offer', 'data-mxc')).toBe(mxc);
      await screenshot(alice, 'matrix-web/resume-offer');
      await alice.click('#resume-broadcast');
      await alice.waitForSelector('#live', { timeout: 30_000 });
      const gapMs = Date.now() - reloadAt;
      const after = await savedState(alice);
      expect(after.map((s) => s.mxc)).toEqual([mxc]);
      await new Promise((r) => setTimeout(r, 4000));
      await alice.click('#stop');
      await alice.waitForSelector('#ended', { timeout: 30_000 });
      // Stop cleared the state.
      expect(await savedState(alice)).toEqual([]);

      const heard = await bob.done;
      expect(heard.code, heard.stderr).toBe(0);
      // bob heard the whole broadcast, across the reload, to its end.
      const bobSeconds = Number(
        execFileSync(
          'ffprobe',
          ['-v', 'error', '-show_entries', 'format=duration', '-of', 'csv=p=0', wav],
          { encoding: 'utf8' },
        ).trim(),
      );
      expect(await statesOf(id)).toEqual(['started', 'resumed', 'stopped']);

      // The stored file: one continuous Ogg Opus stream with one EOS.
      const res = await fetch(
        `${room.stack.url}/_matrix/client/v1/media/download/${mxc.slice('mxc://'.length)}`,
        { headers: { authorization: `Bearer ${room.users.alice.accessToken}` } },
      );
      expect(res.status).toBe(200);
      const stored = new Uint8Array(await res.arrayBuffer());
      // Room broadcasts have key epochs (the header epoch ends at block 2): the saved schedule.
      const epochs = after[0]!.epochs as Epoch[];
      const blocks = await decryptAll(await createScheduleCipher(epochs), stored);
      expect(blocks.map((b) => b.seq)).toEqual(blocks.map((_, i) => i));
      const pages = blocks.map((b) => parseOggPage(b.plaintext));
      expect(new Set(pages.map((p) => p.serial)).size).toBe(1);
      expect(pages.map((p) => p.pageSeq)).toEqual(pages.map((_, i) => i));
      expect(pages.filter((p) => p.flags & OggFlag.BOS)).toHaveLength(1);
      expect(pages.filter((p) => p.flags & OggFlag.EOS).map((p) => p.pageSeq)).toEqual([
        pages.length - 1,
      ]);
      const dir = mkdtempSync(join(tmpdir(), 'mxcast-web-resume-'));
      const opus = join(dir, 'reloaded.opus');
      writeFileSync(opus, Buffer.concat(pages.map((p) => Buffer.from(p.bytes))));
      const info = execFileSync('opusinfo', [opus], { encoding: 'utf8' });
      expect(info).not.toMatch(/WARNING|ERROR/);
      const probed = execFileSync(
        'ffprobe',
        ['-v', 'error', '-show_entries', 'format=duration', '-of', 'csv=p=0', opus],
        { encoding: 'utf8' },
      );
      const seconds = Number(probed.trim());
      console.log(
        `resume: gap (reload to live again) ${gapMs} ms; ${blocks.length} blocks, ${seconds.toFixed(2)} s of audio`,
      );
      expect(seconds).toBeGreaterThan(5);
      console.log(`resume: bob's listen ${bobSeconds.toFixed(2)} s`);
      expect(bobSeconds).toBeGreaterThan(seconds - 1);
    } finally {
      await context.close();
    }
  }, 300_000);

  it('a crashed tab (closed without Stop): a new page in the same browser resumes it', async () => {
    const roomItem = `#rooms a[data-room-id="${room.roomId}"]`;
    const context = await rig.browser.newContext();
    try {
      const first = await context.newPage();
      await first.goto(`${room.stack.url}/rooms`);
      await first.waitForSelector('#mx-login', { timeout: 30_000 });
      await first.fill('#mx-homeserver', room.stack.url);
      await first.fill('#mx-token', room.users.alice.accessToken);
      await first.click('#mx-login button[type=submit]');
      await first.waitForSelector(roomItem, { timeout: 60_000 });
      await first.click(roomItem);
      await first.click('#broadcast-here');
      await first.waitForSelector('#setup', { timeout: 30_000 });
      await first.fill('#broadcast-title', 'Crashed show');
      await first.click('#go-live');
      await first.waitForSelector('#live', { timeout: 30_000 });
      let saved: Record<string, unknown>[] = [];
      const until = Date.now() + 30_000;
      while (Date.now() < until) {
        saved = await savedState(first);
        if (saved.length === 1 && (saved[0]!.nextSeq as number) >= 8) break;
        await new Promise((r) => setTimeout(r, 500));
      }
      expect(saved).toHaveLength(1);
      const id = saved[0]!.broadcastId as string;
      await first.close(); // no Stop, no unload handler of ours: as a crash leaves it

      const second = await context.newPage();
      await second.goto(`${room.stack.url}/rooms`);
      await second.waitForSelector(roomItem, { timeout: 60_000 });
      await second.click(roomItem);
      await second.click('#broadcast-here');
      await second.waitForSelector('#resume-offer', { timeout: 60_000 });
      expect(await second.textContent('#resume-text')).toMatch(/^Resume broadcast 'Crashed show'/);
      await second.click('#resume-broadcast');
      await second.waitForSelector('#live', { timeout: 30_000 });
      await new Promise((r) => setTimeout(r, 2000));
      await second.click('#stop');
      await second.waitForSelector('#ended', { timeout: 30_000 });
      expect(await statesOf(id)).toEqual(['started', 'resumed', 'stopped']);
      expect(await savedState(second)).toEqual([]);
    } finally {
      await context.close();
    }
  }, 240_000);

  it('with a recovery passphrase: a fresh browser (a new device of alice) resumes from the backup', async () => {
    const roomItem = `#rooms a[data-room-id="${room.roomId}"]`;
    const passphrase = 'correct horse battery staple';
    const aliceId = room.users.alice.userId;
    expect((await room.mx('listen', 'bob', ['--list']).done).code).toBe(0);
    const contextA = await rig.browser.newContext();
    const contextB = await rig.browser.newContext();
    try {
      const a = await contextA.newPage();
      await a.goto(`${room.stack.url}/rooms`);
      await a.waitForSelector('#mx-login', { timeout: 30_000 });
      await a.fill('#mx-homeserver', room.stack.url);
      await a.fill('#mx-token', room.users.alice.accessToken);
      await a.click('#mx-login button[type=submit]');
      await a.waitForSelector(roomItem, { timeout: 60_000 });
      await a.click(roomItem);
      await a.click('#broadcast-here');
      await a.waitForSelector('#setup', { timeout: 30_000 });
      await a.fill('#broadcast-title', 'Backed-up show');
      await a.fill('#recovery-passphrase', passphrase);
      const liveAt = Date.now();
      await a.click('#go-live');
      await a.waitForSelector('#live', { timeout: 30_000 });
      // Secret storage open (set up here when alice had none) and the state stored twice or more.
      await a.waitForFunction(
        () => {
          const el = document.querySelector<HTMLElement>('#backup-status');
          return Number(el?.dataset.stores ?? 0) >= 2 && Number(el?.dataset.nextSeq ?? 0) >= 8;
        },
        undefined,
        { timeout: 60_000 },
      );
      expect(await a.getAttribute('#backup-status', 'data-state')).toBe('on');
      const [stateA] = await savedState(a);
      const id = stateA!.broadcastId as string;
      const mxc = stateA!.mxc as string;
      const secret = await accountData(id);
      // Ciphertext only, under the account's default secret storage key.
      const keyId = (
        await matrixCall<{ key: string }>(
          room.stack.url,
          'GET',
          `/_matrix/client/v3/user/${encodeURIComponent(aliceId)}/account_data/m.secret_storage.default_key`,
          { token: room.users.alice.accessToken },
        )
      ).key;
      expect(Object.keys(secret.encrypted as object)).toEqual([keyId]);
      const key = (stateA!.file as { key: { k: string } }).key.k;
      expect(JSON.stringify(secret)).not.toContain(key);
      expect(JSON.stringify(secret)).not.toContain('Backed-up show');

      const wav = join(room.work, 'backup.wav');
      const bob = room.mx('listen', 'bob', [`--broadcast=${id}`, '--from', '0', '--out', wav]);
      await new Promise((r) => setTimeout(r, 2000));
      // The rate: the first ack, then at most one write per 5 s (no rekey in this run).
      const stores = Number(await a.getAttribute('#backup-status', 'data-stores'));
      expect(stores).toBeLessThanOrEqual(Math.ceil((Date.now() - liveAt) / 5000) + 1);
      await a.close(); // crash-like: no Stop, and this browser profile is gone with its context
      await contextA.close();

      // A fresh browser profile: a password login is a new device of alice, empty IndexedDB.
      const b = await newAliceDevice(contextB);
      await b.waitForSelector('#backup-offer', { timeout: 60_000 });
      expect(await b.getAttribute('#backup-offer', 'data-broadcast-id')).toBe(id);
      expect(await b.textContent('#backup-text')).toMatch(/^An unfinished broadcast of yours/);
      expect(await savedState(b)).toEqual([]);

      // A wrong passphrase: said plainly, the account data untouched.
      const stored = JSON.stringify(await accountData(id));
      await b.fill('#backup-passphrase', 'not the passphrase');
      await b.click('#resume-backup');
      await b.waitForSelector('#backup-error[data-tone=err]', { timeout: 30_000 });
      expect(await b.textContent('#backup-error')).toMatch(/^Wrong recovery passphrase/);
      expect(JSON.stringify(await accountData(id))).toBe(stored);

      const resumeAt = Date.now();
      await b.fill('#backup-passphrase', passphrase);
      await b.click('#resume-backup');
      await b.waitForSelector('#live', { timeout: 60_000 });
      const gapMs = Date.now() - resumeAt;
      await screenshot(b, 'matrix-web/resume-from-backup');
      await new Promise((r) => setTimeout(r, 3000));
      const [stateB] = await savedState(b);
      expect(stateB!.mxc).toBe(mxc);
      expect(stateB!.deviceId).not.toBe(stateA!.deviceId);
      expect(stateB!.nextSeq as number).toBeGreaterThan(stateA!.nextSeq as number);
      await b.click('#stop');
      await b.waitForSelector('#ended', { timeout: 30_000 });
      expect(await statesOf(id)).toEqual(['started', 'resumed', 'stopped']);
      // Stop emptied the secret: nothing left to resume from any device.
      expect(await accountData(id)).toEqual({});

      const heard = await bob.done;
      expect(heard.code, heard.stderr).toBe(0);
      const seconds = await checkStoredStream(
        mxc,
        stateB!.epochs as Epoch[],
        stateA!.serial as number,
      );
      const bobSeconds = probeSeconds(wav);
      console.log(
        `backup resume: passphrase to live again ${gapMs} ms; ${seconds.toFixed(2)} s of audio; bob ${bobSeconds.toFixed(2)} s`,
      );
      expect(bobSeconds).toBeGreaterThan(seconds - 1);
    } finally {
      await contextA.close().catch(() => undefined);
      await contextB.close();
    }
  }, 300_000);

  it('CLI to web to CLI: `mxcast capture --recovery-passphrase-file` killed -9, resumed in the browser, the browser gone, resumed by `mxcast capture --resume`', async () => {
    const passphrase = 'correct horse battery staple';
    const file = join(room.work, 'recovery');
    writeFileSync(file, `${passphrase}\n`, { mode: 0o600 });
    const common = ['--input', 'sine:440', '--duration', '120', '--realtime'];
    const cli = room.mx('capture', 'alice', [
      ...[...common, '--preset', 'voice', '--title', 'CLI show', '--checkpoint-every', '2'],
      ...['--recovery-passphrase-file', file],
    ]);
    let again: ReturnType<typeof runMxcast> | undefined;
    const context = await rig.browser.newContext();
    try {
      await cli.waitFor(/announced in .* as broadcast (\S+)/, 90_000);
      const id = /as broadcast (\S+)/.exec(cli.stderr())?.[1] ?? '';
      // The CLI's secret stored (its first store ~1.5 s after the start), then some more audio.
      const until = Date.now() + 30_000;
      while (
        !(await accountData(id).catch(() => ({}) as Record<string, unknown>)).encrypted &&
        Date.now() < until
      ) {
        await new Promise((r) => setTimeout(r, 250));
      }
      expect((await accountData(id)).encrypted).toBeTruthy();
      await new Promise((r) => setTimeout(r, 3000));
      cli.child.kill('SIGKILL');
      expect((await cli.done).signal).toBe('SIGKILL');

      // The browser, a new device of alice, reads the CLI's secret.
      const page = await newAliceDevice(context);
      await page.waitForSelector('#backup-offer', { timeout: 60_000 });
      expect(await page.getAttribute('#backup-offer', 'data-broadcast-id')).toBe(id);
      await page.fill('#backup-passphrase', passphrase);
      await page.click('#resume-backup');
      // Live, or a refusal whose text the failure shows.
      await page.waitForSelector('#live, #resume-error, #backup-error[data-tone=err]', {
        timeout: 90_000,
      });
      const refused = await page.$$eval('#resume-error, #backup-error', (els) =>
        els.map((e) => e.textContent).join(' '),
      );
      expect(refused).toBe('');
      await page.waitForSelector('#live', { timeout: 30_000 });
      // The page wrote its own state into the secret; then its browser is gone.
      await page.waitForFunction(
        () => Number(document.querySelector<HTMLElement>('#backup-status')?.dataset.stores) >= 1,
        undefined,
        { timeout: 30_000 },
      );
      await new Promise((r) => setTimeout(r, 2000));
      const [webState] = await savedState(page);
      expect(webState!.broadcastId).toBe(id);
      await context.close();

      // Another CLI device reads the page's secret and finishes the broadcast.
      const args = room.args('capture', 'alice', [...common, '--resume']);
      args[args.indexOf('--state-dir') + 1] = join(room.work, 'alice-cli-b');
      again = runMxcast([...args, '--recovery-passphrase-file', file]);
      await again.waitFor(/resumed broadcast (\S+)/, 90_000);
      expect(again.stderr()).toContain(`resumed broadcast ${id}`);
      await new Promise((r) => setTimeout(r, 3000));
      again.child.kill('SIGINT');
      const finished = await again.done;
      expect(finished.code, finished.stderr).toBe(0);
      expect(await statesOf(id)).toEqual(['started', 'resumed', 'resumed', 'stopped']);
      expect(await accountData(id)).toEqual({});
      // One stream across the three runs: one serial, no page or granule jump, one EOS.
      const cliState = JSON.parse(
        readFileSync(join(room.work, 'alice-cli-b', 'capture-state.json'), 'utf8'),
      ) as { epochs: Epoch[] };
      const seconds = await checkStoredStream(
        webState!.mxc as string,
        cliState.epochs,
        webState!.serial as number,
      );
      console.log(`CLI to web to CLI resume: ${seconds.toFixed(2)} s of audio`);
      expect(seconds).toBeGreaterThan(5);
    } finally {
      if (cli.child.exitCode === null) cli.child.kill('SIGKILL');
      if (again && again.child.exitCode === null) again.child.kill('SIGKILL');
      await context.close().catch(() => undefined);
    }
  }, 300_000);
});
