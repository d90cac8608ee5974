import { describe, expect, it } from 'vitest';
import { FINISH_MESSAGE, parseUploadMessage } from './upload-message.ts';

describe('parseUploadMessage', () => {
  it('reads ack, complete and error (with the relay reason field)', () => {
    expect(parseUploadMessage('{"type":"ack","offset":1035,"blocks":2}')).toEqual({
      type: 'ack',
      offset: 1035,
      blocks: 2,
    });
    expect(
      parseUploadMessage('{"type":"complete","sha256":"abc","offset":1035,"blocks":2}'),
    ).toEqual({ type: 'complete', sha256: 'abc', offset: 1035, blocks: 2 });
    expect(
      parseUploadMessage(
        '{"type":"error","errcode":"M_BAD_BLOCK","error":"block 3: BAD_CRC","org.matrix.msc4016.reason":"BAD_CRC"}',
      ),
    ).toEqual({
      type: 'error',
      errcode: 'M_BAD_BLOCK',
      error: 'block 3: BAD_CRC',
      reason: 'BAD_CRC',
    });
    expect(JSON.stringify(FINISH_MESSAGE)).toBe('{"type":"finish"}');
  });

  it('returns null for anything else', () => {
    for (const text of [
      '{',
      '{"type":"ack","offset":"1"}',
      '{"type":"ack","offset":1}',
      '{"type":"complete","sha256":null,"offset":1,"blocks":1}',
      '{"type":"error"}',
      '{"type":"finish"}',
    ]) {
      expect(parseUploadMessage(text), text).toBeNull();
    }
  });
});
