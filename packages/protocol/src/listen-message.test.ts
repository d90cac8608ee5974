import { describe, expect, it } from 'vitest';
import { parseListenMessage } from './listen-message.ts';

describe('parseListenMessage', () => {
  it('reads every message the relay sends (docs/protocol.md "Listen over WebSocket")', () => {
    expect(
      parseListenMessage('{"type":"status","state":"live","listeners":3,"block_count":40}'),
    ).toEqual({ type: 'status', state: 'live', listeners: 3, block_count: 40 });
    expect(
      parseListenMessage(
        '{"type":"status","state":"live","listeners":3,"block_count":40,"interrupted":true}',
      ),
    ).toEqual({ type: 'status', state: 'live', listeners: 3, block_count: 40, interrupted: true });
    expect(parseListenMessage('{"type":"skipped","to_seq":17}')).toEqual({
      type: 'skipped',
      to_seq: 17,
    });
    expect(parseListenMessage('{"type":"end","state":"cancelled"}')).toEqual({
      type: 'end',
      state: 'cancelled',
    });
    expect(parseListenMessage('{"type":"end","state":"cancelled","reason":"expired"}')).toEqual({
      type: 'end',
      state: 'cancelled',
      reason: 'expired',
    });
    expect(parseListenMessage('{"type":"error","errcode":"M_NOT_FOUND","error":"gone"}')).toEqual({
      type: 'error',
      errcode: 'M_NOT_FOUND',
      error: 'gone',
    });
  });

  it('keeps only the documented fields', () => {
    expect(parseListenMessage('{"type":"skipped","to_seq":2,"extra":"x"}')).toEqual({
      type: 'skipped',
      to_seq: 2,
    });
  });

  it('returns null for what it does not know, so listeners can ignore it', () => {
    for (const text of [
      'not json',
      '[]',
      'null',
      '"status"',
      '{"type":"hello"}',
      '{"type":"status","state":"live","listeners":3}',
      '{"type":"status","state":"paused","listeners":3,"block_count":1}',
      '{"type":"status","state":"live","listeners":-1,"block_count":1}',
      '{"type":"skipped","to_seq":"5"}',
      '{"type":"skipped","to_seq":1.5}',
      '{"type":"end","state":"done"}',
      '{"type":"error","error":"no code"}',
    ]) {
      expect(parseListenMessage(text), text).toBeNull();
    }
  });
});
