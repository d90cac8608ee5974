// The alias in vite.config.ts maps `opusscript-real` to the real opusscript package (see
// codec/opusscript-browser.ts); only the constructor shape the shim forwards is typed here.
declare module 'opusscript-real' {
  const OpusScript: new (
    rate: number,
    channels?: number,
    application?: number,
    options?: { wasm?: boolean },
  ) => object;
  export default OpusScript;
}
