/**
 * Caps what the kernel takes from the relay for one TCP connection but cannot send yet
 * (TCP_NOTSENT_LOWAT, per socket; docs/operations.md "Listeners and memory"). Without it a peer
 * that never reads takes, before node sees any backpressure, our whole send buffer: up to
 * net.ipv4.tcp_wmem's maximum, ~4 MB on a default Linux host. A crowd of such peers asking for
 * history so costs the relay a wave of copies into the kernel (~4 MB each) that its live listeners
 * feel; with the cap each takes about the cap plus the peer's small initial receive window. The
 * cap does not limit the bytes in flight (the congestion window), only those queued behind them,
 * so a reading peer far away is as fast as before: the kernel asks for more as it sends.
 *
 * Node has no setsockopt for TCP sockets, so the call goes through koffi (a foreign function
 * interface with prebuilt binaries) to the C library's setsockopt on the socket's descriptor.
 * Where that cannot work (no koffi binary for the platform, no descriptor, another OS) the relay
 * runs as before and says so once at start; the host-wide `sysctl net.ipv4.tcp_notsent_lowat`
 * has the same effect.
 */
import { createRequire } from 'node:module';
import type { Socket } from 'node:net';
import type Koffi from 'koffi';

/** IPPROTO_TCP and TCP_NOTSENT_LOWAT on the platforms that have the option. */
const OPTION: Partial<Record<NodeJS.Platform, { level: number; name: number }>> = {
  linux: { level: 6, name: 25 },
  darwin: { level: 6, name: 0x201 },
};

type SetSockOpt = (fd: number, level: number, name: number, value: number[], len: number) => number;

export interface UnsentLimit {
  /** The cap applied to each accepted socket, bytes; 0 when none is (asked for none, or unsupported). */
  readonly bytes: number;
  /** Why a cap was asked for and cannot be applied here; undefined otherwise. */
  readonly unavailable?: string;
  /** Applies the cap to `socket`; false when it could not (the socket keeps the host's setting). */
  apply(socket: Socket): boolean;
}

let loaded: { setsockopt: SetSockOpt } | Error | undefined;

function libc(): { setsockopt: SetSockOpt } | Error {
  if (loaded) return loaded;
  try {
    const require = createRequire(import.meta.url);
    const koffi = require('koffi') as typeof Koffi;
    // null: the symbols already loaded in this process, so node's own C library.
    const lib = koffi.load(null as unknown as string);
    const fn = lib.func(
      'int setsockopt(int fd, int level, int name, _In_ int *value, uint32_t len)',
    ) as SetSockOpt;
    loaded = { setsockopt: fn };
  } catch (err) {
    loaded = err instanceof Error ? err : new Error(String(err));
  }
  return loaded;
}

/** The socket's file descriptor (node keeps it on the libuv handle; -1 or absent elsewhere). */
function descriptorOf(socket: Socket): number {
  const fd = (socket as unknown as { _handle?: { fd?: number } })._handle?.fd;
  return typeof fd === 'number' && fd >= 0 ? fd : -1;
}

/** `bytes` 0: no cap (the host's setting stays). */
export function socketUnsentLimit(bytes: number, platform = process.platform): UnsentLimit {
  const none = (unavailable?: string): UnsentLimit => ({
    bytes: 0,
    unavailable,
    apply: () => false,
  });
  if (!(bytes > 0)) return none();
  const option = OPTION[platform];
  if (!option) return none(`TCP_NOTSENT_LOWAT is not known on ${platform}`);
  const lib = libc();
  if (lib instanceof Error) return none(`koffi could not load: ${lib.message}`);
  const value = [Math.min(Math.floor(bytes), 2 ** 31 - 1)];
  return {
    bytes: value[0] ?? 0,
    apply(socket) {
      const fd = descriptorOf(socket);
      return fd >= 0 && lib.setsockopt(fd, option.level, option.name, value, 4) === 0;
    },
  };
}
