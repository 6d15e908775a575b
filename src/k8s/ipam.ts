/**
 * Address and port allocators of the control plane.
 *
 * - NodeCidrAllocator: kube-controller-manager node-ipam, RangeAllocator over cidrset
 *   (pkg/controller/nodeipam/ipam/cidrset): the cluster CIDR is cut into /--node-cidr-mask-size
 *   blocks (default 24 for IPv4) handed out lowest-first with a round-robin `nextCandidate`
 *   cursor. Nodes are registered in scenario order, so node 1 gets 10.244.0.0/24, node 2
 *   10.244.1.0/24 — what kubeadm clusters show.
 * - RangeAllocator: containernetworking/plugins host-local (plugins/ipam/host-local/backend/allocator):
 *   range [rangeStart, rangeEnd] inclusive, rangeStart defaults to network+1, rangeEnd to
 *   broadcast-1, the gateway (network+1 for the bridge plugin, cni0) is skipped. Round-robin: the
 *   iterator starts at the last reserved IP + 1 and wraps, so a released address is not reused
 *   until the range wraps around (GetIter/RangeIter.Next).
 * - BitmapAllocator: apiserver pkg/registry/core/service/allocator AllocationBitmap with
 *   randomScanStrategyWithOffset (KEP-3070 for ClusterIPs, KEP-3668 for NodePorts): dynamic
 *   allocation first draws a random start in the upper band [offset, max) and scans it circularly,
 *   and only when that band is full scans the lower "static" band [0, offset) from a random start.
 *   Randomness comes from a named Rng stream instead of math/rand.
 * - ServiceIpAllocator: ipallocator.Range: bit 0 is network+1; IPv4 excludes network and broadcast
 *   (max = size - 2); offset = min(max(16, size/16), 256) (ipallocator calculateRangeOffset).
 * - NodePortAllocator: portallocator: range 30000-32767 by default (--service-node-port-range);
 *   offset = min(max(16, size/32), 128) (portallocator calculateRangeOffset) = 86 for the default
 *   range, so dynamic NodePorts come from 30086-32767 first.
 * - LoadBalancerPool: MetalLB-style pools ("a.b.c.d-a.b.c.e" or CIDR, all addresses usable, as MetalLB
 *   with avoidBuggyIPs=false), first free address in pool order.
 */
import { assert } from "../sim/assert.ts"
import { EMPTY_U8 } from "../sim/empty.ts"
import type { Rng } from "../sim/rng.ts"
import { cidrContains, cidrSize, parseCidr, parseIpv4, type Cidr, type Ipv4 } from "../wire/ipv4.ts"

/** --node-cidr-mask-size default for IPv4 (kube-controller-manager). */
export const NODE_CIDR_MASK_SIZE_DEFAULT = 24

export class NodeCidrAllocator {
  // Fields start with a value of their kind (the constructor sets them): see sim/empty.ts for why.
  private readonly used: Uint8Array = EMPTY_U8
  private nextCandidate = 0
  readonly blockCount: number = 0

  constructor(
    readonly clusterCidr: Cidr,
    readonly maskSize: number = NODE_CIDR_MASK_SIZE_DEFAULT,
  ) {
    assert(
      maskSize >= clusterCidr.prefixLength && maskSize <= 32,
      `node CIDR mask /${maskSize} does not fit in /${clusterCidr.prefixLength}`,
    )
    this.blockCount = 2 ** (maskSize - clusterCidr.prefixLength)
    this.used = new Uint8Array(Math.min(this.blockCount, 1 << 20))
  }

  private blockAt(index: number): Cidr {
    const mask = this.maskOf()
    return {
      address: (this.clusterCidr.address + index * 2 ** (32 - this.maskSize)) >>> 0,
      prefixLength: this.maskSize,
      mask,
    }
  }

  private maskOf(): number {
    return this.maskSize === 0 ? 0 : (0xffffffff << (32 - this.maskSize)) >>> 0
  }

  allocateNext(): Cidr | undefined {
    const count = this.used.length
    for (let i = 0; i < count; i++) {
      const index = (this.nextCandidate + i) % count
      if (this.used[index] === 0) {
        this.used[index] = 1
        this.nextCandidate = (index + 1) % count
        return this.blockAt(index)
      }
    }
    return undefined
  }

  release(block: Cidr): void {
    const index = (block.address - this.clusterCidr.address) / 2 ** (32 - this.maskSize)
    if (index >= 0 && index < this.used.length) this.used[index] = 0
  }
}

export interface RangeOptions {
  readonly rangeStart: Ipv4
  readonly rangeEnd: Ipv4
  /** Skipped by the iterator (host-local: the bridge gateway). */
  readonly gateway?: Ipv4
}

