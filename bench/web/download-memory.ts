/**
 * The memory of the web app's streamed download (docs/web.md "Download the recording"): the
 * listen page's Download button hands the job to the download service worker, which fetches
 * the ciphertext, decrypts it block by block and answers the browser's download with the
 * plaintext as a stream. Sampled every 100 ms while it runs:
 * - the memory held by JS (CDP `Runtime.getHeapUsage`: V8 heap, Blink's heap and ArrayBuffer
 *   backing stores) of the page and of the service worker (a
 *   target of its own, reached through the browser's CDP session: `Target.attachToTarget`
 *   without flatten, messages wrapped in `Target.sendMessageToTarget`), before and after a
 *   forced full collection (`HeapProfiler.collectGarbage`): heap in use rises and falls with
 *   garbage the collector has not reached yet, what survives a collection is what is held;
 * - the resident memory (/proc VmRSS) of the browser's processes: the renderers (page and
 *   worker), and all of them (the browser process writes the file).
 * A download that gathered the file before answering would hold it in one of these: the peak
 * heap would reach the file's size.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import type { WebRig } from '../../tests/web/web-harness.ts';

type CDPSession = Awaited<ReturnType<WebRig['context']['newCDPSession']>>;

export interface DownloadMemory {
  /** The saved file's size (the decrypted recording). */
  fileBytes: number;
  /** From the click to the file complete on disk. */
  seconds: number;
  mbPerS: number;
  /**
   * The page's JS heap in use before the click, and its peak during the download, MB, each
   * after a forced full collection (what the page still references).
   */
  pageHeapBeforeMb: number;
  pageHeapPeakMb: number;
  /**
   * The worker's peak JS heap in use, MB (it starts with the download), garbage included; and
   * its peak after a forced full collection at each sample: what it still references. null if
   * the worker was not read.
   */
  swHeapPeakMb: number | null;
  swLiveHeapPeakMb: number | null;
  /** Peak minus before-the-click RSS of the renderer processes, MB. */
  rendererRssDeltaMb: number;
  /** The same for every process of the browser. */
  browserRssDeltaMb: number;
}

const MB = 1024 * 1024;

/**
 * Pids of the browsers this process started (playwright launches Chromium as our child) and all
 * their descendants.
 */
function browserTree(): { pid: number; renderer: boolean }[] {
  const procs: { pid: number; ppid: number; cmd: string }[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'latin1');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const cmd = readFileSync(`/proc/${name}/cmdline`, 'latin1').replace(/\0/g, ' ');
      procs.push({ pid: Number(name), ppid, cmd });
    } catch {
      // Gone while read.
    }
  }
  const tree = new Set(
    procs.filter((p) => p.ppid === process.pid && /chrom/i.test(p.cmd)).map((p) => p.pid),
  );
  for (let grew = true; grew;) {
    grew = false;
    for (const p of procs)
      if (!tree.has(p.pid) && tree.has(p.ppid)) {
        tree.add(p.pid);
        grew = true;
      }
  }
  return procs
    .filter((p) => tree.has(p.pid))
    .map((p) => ({ pid: p.pid, renderer: p.cmd.includes('--type=renderer') }));
}

function rssMb(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'latin1'));
    return m ? Number(m[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}

function treeRss(): { renderers: number; all: number } {
  let renderers = 0;
  let all = 0;
  for (const p of browserTree()) {
    const mb = rssMb(p.pid);
    all += mb;
    if (p.renderer) renderers += mb;
  }
  return { renderers, all };
}

/** CDP Runtime.getHeapUsage's answer. */
interface HeapUsage {
  usedSize: number;
  embedderHeapUsedSize?: number;
  backingStorageSize?: number;
}

/**
 * What a JS context holds, MB: its heap in use, plus the embedder's heap (Blink's objects) and
 * the backing stores of ArrayBuffers — the bytes of every Uint8Array live outside the V8 heap
 * proper (`usedSize` alone does not grow with a held 50 MB Uint8Array; `backingStorageSize` does).
 */
function heldMb(u: HeapUsage): number {
  return (u.usedSize + (u.embedderHeapUsedSize ?? 0) + (u.backingStorageSize ?? 0)) / MB;
}

/** Runtime.getHeapUsage of the service worker, through the browser session (not flattened). */
class WorkerHeap {
  #id = 0;
  #pending = new Map<number, (usage: HeapUsage | null) => void>();
  private constructor(
    private readonly browser: CDPSession,
    private readonly sessionId: string,
  ) {
    browser.on('Target.receivedMessageFromTarget', (e) => {
      if (e.sessionId !== this.sessionId) return;
      const msg = JSON.parse(e.message) as { id?: number; result?: HeapUsage };
      if (msg.id === undefined) return;
      this.#pending.get(msg.id)?.(msg.result ?? null);
      this.#pending.delete(msg.id);
    });
  }

  static async attach(browser: CDPSession, origin: string): Promise<WorkerHeap | null> {
    const { targetInfos } = await browser.send('Target.getTargets');
    const sw = targetInfos.find((t) => t.type === 'service_worker' && t.url.startsWith(origin));
    if (!sw) return null;
    const { sessionId } = await browser.send('Target.attachToTarget', {
      targetId: sw.targetId,
      flatten: false,
    });
    return new WorkerHeap(browser, sessionId);
  }

  async #call(method: string): Promise<HeapUsage | null> {
    const id = ++this.#id;
    const answer = new Promise<HeapUsage | null>((resolve) => {
      this.#pending.set(id, resolve);
      setTimeout(() => resolve(null), 2000);
    });
    await this.browser.send('Target.sendMessageToTarget', {
      sessionId: this.sessionId,
      message: JSON.stringify({ id, method }),
    });
    return answer;
  }

  /** The heap in use now, and after a full collection (what is still referenced), MB. */
  async usedMb(): Promise<{ used: number; live: number } | null> {
    const used = await this.#call('Runtime.getHeapUsage');
    await this.#call('HeapProfiler.collectGarbage');
    const live = await this.#call('Runtime.getHeapUsage');
    return used === null || live === null ? null : { used: heldMb(used), live: heldMb(live) };
  }
}

