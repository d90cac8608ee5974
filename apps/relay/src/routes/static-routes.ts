/** The static web app (apps/web/dist) at `/`, SPA-style. */
import { readFile, stat } from 'node:fs/promises';
import { extname, join, resolve, sep } from 'node:path';
import type { Hono } from 'hono';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.wasm': 'application/wasm',
  '.map': 'application/json',
  '.txt': 'text/plain; charset=utf-8',
};

/**
 * Serves `webRoot` for GET requests outside /_matrix: a file if one matches, else index.html
 * (the web app routes `/listen` etc. itself). Paths are resolved and must stay inside the root.
 */
export function mountStaticRoutes(app: Hono, webRoot: string): void {
  const root = resolve(webRoot);
  app.get('*', async (c, next) => {
    let path: string;
    try {
      path = decodeURIComponent(new URL(c.req.url).pathname);
    } catch {
      return next();
    }
    if (path.startsWith('/_matrix/')) return next();
    const target = resolve(join(root, path));
    let file = target.startsWith(root + sep) || target === root ? target : null;
    if (file) {
      const st = await stat(file).catch(() => null);
      if (!st?.isFile()) file = extname(path) ? null : join(root, 'index.html');
    }
    if (!file) return next();
    const body = await readFile(file).catch(() => null);
    if (!body) return next();
    const immutable = file.includes(`${sep}assets${sep}`);
    return c.body(body, 200, {
      'content-type': TYPES[extname(file)] ?? 'application/octet-stream',
      'cache-control': immutable ? 'public, max-age=31536000, immutable' : 'no-cache',
    });
  });
}
