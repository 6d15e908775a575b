/**
 * Programmer-error assertions. Simulated failures (drops, refusals, timeouts) are data and never
 * go through here; a failed assertion means the simulator itself is wrong, so it throws at once.
 */
export class AssertionError extends Error {
  override readonly name = "AssertionError"
}

export function assert(condition: boolean, message?: string): asserts condition {
  if (!condition) throw new AssertionError(message ?? "assertion failed")
}

export function unreachable(value: never, what = "value"): never {
  throw new AssertionError(`unreachable ${what}: ${String(value)}`)
}
