/**
 * The web listener page reads listen links by the same rule as everything else
 * (docs/listen-link.md): the shared table of links (@mxcast/client/testing) opened in Chromium
 * on a real relay serving apps/web/dist. A link the table refuses shows the BAD_LINK card with
 * the same "bad listen link" reason; a link it accepts mounts the player (no BAD_LINK).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser } from 'playwright-core';
import { LISTEN_LINK_CASES, tableSecrets } from '@mxcast/client/testing';
import { startRelay, type RunningRelay } from '@mxcast/relay';
import { CHROMIUM, WEB_DIST, ensureWebBuild } from './web-harness.ts';

let work: string;
let relay: RunningRelay;
let browser: Browser;
beforeAll(async () => {
  ensureWebBuild();
  work = mkdtempSync(join(tmpdir(), 'mxcast-web-link-'));
  relay = await startRelay({ dataDir: work, host: '127.0.0.1', port: 0, webRoot: WEB_DIST });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--headless', '--disable-gpu', '--no-first-run'],
  });
});
afterAll(async () => {
  await browser?.close().catch(() => undefined);
  await relay?.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('web listener page: the listen-link table', () => {
  it('shows BAD_LINK with the reason for every refused link, and mounts the player for the rest', async () => {
    const { key, iv } = tableSecrets();
    const page = await (await browser.newContext()).newPage();
    let accepted = 0;
    for (const c of LISTEN_LINK_CASES) {
      // A new document per link: the page reads the fragment once, when it mounts.
      await page.goto('about:blank');
      await page.goto(
        c.link(`${relay.url}/listen`, 'mxc://localhost/AAAAAAAAAAAAAAAAAAAAAA', key, iv),
      );
      const player = page.locator('.player');
      await player.waitFor({ timeout: 20_000 });
      const error = await player.getAttribute('data-error');
      if (c.refused) {
        expect(error, c.name).toBe('BAD_LINK');
        const message = (await page.locator('.player .message').textContent()) ?? '';
        expect(message, c.name).toMatch(/^bad listen link: /);
        expect(message, c.name).toMatch(c.refused);
      } else {
        expect(error, c.name).not.toBe('BAD_LINK');
        accepted++;
      }
    }
    expect(accepted).toBeGreaterThanOrEqual(3);
  });
});
