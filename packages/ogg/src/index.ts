// @mxcast/ogg — bytes only: Ogg pages (RFC 3533) and Ogg Opus (RFC 7845). No Node imports.
export { OggError, isOggError, type OggErrorCode } from './ogg-error.ts';
export { oggCrc } from './ogg-crc.ts';
export {
  OggFlag,
  OGG_HEADER_SIZE,
  OGG_MAX_PAGE_SIZE,
  OGG_MAX_SEGMENTS,
  type OggPage,
  type ParsedOggPage,
  type PageParseOptions,
  writeOggPage,
  parseOggPage,
  parsePageAt,
  pageSizeAt,
} from './ogg-page.ts';
export { OggPageReader, type OggPageReaderOptions, type ReadOggPage } from './ogg-page-reader.ts';
export { type OpusHead, encodeOpusHead, parseOpusHead, isOpusHead } from './opus-head.ts';
export {
  type OpusTags,
  type OpusComment,
  encodeOpusTags,
  parseOpusTags,
  isOpusTags,
  findOpusTag,
} from './opus-tags.ts';
export { opusPacketSamples, opusFrameSamples, opusPacketFrames } from './opus-packet.ts';
export { OggOpusPager, type OggOpusPagerOptions, type AudioPageOptions } from './ogg-opus-pager.ts';
export {
  type OpusStreamPage,
  type OpusHeadPage,
  type OpusTagsPage,
  type OpusAudioPage,
  parseOpusPage,
  granuleToSeconds,
} from './opus-page.ts';
