#!/usr/bin/env node
// Entry point: runs the TypeScript CLI through tsx's loader so `npx kube-netsim` works after `npm ci`
// without a build step.
import { register } from "tsx/esm/api"
register()
await import("../src/cli/main.ts")
