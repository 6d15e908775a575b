/**
 * Goal: conntrack's hash table has the kernel's bucket count and early_drop examines the kernel's
 * window of it: nf_conntrack_buckets from RAM as nf_conntrack_init_start sizes it, rounded to
 * pages as nf_ct_alloc_hashtable does, raised to nf_conntrack_max / 4 by kube-proxy's SetMax;
 * early_drop walks NF_CT_EVICTION_RANGE buckets from the new tuple's (reciprocal_scale) bucket,
 * wrapping, and early_drop_list deletes every non-ASSURED entry of the first bucket that has one.
 */
import { describe, expect, it } from "vitest"
import { NS_PER_S } from "../../src/sim/time.ts"
import { ipv4 } from "../../src/wire/ipv4.ts"
import { Protocol } from "../../src/wire/protocol.ts"
import {
  BUCKETS_PER_PAGE,
  CONNTRACK_BUCKETS_DEFAULT,
  Conntrack,
  EVICTION_RANGE,
  kernelAutosizeBuckets,
  kernelBuckets,
  reciprocalScale,
} from "../../src/netfilter/conntrack.ts"
import { CtStatus } from "../../src/netfilter/constants.ts"
import {
  CONNTRACK_MAX_PER_CORE_DEFAULT,
  CONNTRACK_MIN_DEFAULT,
  KERNEL_CONNTRACK_MAX_DEFAULT,
  kubeProxyHashsize,
  nodeConntrackSysctls,
} from "../../src/proxy/conntrack-sysctls.ts"

const MiB = 1024 * 1024
const GiB = 1024 * MiB
const A = ipv4("10.0.0.5")
const B = ipv4("10.0.0.9")
const UDP = Protocol.UDP

describe("nf_conntrack_buckets", () => {
  it("the kernel's autosize from RAM (nf_conntrack_init_start, v5.15+)", () => {
    // RAM / 16384 / sizeof(struct hlist_head) up to 1 GiB, at least 1024.
    expect(kernelAutosizeBuckets(64 * MiB)).toBe(1024)
    expect(kernelAutosizeBuckets(512 * MiB)).toBe(4096)
    expect(kernelAutosizeBuckets(1 * GiB)).toBe(8192)
    // Above 1 GiB: 65536; above 4 GiB (64-bit): 262144.
    expect(kernelAutosizeBuckets(2 * GiB)).toBe(65536)
    expect(kernelAutosizeBuckets(4 * GiB)).toBe(65536)
    expect(kernelAutosizeBuckets(8 * GiB)).toBe(262144)
    expect(kernelAutosizeBuckets(512 * GiB)).toBe(262144)
    // The default node (m5.large, 8 GiB); nf_conntrack_max = buckets (max_factor 1).
    expect(CONNTRACK_BUCKETS_DEFAULT).toBe(262144)
    expect(KERNEL_CONNTRACK_MAX_DEFAULT).toBe(CONNTRACK_BUCKETS_DEFAULT)
  })

  it("a requested hashsize is rounded up to whole pages (nf_ct_alloc_hashtable)", () => {
    expect(BUCKETS_PER_PAGE).toBe(512)
    expect(kernelBuckets(1)).toBe(512)
    expect(kernelBuckets(1000)).toBe(1024)
    expect(kernelBuckets(32768)).toBe(32768)
    expect(new Conntrack({ buckets: 700 }).buckets).toBe(1024)
    expect(new Conntrack().buckets).toBe(262144)
  })

  it("kube-proxy's SetMax writes hashsize = max / 4 only when the kernel's is smaller", () => {
    expect(kubeProxyHashsize(262144, 131072)).toBe(262144)
    expect(kubeProxyHashsize(16384, 131072)).toBe(32768)
    expect(kubeProxyHashsize(32768, 131072)).toBe(32768)
    // max / 4 is Go integer division, then rounded up to pages by the kernel.
    expect(kubeProxyHashsize(1024, 10001)).toBe(2560)
    const config = {
      maxPerCore: CONNTRACK_MAX_PER_CORE_DEFAULT,
      min: CONNTRACK_MIN_DEFAULT,
      kernelMax: KERNEL_CONNTRACK_MAX_DEFAULT,
      tcpEstablishedTimeoutNs: 0,
      tcpCloseWaitTimeoutNs: 0,
      udpTimeoutNs: 0,
      udpStreamTimeoutNs: 0,
      tcpBeLiberal: false,
    }
    // Default node (8 GiB, 2 CPUs): max 131072, 262144 buckets already >= 32768.
    expect(nodeConntrackSysctls(config, 2)).toMatchObject({ max: 131072, buckets: 262144 })
    // A 2 GiB node (65536 buckets) with 32 CPUs: max 1048576 -> 262144 buckets.
    expect(nodeConntrackSysctls({ ...config, kernelBuckets: 65536 }, 32)).toMatchObject({
      max: 1048576,
      buckets: 262144,
    })
    // A 512 MiB node (4096 buckets), 2 CPUs: 32768.
    expect(nodeConntrackSysctls({ ...config, kernelBuckets: 4096 }, 2)).toMatchObject({ buckets: 32768 })
    // maxPerCore 0: kube-proxy does not call SetMax, the kernel's table stays.
    expect(nodeConntrackSysctls({ ...config, maxPerCore: 0, kernelBuckets: 4096 }, 2)).toMatchObject({
      max: KERNEL_CONNTRACK_MAX_DEFAULT,
      buckets: 4096,
    })
  })

  it("reciprocal_scale is ((u64)hash * size) >> 32", () => {
    expect(reciprocalScale(0, 1000)).toBe(0)
    expect(reciprocalScale(0xffffffff, 1000)).toBe(999)
    expect(reciprocalScale(0x80000000, 1000)).toBe(500)
    expect(reciprocalScale(0xffffffff, 536870911)).toBe(536870910)
    for (const h of [1, 0x12345678, 0x9abcdef0, 0xdeadbeef])
      for (const size of [512, 32768, 262144, 3 * 512])
        expect(reciprocalScale(h, size)).toBe(Number((BigInt(h) * BigInt(size)) >> 32n))
  })
})

