import { describe, expect, it } from 'vitest';
import { kernelHoldBytes, type NetSysctl } from './history-pacing.ts';

const KiB = 1024;
const MiB = 1024 ** 2;

/** A host's /proc/sys/net values; a missing file reads NaN, as on a host without it. */
function host(values: Record<string, number[]>): NetSysctl {
  return (file, field = 0) => values[file]?.[field] ?? NaN;
}

const LINUX_DEFAULTS = {
  'ipv4/tcp_wmem': [4096, 16 * KiB, 4 * MiB],
  'ipv4/tcp_rmem': [4096, 128 * KiB, 6 * MiB],
  'core/rmem_max': [208 * KiB],
  'ipv4/tcp_notsent_lowat': [4294967295],
};

describe('kernelHoldBytes: what a socket takes before its peer must have read', () => {
  it('is the send buffer at its largest plus the peer window plus node high-water mark', () => {
    expect(kernelHoldBytes(host(LINUX_DEFAULTS))).toBe(4 * MiB + 416 * KiB + 16 * KiB);
  });

  it('counts a raised rmem_max: a peer may ask that much receive buffer without reading', () => {
    const raised = { ...LINUX_DEFAULTS, 'core/rmem_max': [4 * MiB] };
    expect(kernelHoldBytes(host(raised))).toBe(4 * MiB + 8 * MiB + 16 * KiB);
  });

  it('with tcp_notsent_lowat set, the send side is that plus one write', () => {
    const lowat = { ...LINUX_DEFAULTS, 'ipv4/tcp_notsent_lowat': [128 * KiB] };
    expect(kernelHoldBytes(host(lowat))).toBe(128 * KiB + 64 * KiB + 416 * KiB + 16 * KiB);
    // Without the file (older kernels), the send buffer's maximum as before.
    const { 'ipv4/tcp_notsent_lowat': _, ...noLowat } = LINUX_DEFAULTS;
    expect(kernelHoldBytes(host(noLowat))).toBe(4 * MiB + 416 * KiB + 16 * KiB);
  });

  it("the relay's own per-socket cap replaces the host's tcp_notsent_lowat", () => {
    expect(kernelHoldBytes(host(LINUX_DEFAULTS), 128 * KiB)).toBe(
      128 * KiB + 64 * KiB + 416 * KiB + 16 * KiB,
    );
    const lowat = { ...LINUX_DEFAULTS, 'ipv4/tcp_notsent_lowat': [1 * MiB] };
    expect(kernelHoldBytes(host(lowat), 128 * KiB)).toBe(
      128 * KiB + 64 * KiB + 416 * KiB + 16 * KiB,
    );
    // 0: none set by the relay, the host's setting counts.
    expect(kernelHoldBytes(host(lowat), 0)).toBe(1 * MiB + 64 * KiB + 416 * KiB + 16 * KiB);
  });

  it('falls back to 16 MiB where nothing can be read (not Linux)', () => {
    expect(kernelHoldBytes(host({}))).toBe(16 * MiB);
  });

  it('reads this host', () => {
    expect(kernelHoldBytes()).toBeGreaterThan(64 * KiB);
  });
});
