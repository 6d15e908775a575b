export * from "./assert.ts"
export * from "./rng.ts"
export * from "./scheduler.ts"
export * from "./time.ts"
