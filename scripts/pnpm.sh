#!/usr/bin/env bash
# pnpm without a global install: the version pinned in package.json, through npx.
exec npx --yes pnpm@10.34.8 "$@"
