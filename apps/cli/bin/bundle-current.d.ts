// Types of bundle-current.js, for the TypeScript that imports it (bench/cli-bundle.ts).
export declare const BUNDLE_INPUTS_FILE: string;
export declare function staleBundleInputs(cliDir: URL): string[];
