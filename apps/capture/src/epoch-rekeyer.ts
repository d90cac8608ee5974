/**
 * EpochRekeyer lives in @mxcast/format (epoch-rekeyer.ts) so the web broadcaster announces key
 * epochs ahead exactly as the CLI capture does; re-exported here for the capture's imports.
 */
export { EpochRekeyer, type EpochRekeyerOptions, type EpochAnnouncement } from '@mxcast/format';