/** host-local IPAM over one range (see module doc). */
export class RangeAllocator {
  private readonly reserved = new Set<Ipv4>()
  private lastReserved: Ipv4 | undefined

  constructor(readonly options: RangeOptions) {
    assert(options.rangeStart <= options.rangeEnd, "empty range")
  }

  /** host-local defaults for a subnet: .1 gateway, range .1 .. broadcast-1 (gateway skipped). */
  static hostLocal(subnet: Cidr): RangeAllocator {
    const broadcast = (subnet.address + cidrSize(subnet) - 1) >>> 0
    return new RangeAllocator({ rangeStart: subnet.address + 1, rangeEnd: broadcast - 1, gateway: subnet.address + 1 })
  }

  contains(ip: Ipv4): boolean {
    return ip >= this.options.rangeStart && ip <= this.options.rangeEnd && ip !== this.options.gateway
  }

  isReserved(ip: Ipv4): boolean {
    return this.reserved.has(ip)
  }

  get reservedCount(): number {
    return this.reserved.size
  }

  /** Reserves a specific address; false when taken or outside the range. */
  reserve(ip: Ipv4): boolean {
    if (!this.contains(ip) || this.reserved.has(ip)) return false
    this.reserved.add(ip)
    this.lastReserved = ip
    return true
  }

  /** Next free address after the last reserved one, wrapping; undefined when the range is full. */
  allocate(): Ipv4 | undefined {
    const { rangeStart, rangeEnd } = this.options
    const size = rangeEnd - rangeStart + 1
    const start =
      this.lastReserved === undefined ? rangeStart : this.lastReserved === rangeEnd ? rangeStart : this.lastReserved + 1
    for (let i = 0; i < size; i++) {
      const ip = (rangeStart + ((start - rangeStart + i) % size)) >>> 0
      if (ip === this.options.gateway || this.reserved.has(ip)) continue
      this.reserved.add(ip)
      this.lastReserved = ip
      return ip
    }
    return undefined
  }

  release(ip: Ipv4): void {
    this.reserved.delete(ip)
  }
}

/** `min(max(minimum, size/step), maximum)`, 0 when size <= minimum (both upstream allocators). */
export function rangeOffset(size: number, minimum: number, maximum: number, step: number): number {
  if (size <= minimum) return 0
  const offset = Math.floor(size / step)
  if (offset < minimum) return minimum
  if (offset > maximum) return maximum
  return offset
}

/** AllocationBitmap + randomScanStrategyWithOffset. */
export class BitmapAllocator {
  private readonly bits: Uint8Array = EMPTY_U8
  private countUsed = 0

  constructor(
    readonly max: number,
    readonly offset: number,
    private readonly rng: Rng,
  ) {
    assert(max > 0 && offset >= 0 && offset < max, `bitmap max ${max} offset ${offset}`)
    this.bits = new Uint8Array(max)
  }

  get used(): number {
    return this.countUsed
  }

  has(index: number): boolean {
    return index >= 0 && index < this.max && this.bits[index] === 1
  }

  /** Allocates a specific index; false when taken. */
  allocate(index: number): boolean {
    assert(index >= 0 && index < this.max, `bitmap index ${index}`)
    if (this.bits[index] === 1) return false
    this.bits[index] = 1
    this.countUsed++
    return true
  }

  /** Random free index, upper band first; -1 when full. */
  allocateNext(): number {
    if (this.countUsed >= this.max) return -1
    const upper = this.max - this.offset
    let start = this.rng.intBelow(upper)
    for (let i = 0; i < upper; i++) {
      const at = this.offset + ((start + i) % upper)
      if (this.bits[at] === 0) return this.take(at)
    }
    if (this.offset === 0) return -1
    start = this.rng.intBelow(this.offset)
    for (let i = 0; i < this.offset; i++) {
      const at = (start + i) % this.offset
      if (this.bits[at] === 0) return this.take(at)
    }
    return -1
  }

  release(index: number): void {
    if (index >= 0 && index < this.max && this.bits[index] === 1) {
      this.bits[index] = 0
      this.countUsed--
    }
  }

  private take(at: number): number {
    this.bits[at] = 1
    this.countUsed++
    return at
  }
}

export type AllocateResult = "ok" | "out-of-range" | "allocated"

/** ClusterIP allocator over the service CIDR (ipallocator.Range). */
export class ServiceIpAllocator {
  private readonly bitmap: BitmapAllocator
  readonly base: Ipv4

  constructor(
    readonly cidr: Cidr,
    rng: Rng,
  ) {
    const size = cidrSize(cidr)
    assert(size >= 4, "service CIDR too small")
    this.base = (cidr.address + 1) >>> 0
    const max = size - 2
    this.bitmap = new BitmapAllocator(max, rangeOffset(size, 16, 256, 16), rng)
  }