/** UDP source ports whose original tuple (A:port > B:53) lands in `bucket` and reply tuple not in `avoid`. */
function portsIn(ct: Conntrack, bucket: number, avoid: (b: number) => boolean, count: number): number[] {
  const ports: number[] = []
  for (let port = 1024; port < 65536 && ports.length < count; port++)
    if (ct.bucketOf(A, B, port, 53, UDP) === bucket && !avoid(ct.bucketOf(B, A, 53, port, UDP))) ports.push(port)
  expect(ports.length).toBe(count)
  return ports
}

/** A confirmed UDP entry A:port > B:53 living 30 s from `nowNs`, ASSURED when asked. */
function entry(ct: Conntrack, port: number, nowNs: number, assured: boolean): number {
  const id = ct.allocate(A, B, port, 53, UDP, nowNs)
  expect(id).toBeGreaterThanOrEqual(0)
  ct.expiresNs[id] = nowNs + 30 * NS_PER_S
  if (assured) ct.status[id] |= CtStatus.ASSURED
  expect(ct.confirm(id, nowNs)).toBe(id)
  return id
}

describe("early_drop over the kernel's layout", () => {
  const BUCKETS = 512
  /** The new flow's port and its bucket. */
  function newFlow(ct: Conntrack, bucket: number): number {
    return portsIn(ct, bucket, () => false, 1)[0]
  }
  const window = (start: number) => (b: number) => (b - start + BUCKETS) % BUCKETS < EVICTION_RANGE + 1

  it("evicts a non-ASSURED entry in the 8th bucket from the new tuple's, not one in the 9th", () => {
    for (const [offset, evicted] of [
      [EVICTION_RANGE - 1, true],
      [EVICTION_RANGE, false],
    ] as const) {
      const ct = new Conntrack({ max: 2, buckets: BUCKETS })
      const start = 100
      const port = newFlow(ct, start)
      // An ASSURED entry in the new tuple's own bucket is never a victim.
      entry(ct, portsIn(ct, start, window(start), 1)[0], 0, true)
      entry(ct, portsIn(ct, start + offset, window(start), 1)[0], 0, false)
      const id = ct.allocate(A, B, port, 53, UDP, NS_PER_S)
      expect(id >= 0).toBe(evicted)
      expect(ct.stats()).toMatchObject({ earlyDrops: evicted ? 1 : 0, dropTableFull: evicted ? 0 : 1 })
    }
  })

  it("wraps from the last bucket to the first ((bucket + 1) % hsize)", () => {
    const ct = new Conntrack({ max: 1, buckets: BUCKETS })
    const port = newFlow(ct, BUCKETS - 1)
    entry(ct, portsIn(ct, 2, window(BUCKETS - 1), 1)[0], 0, false)
    expect(ct.allocate(A, B, port, 53, UDP, NS_PER_S)).toBeGreaterThanOrEqual(0)
    expect(ct.stats().earlyDrops).toBe(1)
  })

  it("deletes every non-ASSURED entry of the first bucket that has one, and stops there", () => {
    const ct = new Conntrack({ max: 4, buckets: BUCKETS })
    const start = 300
    const port = newFlow(ct, start)
    const [a, b] = portsIn(ct, start + 1, window(start), 2)
    entry(ct, a, 0, false)
    entry(ct, b, 0, false)
    const assured = entry(ct, portsIn(ct, start + 1, window(start), 3)[2], 0, true)
    const later = entry(ct, portsIn(ct, start + 2, window(start), 1)[0], 0, false)
    expect(ct.allocate(A, B, port, 53, UDP, NS_PER_S)).toBeGreaterThanOrEqual(0)
    expect(ct.stats()).toMatchObject({ earlyDrops: 2, dropTableFull: 0 })
    expect(ct.isConfirmed(assured)).toBe(true)
    expect(ct.isConfirmed(later)).toBe(true)
  })

  it("an expired entry reaped on the way does not admit the packet (no drop counted)", () => {
    const ct = new Conntrack({ max: 1, buckets: BUCKETS })
    const start = 50
    const port = newFlow(ct, start)
    const old = entry(ct, portsIn(ct, start, window(start), 1)[0], 0, true)
    // 31 s later the entry has expired: early_drop_list reaps it but drops = 0, so the new entry
    // is refused (__nf_conntrack_alloc fails) and the next one finds room.
    expect(ct.allocate(A, B, port, 53, UDP, 31 * NS_PER_S)).toBe(-1)
    expect(ct.isConfirmed(old)).toBe(false)
    expect(ct.stats()).toMatchObject({ earlyDrops: 0, dropTableFull: 1, expired: 1, entries: 0 })
    expect(ct.allocate(A, B, port, 53, UDP, 31 * NS_PER_S)).toBeGreaterThanOrEqual(0)
  })
})

