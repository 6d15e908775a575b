// Worker-thread entry point (pool.ts starts it): registers tsx's loader as bin/kube-netsim.js does,
// so the worker runs the TypeScript sources directly, then loads the worker's code.
import { register } from "tsx/esm/api"
register()
await import("./worker.ts")