  /** The i-th usable address (0 -> network+1: the `kubernetes` Service). */
  nth(index: number): Ipv4 {
    return (this.base + index) >>> 0
  }

  get offset(): number {
    return this.bitmap.offset
  }

  allocate(ip: Ipv4): AllocateResult {
    const index = ip - this.base
    if (!cidrContains(this.cidr, ip) || index < 0 || index >= this.bitmap.max) return "out-of-range"
    return this.bitmap.allocate(index) ? "ok" : "allocated"
  }

  allocateNext(): Ipv4 | undefined {
    const index = this.bitmap.allocateNext()
    return index < 0 ? undefined : this.nth(index)
  }

  release(ip: Ipv4): void {
    this.bitmap.release(ip - this.base)
  }
}

/** --service-node-port-range default. */
export const NODE_PORT_BASE_DEFAULT = 30000
export const NODE_PORT_SIZE_DEFAULT = 2768

/**
 * --service-node-port-range as apimachinery's net.ParsePortRange reads it: "MIN-MAX" (inclusive),
 * "BASE+OFFSET" (BASE..BASE+OFFSET) or a single "PORT"; undefined when malformed or outside 1-65535.
 */
export function parsePortRange(text: string): { readonly base: number; readonly size: number } | undefined {
  const m = /^\s*(\d{1,5})(?:([-+])(\d{1,5}))?\s*$/.exec(text)
  if (m === null) return undefined
  const base = Number(m[1])
  const last = m[2] === undefined ? base : m[2] === "-" ? Number(m[3]) : base + Number(m[3])
  if (base < 1 || last > 65535 || last < base) return undefined
  return { base, size: last - base + 1 }
}

export class NodePortAllocator {
  private readonly bitmap: BitmapAllocator

  constructor(
    rng: Rng,
    readonly base: number = NODE_PORT_BASE_DEFAULT,
    readonly size: number = NODE_PORT_SIZE_DEFAULT,
  ) {
    this.bitmap = new BitmapAllocator(size, rangeOffset(size, 16, 128, 32), rng)
  }

  get offset(): number {
    return this.bitmap.offset
  }

  get rangeText(): string {
    return `${this.base}-${this.base + this.size - 1}`
  }

  allocate(port: number): AllocateResult {
    const index = port - this.base
    if (!Number.isInteger(port) || index < 0 || index >= this.size) return "out-of-range"
    return this.bitmap.allocate(index) ? "ok" : "allocated"
  }

  allocateNext(): number | undefined {
    const index = this.bitmap.allocateNext()
    return index < 0 ? undefined : this.base + index
  }

  release(port: number): void {
    this.bitmap.release(port - this.base)
  }
}

interface PoolRange {
  readonly first: Ipv4
  readonly last: Ipv4
}

/** Parses "a.b.c.d-a.b.c.e" or a CIDR; undefined when malformed. */
export function parsePoolRange(text: string): PoolRange | undefined {
  const dash = text.indexOf("-")
  if (dash >= 0) {
    const first = parseIpv4(text.slice(0, dash).trim())
    const last = parseIpv4(text.slice(dash + 1).trim())
    if (first === undefined || last === undefined || first > last) return undefined
    return { first, last }
  }
  const prefix = parseCidr(text.trim())
  if (prefix === undefined) return undefined
  return { first: prefix.address, last: (prefix.address + cidrSize(prefix) - 1) >>> 0 }
}

/** LoadBalancer ingress addresses (MetalLB-like; see module doc). */
export class LoadBalancerPool {
  private readonly ranges: PoolRange[] = []
  private readonly used = new Set<Ipv4>()

  constructor(pool: readonly string[]) {
    for (const text of pool) {
      const range = parsePoolRange(text)
      assert(range !== undefined, `bad load-balancer pool range ${text}`)
      this.ranges.push(range)
    }
  }

  get enabled(): boolean {
    return this.ranges.length > 0
  }

  contains(ip: Ipv4): boolean {
    return this.ranges.some((r) => ip >= r.first && ip <= r.last)
  }

  allocate(ip: Ipv4): AllocateResult {
    if (!this.contains(ip)) return "out-of-range"
    if (this.used.has(ip)) return "allocated"
    this.used.add(ip)
    return "ok"
  }

  allocateNext(): Ipv4 | undefined {
    for (const range of this.ranges) {
      for (let ip = range.first; ip <= range.last; ip++) {
        if (!this.used.has(ip)) {
          this.used.add(ip)
          return ip
        }
      }
    }
    return undefined
  }

  release(ip: Ipv4): void {
    this.used.delete(ip)
  }
}
