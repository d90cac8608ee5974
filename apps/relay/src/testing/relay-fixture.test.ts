/** The test relay fixture's forwarding object: reads and spreads see the running relay. */
import { describe, expect, it } from 'vitest';
import { useTestRelay } from './relay-fixture.ts';

describe('useTestRelay', () => {
  const t = useTestRelay();

  it('reads and spreads through to the running relay', async () => {
    expect(t.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const copy = { ...t, token: 'other' };
    expect(copy.url).toBe(t.url);
    expect(copy.auth).toEqual({ Authorization: `Bearer ${t.token}` });
    expect(copy.token).toBe('other');
    expect((await fetch(`${copy.url}/health`)).status).toBe(200);
  });
});