describe("early_drop against a scan of every entry's kernel bucket", () => {
  it("deletes exactly the non-ASSURED entries of the first bucket in the window that has one", () => {
    // 3,000 entries in 512 buckets (about 12 nodes per bucket), so the lookup index has grown to
    // 4,096 slots: each kernel bucket spans several slots.
    for (const seed of [1, 2, 3, 4, 5]) {
      const ct = new Conntrack({ max: 3000, buckets: 512 })
      let x = seed * 7919
      const next = (): number => (x = (Math.imul(x, 1103515245) + 12345) >>> 0)
      const ports = new Set<number>()
      while (ports.size < 3000) ports.add(1024 + (next() % 60000))
      for (const port of ports) entry(ct, port, 0, next() % 4 !== 0)
      let port = 1024
      while (ports.has(port)) port++
      const start = ct.bucketOf(A, B, port, 53, UDP)
      // Expected victims, from every live entry's two tuples.
      const bucketsOf = (id: number): number[] => [
        ct.bucketOf(ct.srcOf(2 * id), ct.dstOf(2 * id), ct.sportOf(2 * id), ct.dportOf(2 * id), UDP),
        ct.bucketOf(ct.srcOf(2 * id + 1), ct.dstOf(2 * id + 1), ct.sportOf(2 * id + 1), ct.dportOf(2 * id + 1), UDP),
      ]
      const live = ct.ids()
      let expected: number[] = []
      for (let i = 0; i < EVICTION_RANGE && expected.length === 0; i++) {
        const b = (start + i) % 512
        expected = live.filter((id) => (ct.status[id] & CtStatus.ASSURED) === 0 && bucketsOf(id).includes(b))
      }
      const before = new Set(live)
      const id = ct.allocate(A, B, port, 53, UDP, NS_PER_S)
      const gone = [...before].filter((e) => !ct.isConfirmed(e)).sort((p, q) => p - q)
      expect(gone).toEqual(expected.sort((p, q) => p - q))
      expect(id >= 0).toBe(expected.length > 0)
      expect(ct.stats().earlyDrops).toBe(expected.length)
    }
  })
})
