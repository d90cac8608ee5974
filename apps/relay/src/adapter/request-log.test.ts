/**
 * The request log's route templates and the logger's two formats (docs/operations.md
 * "Logging"): no media id, file name or query reaches a request line; levels filter.
 */
import { describe, expect, it } from 'vitest';
import { createLogger, type LogLevel } from '../core/relay-log.ts';
import { routeTemplate } from './request-log.ts';

const U = '/_matrix/media/unstable/org.matrix.msc4016';

describe('routeTemplate', () => {
  it.each([
    ['/_matrix/media/v1/create', '/_matrix/media/v1/create'],
    ['/_matrix/media/v3/upload/localhost/AbC123', '/_matrix/media/v3/upload/:server/:id'],
    [
      '/_matrix/client/v1/media/download/localhost/AbC123/My%20Secret%20Talk.opus?timeout_ms=5',
      '/_matrix/client/v1/media/download/:server/:id/:fileName',
    ],
    [`${U}/hls/localhost/AbC123/playlist.m3u8`, `${U}/hls/:server/:id/playlist.m3u8`],
    [`${U}/ws/localhost/AbC123?from=0&access_token=syt_secret`, `${U}/ws/:server/:id`],
    [`${U}/upload/ws/localhost/AbC123?access_token=syt_secret`, `${U}/upload/ws/:server/:id`],
    [`${U}/tus`, `${U}/tus`],
    [`${U}/tus/localhost/AbC123`, `${U}/tus/:server/:id`],
    [`${U}/index/localhost/AbC123?from=3`, `${U}/index/:server/:id`],
    [`${U}/media/localhost/AbC123`, `${U}/media/:server/:id`],
    ['/metrics?x=1', '/metrics'],
    ['/_matrix/unknown/syt_token_in_path', '/_matrix/(unrecognized)'],
    ['/listen', '/(static)'],
    [undefined, '/(static)'],
  ])('%s → %s', (url, template) => {
    expect(routeTemplate(url)).toBe(template);
  });
});

function capture(level: LogLevel, format: 'text' | 'json') {
  const lines: string[] = [];
  const logger = createLogger({
    level,
    format,
    write: (l) => lines.push(l),
    now: () => new Date('2026-01-02T03:04:05.678Z'),
  });
  return { logger, lines };
}

describe('createLogger', () => {
  it('text: time level event k=v, quoting values with spaces, quotes or =; undefined left out', () => {
    const { logger, lines } = capture('info', 'text');
    logger.info('request', { method: 'GET', status: 200, msg: 'a "b" c', x: undefined, ok: true });
    expect(lines).toEqual([
      '2026-01-02T03:04:05.678Z info request method=GET status=200 msg="a \\"b\\" c" ok=true',
    ]);
  });

  it('json: one object per line with time, level, event first', () => {
    const { logger, lines } = capture('debug', 'json');
    logger.debug('listening', { host: '::1', port: 8 });
    expect(lines.map((l) => JSON.parse(l) as unknown)).toEqual([
      {
        time: '2026-01-02T03:04:05.678Z',
        level: 'debug',
        event: 'listening',
        host: '::1',
        port: 8,
      },
    ]);
    expect(Object.keys(JSON.parse(lines[0]!) as object).slice(0, 3)).toEqual([
      'time',
      'level',
      'event',
    ]);
  });

  it('a level keeps itself and everything more severe', () => {
    const { logger, lines } = capture('warn', 'text');
    logger.debug('a');
    logger.info('b');
    logger.warn('c');
    logger.error('d');
    expect(lines.map((l) => l.split(' ').slice(1).join(' '))).toEqual(['warn c', 'error d']);
    expect(logger.enabled('info')).toBe(false);
    expect(logger.enabled('error')).toBe(true);
  });
});
