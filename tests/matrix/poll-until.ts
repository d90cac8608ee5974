/**
 * The Matrix tests' one poll: calls `f` every 100 ms until it gives something other than
 * `undefined` or `false` (a sync that has caught up, a device that is known, a count reached) and
 * returns that; throws `timed out waiting for <what>` after `ms`, so a wait that never ends fails
 * with what it waited for instead of at the test's own timeout.
 */
export async function until<T>(
  what: string,
  f: () => T | undefined | false | Promise<T | undefined | false>,
  ms = 30_000,
): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
