import { describe, expect, it } from 'vitest';
import { parseMatrixError } from './matrix-error.ts';

describe('parseMatrixError', () => {
  it('reads errcode, error and the msc4016 reason', () => {
    expect(parseMatrixError('{"errcode":"M_NOT_FOUND","error":"no such media"}')).toEqual({
      errcode: 'M_NOT_FOUND',
      error: 'no such media',
    });
    expect(
      parseMatrixError(
        '{"errcode":"M_LIMIT_EXCEEDED","error":"quota","org.matrix.msc4016.reason":"PENDING_MEDIA_QUOTA"}',
      ),
    ).toEqual({ errcode: 'M_LIMIT_EXCEEDED', error: 'quota', reason: 'PENDING_MEDIA_QUOTA' });
    expect(parseMatrixError('{"errcode":"M_UNKNOWN"}')).toEqual({
      errcode: 'M_UNKNOWN',
      error: '',
    });
  });

  it('returns null for what is not a Matrix error', () => {
    for (const text of ['<html>502</html>', '', '[]', '{"error":"x"}', '{"errcode":5}']) {
      expect(parseMatrixError(text), text).toBeNull();
    }
  });
});
