/**
 * integerOption, shared by `encrypt --block-size` and `decrypt`/`inspect --max-block-length`: the
 * fallback when absent, the value when a decimal integer in range, else one CliError (exit 2)
 * naming the option, the range and the text given.
 */
import { describe, expect, it } from 'vitest';
import { CliError, integerOption } from './command-kit.ts';

describe('integerOption', () => {
  it('gives the fallback when the option is absent and the value when in range', () => {
    expect(integerOption('--n', undefined, 16, 100, 42)).toBe(42);
    expect(integerOption('--n', '16', 16, 100, 42)).toBe(16);
    expect(integerOption('--n', '100', 16, 100, 42)).toBe(100);
    expect(integerOption('--n', '4294967295', 16, 0xffffffff, 42)).toBe(0xffffffff);
  });

  it('refuses text that is not decimal digits, and values out of range, naming both', () => {
    for (const text of ['15', '101', '', '1e2', '0x20', '-20', '20.0', ' 20']) {
      let err: unknown;
      try {
        integerOption('--n', text, 16, 100, 42);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(CliError);
      expect((err as CliError).exitCode).toBe(2);
      expect((err as CliError).message).toBe(`--n must be an integer in 16..100, got '${text}'`);
    }
  });
});
