// Worker-thread entry point (pool.ts starts it): registers tsx's loader as bin/kube-netsim.js does,
// so the worker runs the TypeScript sources directly, then loads the worker's code. A failure to
// load is posted as an error reply: the main thread, blocked in Atomics.wait, sees no 'error' event.
import { workerData } from "node:worker_threads"
import { register } from "tsx/esm/api"

try {
  register()
  await import("./worker.ts")
} catch (error) {
  const { port, signal } = workerData
  port.postMessage({
    type: "fatal",
    message: `worker failed to start: ${error instanceof Error ? error.message : String(error)}`,
  })
  const counter = new Int32Array(signal)
  Atomics.add(counter, 0, 1)
  Atomics.notify(counter, 0)
}