/**
 * Opens `link` (a finished recording) in a new context of `rig`'s browser, presses Download,
 * samples memory until the browser has saved the file; `saveAs` keeps a copy of it. The RSS
 * figures cover every browser this process launched: run it with one.
 */
export async function measureDownload(
  rig: WebRig,
  link: string,
  { saveAs, trace }: { saveAs?: string; trace?: (sample: string) => void } = {},
): Promise<DownloadMemory> {
  // Playwright enables CDP's Network domain on every service worker it attaches to, and the
  // DevTools network agent then keeps the worker's response bodies in the renderer (+175 MB of
  // RSS on an 8-hour download, gone without it): a cost of the instrument, not of the app.
  // Read when playwright attaches to the worker, so set for the download's duration.
  const inspect = process.env.PLAYWRIGHT_DISABLE_SERVICE_WORKER_NETWORK;
  process.env.PLAYWRIGHT_DISABLE_SERVICE_WORKER_NETWORK = '1';
  const context = await rig.browser.newContext({ acceptDownloads: true });
  try {
    const page = await context.newPage();
    await page.goto(link);
    await page.waitForSelector('#download:not([disabled])', { timeout: 60_000 });
    // The player stays paused: what is measured is the download alone.
    await page.evaluate(() => {
      for (const a of document.querySelectorAll('audio')) a.pause();
    });
    const pageCdp = await context.newCDPSession(page);
    const browserCdp = await rig.browser.newBrowserCDPSession();
    const pageHeap = async (): Promise<number> => {
      await pageCdp.send('HeapProfiler.collectGarbage');
      return heldMb(await pageCdp.send('Runtime.getHeapUsage'));
    };
    const before = treeRss();
    const pageBefore = await pageHeap();
    let pagePeak = pageBefore;
    let swPeak: number | null = null;
    let swLivePeak: number | null = null;
    let rss = { ...before };
    let worker: WorkerHeap | null = null;
    let done = false;
    const origin = new URL(link).origin;
    const started = performance.now();
    const sampler = (async () => {
      while (!done) {
        pagePeak = Math.max(pagePeak, await pageHeap());
        worker ??= await WorkerHeap.attach(browserCdp, origin);
        const sw = worker ? await worker.usedMb() : null;
        trace?.(`${(performance.now() - started).toFixed(0)} ms: sw ${JSON.stringify(sw)}`);
        if (sw !== null) {
          swPeak = Math.max(swPeak ?? 0, sw.used);
          swLivePeak = Math.max(swLivePeak ?? 0, sw.live);
        }
        const now = treeRss();
        rss = {
          renderers: Math.max(rss.renderers, now.renderers),
          all: Math.max(rss.all, now.all),
        };
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    const [download] = await Promise.all([
      page.waitForEvent('download', { timeout: 60_000 }),
      page.click('#download'),
    ]);
    const path = await download.path();
    const seconds = (performance.now() - started) / 1000;
    done = true;
    await sampler;
    const failure = await download.failure();
    if (failure) throw new Error(`the download failed: ${failure}`);
    const fileBytes = statSync(path).size;
    if (saveAs) await download.saveAs(saveAs);
    await browserCdp.detach();
    return {
      fileBytes,
      seconds,
      mbPerS: fileBytes / MB / seconds,
      pageHeapBeforeMb: pageBefore,
      pageHeapPeakMb: pagePeak,
      swHeapPeakMb: swPeak,
      swLiveHeapPeakMb: swLivePeak,
      rendererRssDeltaMb: rss.renderers - before.renderers,
      browserRssDeltaMb: rss.all - before.all,
    };
  } finally {
    await context.close();
    if (inspect === undefined) delete process.env.PLAYWRIGHT_DISABLE_SERVICE_WORKER_NETWORK;
    else process.env.PLAYWRIGHT_DISABLE_SERVICE_WORKER_NETWORK = inspect;
  }
}
