/**
 * The userspace proxier's proxy port allocator (kubernetes v1.25
 * pkg/proxy/userspace/port_allocator.go), over `--proxy-port-range`.
 *
 * - An empty range (the default) gives randomAllocator: AllocateNext returns 0 and the proxy socket
 *   binds port 0, i.e. the kernel picks an ephemeral port (see ProxyPorts.bindEphemeral).
 * - A range gives rangeAllocator.nextFreePort: a uniformly random offset j in [0, size); taken
 *   => scan j+1 .. size-1, then 0 .. j-1; none free => allocation fails. Release clears the bit.
 * Not modelled: the 16-port prefill buffer (`portsBufSize`) and its 500 ms refill cooldown, which
 * only change which free ports are handed out next, and AllocateNext's 1 s wait when the range is
 * exhausted (here it fails at once).
 */
import { EMPTY_U8 } from "../../sim/empty.ts"
import type { Rng } from "../../sim/rng.ts"

export interface PortAllocator {
  /** A port, 0 = let the kernel choose (random allocator), -1 = the range is exhausted. */
  allocateNext(): number
  release(port: number): void
}

export class RandomPortAllocator implements PortAllocator {
  allocateNext(): number {
    return 0
  }
  release(_port: number): void {}
}

export class RangePortAllocator implements PortAllocator {
  /** Starts as an array of its kind (the constructor sizes it): see sim/empty.ts for why. */
  private readonly used: Uint8Array = EMPTY_U8

  constructor(
    readonly base: number,
    readonly size: number,
    private readonly rng: Rng,
  ) {
    if (!(Number.isInteger(base) && base > 0 && Number.isInteger(size) && size > 0 && base + size - 1 <= 65535))
      throw new Error(`userspace proxy: illegal port range base ${base} size ${size}`)
    this.used = new Uint8Array(size)
  }

  allocateNext(): number {
    const j = this.rng.intBelow(this.size)
    if (this.used[j] === 0) return this.take(j)
    for (let i = j + 1; i < this.size; i++) if (this.used[i] === 0) return this.take(i)
    for (let i = 0; i < j; i++) if (this.used[i] === 0) return this.take(i)
    return -1
  }

  release(port: number): void {
    const i = port - this.base
    if (i < 0 || i >= this.size) return
    this.used[i] = 0
  }

  private take(i: number): number {
    this.used[i] = 1
    return this.base + i
  }
}

/**
 * Parses `--proxy-port-range` as utilnet.PortRange.Set does: "" (empty: random), "low-high",
 * "base+offset" (base .. base+offset) or a single port "base" (size 1). Returns null for empty, or [base, size].
 */
export function parseProxyPortRange(text: string): [number, number] | null | string {
  const t = text.trim()
  if (t === "") return null
  const m = /^(\d+)(?:([-+])(\d+))?$/.exec(t)
  if (m === null) return `"${text}" is not a port range (expected "low-high", "base+offset" or a port)`
  const low = Number(m[1])
  let size = 1
  if (m[2] === "-") size = Number(m[3]) - low + 1
  // "base+offset" covers base .. base+offset (PortRange.Set: high = low + offset).
  else if (m[2] === "+") size = Number(m[3]) + 1
  if (!(low >= 1 && low <= 65535)) return `port ${low} is out of range 1-65535`
  if (!(size >= 1 && low + size - 1 <= 65535)) return `"${text}" is not a valid port range`
  return [low, size]
}
