/**
 * Counters by reason (request failures, drops, DNS rcodes...). Two forms:
 * - `ReasonCounter`: the hot-path form. Reasons are small integer codes fixed at build time
 *   (an `as const` list of names); counting is one typed-array increment, no string per packet.
 * - `countByName`: a string-keyed counter for control-plane paths (rare events, build time).
 * Both report a record with keys sorted, as the results document requires.
 */
import { AssertionError } from "../sim/assert.ts"
import { EMPTY_F64 } from "../sim/empty.ts"
import { sortedRecord } from "./document.ts"

export class ReasonCounter<Name extends string = string> {
  /** Starts as an array of its kind (the constructor sizes it): see sim/empty.ts for why. */
  private readonly counts: Float64Array = EMPTY_F64
  private readonly codeByName = new Map<string, number>()

  /** `names[code]` is the reason name reported for code `code`. Names must be distinct. */
  constructor(readonly names: readonly Name[]) {
    this.counts = new Float64Array(names.length)
    names.forEach((name, code) => {
      if (this.codeByName.has(name)) throw new AssertionError(`duplicate reason ${name}`)
      this.codeByName.set(name, code)
    })
  }

  /** The integer code of `name`, to keep in the component that counts (resolved once). */
  code(name: Name): number {
    const code = this.codeByName.get(name)
    if (code === undefined) throw new AssertionError(`unknown reason ${name}`)
    return code
  }

  /** Counts `times` occurrences of reason `code`. */
  add(code: number, times = 1): void {
    if (!(code >= 0 && code < this.counts.length)) badCode(code)
    this.counts[code] += times
  }

  count(code: number): number {
    return this.counts[code] ?? 0
  }

  countOf(name: Name): number {
    return this.counts[this.code(name)]
  }

  get total(): number {
    let total = 0
    for (const count of this.counts) total += count
    return total
  }

  /** Adds every count of `other` (same names in the same order) to this counter. */
  merge(other: ReasonCounter<Name>): void {
    if (other.names.length !== this.names.length || other.names.some((name, i) => name !== this.names[i]))
      throw new AssertionError("merging counters with different reasons")
    for (let i = 0; i < this.counts.length; i++) this.counts[i] += other.counts[i]
  }

  /** Sorted record of the reasons; zero counts are left out unless `includeZero`. */
  toRecord(includeZero = false): Record<string, number> {
    const out: Record<string, number> = {}
    this.names.forEach((name, code) => {
      const count = this.counts[code]
      if (count > 0 || includeZero) out[name] = count
    })
    return sortedRecord(out)
  }
}

/** String-keyed counter for paths that are not hot. */
export class NameCounter {
  private readonly counts = new Map<string, number>()

  add(name: string, times = 1): void {
    this.counts.set(name, (this.counts.get(name) ?? 0) + times)
  }

  count(name: string): number {
    return this.counts.get(name) ?? 0
  }

  get total(): number {
    let total = 0
    for (const count of this.counts.values()) total += count
    return total
  }

  toRecord(): Record<string, number> {
    const out: Record<string, number> = {}
    for (const name of [...this.counts.keys()].sort()) out[name] = this.counts.get(name) as number
    return out
  }
}

/** Counts the names in `names` into a sorted record. */
export function countByName(names: Iterable<string>): Record<string, number> {
  const counter = new NameCounter()
  for (const name of names) counter.add(name)
  return counter.toRecord()
}

/** Sum of two count records, sorted. */
export function addCounts(
  left: Readonly<Record<string, number>>,
  right: Readonly<Record<string, number>>,
): Record<string, number> {
  const out: Record<string, number> = { ...left }
  for (const [name, count] of Object.entries(right)) out[name] = (out[name] ?? 0) + count
  return sortedRecord(out)
}

function badCode(code: number): never {
  throw new AssertionError(`unknown reason code ${code}`)
}
