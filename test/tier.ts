// Test tiers and knobs. `npm test` is the quick tier (CI, under 90 s on a 2-core machine, every kind
// of test represented); `npm run test:extensive` sets KUBE_NETSIM_TIER=extensive for the long fuzz
// and kernel budgets. Every knob a test reads is an environment variable named KUBE_NETSIM_<NAME>,
// read through this module so the names stay in one family and one place documents them.

/** True under `npm run test:extensive` (KUBE_NETSIM_TIER=extensive). */
export const extensive: boolean = process.env.KUBE_NETSIM_TIER === "extensive"

/** Raw value of KUBE_NETSIM_<name>, or undefined when unset or empty. */
export function knob(name: string): string | undefined {
  const value = process.env[`KUBE_NETSIM_${name}`]
  return value === undefined || value === "" ? undefined : value
}

/**
 * Integer knob KUBE_NETSIM_<name>; when unset, `quick` in the quick tier and `long` in the extensive
 * tier. A set value that is not a non-negative integer is an error, not silently ignored.
 */
export function knobInt(name: string, quick: number, long: number = quick): number {
  const raw = knob(name)
  if (raw === undefined) return extensive ? long : quick
  if (!/^\d+$/.test(raw))
    throw new Error(`KUBE_NETSIM_${name} must be a non-negative integer, got ${JSON.stringify(raw)}`)
  return Number(raw)
}

/** Boolean knob: "1"/"true" is true, "0"/"false" is false, unset is `fallback`. */
export function knobBool(name: string, fallback: boolean): boolean {
  const raw = knob(name)
  if (raw === undefined) return fallback
  if (raw === "1" || raw === "true") return true
  if (raw === "0" || raw === "false") return false
  throw new Error(`KUBE_NETSIM_${name} must be 1/true or 0/false, got ${JSON.stringify(raw)}`)
}
