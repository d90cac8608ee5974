/**
 * hls.js fragment loader (`fLoader`) that fetches the relay's byte ranges with hls.js's own
 * default loader (so Range, retries, timeouts and stats stay hls.js's) and hands hls.js fMP4
 * instead of the encrypted blocks: the init segment (EXT-X-MAP) from the header blocks, each
 * media segment — or, in low-latency mode, each part of one (EXT-X-PART, a byte range of a few
 * blocks: hls.js passes it as `context.part`) — remuxed by HlsSegmentRemuxer.
 */
import Hls from 'hls.js';
import type {
  FragmentLoaderContext,
  HlsConfig,
  Loader,
  LoaderCallbacks,
  LoaderConfiguration,
  LoaderContext,
  LoaderResponse,
  LoaderStats,
  NullableNetworkDetails,
} from 'hls.js';
import type { SegmentPlan } from './hls-segment-plan.ts';
import { RemuxError, type HlsSegmentRemuxer } from './hls-segment-remuxer.ts';
import { completeBody, type RangeFetch } from './hls-short-body.ts';

export interface DecryptingLoaderHooks {
  remuxer: HlsSegmentRemuxer;
  /**
   * Which blocks segment `sn` must hold; `tail` = the last segment of a finished playlist
   * (hls.js `frag.endList`), which may be shorter.
   */
  plan(sn: number, tail: boolean): SegmentPlan;
  /** Which blocks part `part` of segment `sn` must hold; `tail` as for `plan`. */
  partPlan(sn: number, part: number, tail: boolean): SegmentPlan;
  /** The authenticated end of stream was in segment `sn` (part `part` of it, for a part). */
  onEos(sn: number, part: number | undefined): void;
  /** Bytes [start, end) of `url` from the network, for a body that came back short. */
  fetchRange(url: string): RangeFetch;
  /** Authentication failures are fatal at once: retrying cannot fix a wrong key. */
  onFatal(error: RemuxError): void;
}

type LoaderClass = new (config: HlsConfig) => Loader<LoaderContext>;

export function createDecryptingLoader(hooks: DecryptingLoaderHooks): LoaderClass {
  const Base = Hls.DefaultConfig.loader as LoaderClass;
  return class DecryptingLoader extends Base {
    override load(
      context: LoaderContext,
      config: LoaderConfiguration,
      callbacks: LoaderCallbacks<LoaderContext>,
    ): void {
      const frag = (context as FragmentLoaderContext).frag as
        FragmentLoaderContext['frag'] | undefined;
      const sn = frag?.sn;
      const part = (context as FragmentLoaderContext).part?.index;
      const isInit = sn === 'initSegment';
      const offset = context.rangeStart ?? 0;
      const rangeEnd = context.rangeEnd;
      super.load(context, config, {
        ...callbacks,
        onError: (error, ctx, details, stats) => {
          // A closed range the playlist lists is stored blocks that never change
          // (docs/protocol.md "HLS view"): a relay answering that it holds none of it (416)
          // contradicts its own playlist. Fatal at once: hls.js would ask six more times, over
          // 30 s, for bytes the relay says it does not have. (An open-ended preload hint past the
          // end of a broadcast that just finished is not listed bytes: left to hls.js.)
          if (error.code === 416 && Number.isFinite(rangeEnd) && !isInit)
            hooks.onFatal(
              new RemuxError(
                'TAMPERED',
                `the relay does not serve bytes ${offset}–${rangeEnd! - 1}, which its playlist lists`,
              ),
            );
          callbacks.onError(error, ctx, details, stats);
        },
        onSuccess: (
          response: LoaderResponse,
          stats: LoaderStats,
          ctx: LoaderContext,
          details: NullableNetworkDetails,
        ) => {
          const received = new Uint8Array(response.data as ArrayBuffer);
          // A short body is completed from the network before anything frames it
          // (hls-short-body.ts); the network's own answer still short is TAMPERED (fatal,
          // below), a transport failure a load error that hls.js retries.
          const body = completeBody(received, offset, rangeEnd, hooks.fetchRange(context.url));
          body.then(
            (b) =>
              b !== received &&
              console.info(
                `mxcast: HLS fragment at ${offset}: ${received.length} of ${b.length} bytes came, the rest completed from the network`,
              ),
            () => undefined, // handled where it is awaited
          );
          const work = isInit
            ? body.then((bytes) => hooks.remuxer.init(bytes))
            : typeof sn !== 'number'
              ? Promise.reject(new RemuxError('BAD_STREAM', 'a fragment without a segment number'))
              : Promise.resolve()
                  .then(() =>
                    part === undefined
                      ? hooks.plan(sn, frag?.endList === true)
                      : hooks.partPlan(sn, part, frag?.endList === true),
                  )
                  .then(async (plan) => hooks.remuxer.segment(await body, offset, plan))
                  .then((s) => {
                    if (s.eos) hooks.onEos(sn, part);
                    return s.data;
                  });
          work.then(
            (data) => {
              const out = data.buffer.slice(
                data.byteOffset,
                data.byteOffset + data.byteLength,
              ) as ArrayBuffer;
              callbacks.onSuccess({ ...response, data: out }, stats, ctx, details);
            },
            (error: unknown) => {
              const failure =
                error instanceof RemuxError
                  ? error
                  : new RemuxError('BAD_STREAM', (error as Error).message);
              if (failure.code !== 'BAD_STREAM') hooks.onFatal(failure);
              callbacks.onError({ code: 0, text: failure.message }, ctx, details, stats);
            },
          );
        },
      });
    }
  };
}
