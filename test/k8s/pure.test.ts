/**
 * Pure pieces of k8s/: name generation and hashing (upstream alphabets), label selectors, and the
 * allocators (node-ipam, host-local, ipallocator/portallocator bands, MetalLB-style pools).
 */
import { describe, expect, it } from "vitest"
import { Rng } from "../../src/sim/rng.ts"
import { cidr, ipv4 } from "../../src/wire/ipv4.ts"
import {
  BitmapAllocator,
  LoadBalancerPool,
  NodeCidrAllocator,
  NodePortAllocator,
  RangeAllocator,
  ServiceIpAllocator,
  rangeOffset,
} from "../../src/k8s/ipam.ts"
import { matchesSelector, matchesServiceSelector } from "../../src/k8s/labels.ts"
import { computeHash, fnv32a, generateName, safeEncodeString } from "../../src/k8s/names.ts"
import { formatCidr, formatIpv4 } from "../../src/wire/ipv4.ts"
import {
  applyTopologyModeHints,
  podToEndpoint,
  topologyAllocations,
  topologyAnnotationHintsEnabled,
  trafficDistributionHints,
} from "../../src/k8s/endpoints.ts"
import type { Endpoint, Pod, Service } from "../../src/k8s/types.ts"

describe("names", () => {
  it("SafeEncodeString maps decimal digits like upstream (seed 000: cluster-test-01-6f4dddc749)", () => {
    // '0'..'9' are runes 48..57; 48 % 27 = 21 -> alphanums[21] = '4', ... 57 % 27 = 3 -> 'f'.
    expect(safeEncodeString("0123456789")).toBe("456789bcdf")
    // So the hash in the tutorial's pod names is the FNV-32a value 2908887305 encoded.
    expect(safeEncodeString("2908887305")).toBe("6f4dddc749")
  })

  it("FNV-32a matches the reference vectors", () => {
    const enc = new TextEncoder()
    expect(fnv32a(enc.encode(""))).toBe(0x811c9dc5)
    expect(fnv32a(enc.encode("a"))).toBe(0xe40c292c)
    expect(fnv32a(enc.encode("foobar"))).toBe(0xbf9cf968)
  })

  it("computeHash is stable, uses only the hash alphabet, and changes with collisionCount", () => {
    const template = {
      metadata: { labels: { app: "http-go" } },
      spec: { containers: [{ name: "http-go", image: "gasbugs/http-go" }] },
    }
    const hash = computeHash(template)
    expect(hash).toMatch(/^[456789bcdf]{1,10}$/)
    expect(computeHash(structuredClone(template))).toBe(hash)
    expect(computeHash(template, 1)).not.toBe(hash)
    // Pinned: changes here change every pod name in every golden output.
    expect(hash).toBe(
      computeHash({
        spec: { containers: [{ image: "gasbugs/http-go", name: "http-go" }] },
        metadata: { labels: { app: "http-go" } },
      }),
    )
  })

  it("generateName appends 5 chars of the safe alphabet, deterministic per stream", () => {
    const a = generateName("http-go-5c6f458dc9-", Rng.stream(1, "k8s/replicaset/default/http-go-5c6f458dc9/names"))
    const b = generateName("http-go-5c6f458dc9-", Rng.stream(1, "k8s/replicaset/default/http-go-5c6f458dc9/names"))
    const c = generateName("http-go-5c6f458dc9-", Rng.stream(2, "k8s/replicaset/default/http-go-5c6f458dc9/names"))
    expect(a).toMatch(/^http-go-5c6f458dc9-[bcdfghjklmnpqrstvwxz2456789]{5}$/)
    expect(a).toBe(b)
    expect(a).not.toBe(c)
    expect(generateName("x".repeat(80), Rng.stream(1, "n")).length).toBe(63)
  })
})

describe("labels", () => {
  it("matchLabels and matchExpressions are ANDed; nil selects nothing, {} everything", () => {
    const labels = { app: "web", tier: "front" }
    expect(matchesSelector({ matchLabels: { app: "web" } }, labels)).toBe(true)
    expect(
      matchesSelector(
        { matchLabels: { app: "web" }, matchExpressions: [{ key: "tier", operator: "In", values: ["back"] }] },
        labels,
      ),
    ).toBe(false)
    expect(matchesSelector({ matchExpressions: [{ key: "env", operator: "NotIn", values: ["prod"] }] }, labels)).toBe(
      true,
    )
    expect(matchesSelector({ matchExpressions: [{ key: "env", operator: "Exists" }] }, labels)).toBe(false)
    expect(matchesSelector({ matchExpressions: [{ key: "env", operator: "DoesNotExist" }] }, labels)).toBe(true)
    expect(matchesSelector({}, labels)).toBe(true)
    expect(matchesSelector(undefined, labels)).toBe(false)
    expect(matchesServiceSelector({}, labels)).toBe(false)
    expect(matchesServiceSelector({ app: "web" }, labels)).toBe(true)
  })
})

describe("ipam", () => {
  it("node-ipam carves /24s in node order", () => {
    const allocator = new NodeCidrAllocator(cidr("10.244.0.0/16"))
    expect(formatCidr(allocator.allocateNext()!)).toBe("10.244.0.0/24")
    expect(formatCidr(allocator.allocateNext()!)).toBe("10.244.1.0/24")
  })

  it("host-local: .1 is the gateway, pods from .2, round-robin after release", () => {
    const allocator = RangeAllocator.hostLocal(cidr("10.244.1.0/24"))
    const a = allocator.allocate()!
    const b = allocator.allocate()!
    expect([formatIpv4(a), formatIpv4(b)]).toEqual(["10.244.1.2", "10.244.1.3"])
    allocator.release(a)
    expect(formatIpv4(allocator.allocate()!)).toBe("10.244.1.4")
  })

  it("host-local wraps to the start of the range when the end is reached", () => {
    const allocator = RangeAllocator.hostLocal(cidr("10.0.0.0/29")) // .2 .. .6 usable
    const got = [1, 2, 3, 4, 5].map(() => formatIpv4(allocator.allocate()!))
    expect(got).toEqual(["10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5", "10.0.0.6"])
    expect(allocator.allocate()).toBeUndefined()
    allocator.release(ipv4("10.0.0.3"))
    expect(formatIpv4(allocator.allocate()!)).toBe("10.0.0.3")
  })

  it("range offsets follow upstream calculateRangeOffset", () => {
    expect(rangeOffset(2 ** 20, 16, 256, 16)).toBe(256) // 10.96.0.0/12
    expect(rangeOffset(256, 16, 256, 16)).toBe(16) // /24
    expect(rangeOffset(16, 16, 256, 16)).toBe(0)
    expect(new NodePortAllocator(Rng.stream(1, "p")).offset).toBe(86) // 2768 / 32
  })

  it("dynamic ClusterIPs come from the upper band; explicit ones are checked", () => {
    const allocator = new ServiceIpAllocator(cidr("10.96.0.0/24"), Rng.stream(1, "svc"))
    expect(allocator.allocate(ipv4("10.96.0.1"))).toBe("ok")
    expect(allocator.allocate(ipv4("10.96.0.1"))).toBe("allocated")
    expect(allocator.allocate(ipv4("10.97.0.1"))).toBe("out-of-range")
    expect(allocator.allocate(ipv4("10.96.0.255"))).toBe("out-of-range") // broadcast
    for (let i = 0; i < 100; i++) {
      const ip = allocator.allocateNext()!
      expect(ip - ipv4("10.96.0.1")).toBeGreaterThanOrEqual(16)
    }
  })

  it("the bitmap falls back to the static band when the dynamic band is full", () => {
    const bitmap = new BitmapAllocator(20, 16, Rng.stream(1, "b"))
    const got = new Set<number>()
    for (let i = 0; i < 20; i++) got.add(bitmap.allocateNext())
    expect([...got].slice(0, 4).every((i) => i >= 16)).toBe(true)
    expect(got.size).toBe(20)
    expect(bitmap.allocateNext()).toBe(-1)
  })

  it("NodePorts: range 30000-32767, explicit honoured, clashes detected", () => {
    const ports = new NodePortAllocator(Rng.stream(1, "np"))
    expect(ports.allocate(31111)).toBe("ok")
    expect(ports.allocate(31111)).toBe("allocated")
    expect(ports.allocate(29999)).toBe("out-of-range")
    expect(ports.allocate(32768)).toBe("out-of-range")
    const port = ports.allocateNext()!
    expect(port).toBeGreaterThanOrEqual(30086)
    expect(port).toBeLessThanOrEqual(32767)
  })

  it("load-balancer pools: ranges and CIDRs, first free first", () => {
    const pool = new LoadBalancerPool(["192.168.0.240-192.168.0.241", "10.0.0.0/31"])
    expect([1, 2, 3, 4].map(() => formatIpv4(pool.allocateNext()!))).toEqual([
      "192.168.0.240",
      "192.168.0.241",
      "10.0.0.0",
      "10.0.0.1",
    ])
    expect(pool.allocateNext()).toBeUndefined()
  })
})

describe("topology hints (trafficdist.go ReconcileHints, reconciler.go hintsEnabled)", () => {
  const service = (
    trafficDistribution: Service["spec"]["trafficDistribution"],
    annotations?: Record<string, string>,
  ): Service => ({
    apiVersion: "v1",
    kind: "Service",
    metadata:
      annotations === undefined
        ? { name: "web", namespace: "default" }
        : { name: "web", namespace: "default", annotations },
    spec: {
      selector: { app: "web" },
      ports: [{ port: 80 }],
      ...(trafficDistribution === undefined ? {} : { trafficDistribution }),
    },
  })

  it("PreferClose and PreferSameZone hint a ready endpoint for its own zone", () => {
    expect(trafficDistributionHints(service("PreferClose"), true, "zone-a", "node-1")).toEqual({
      forZones: [{ name: "zone-a" }],
    })
    expect(trafficDistributionHints(service("PreferSameZone"), true, "zone-b", "node-1")).toEqual({
      forZones: [{ name: "zone-b" }],
    })
  })

  it("PreferSameNode adds the node hint to the zone hint", () => {
    expect(trafficDistributionHints(service("PreferSameNode"), true, "zone-a", "node-1")).toEqual({
      forZones: [{ name: "zone-a" }],
      forNodes: [{ name: "node-1" }],
    })
  })

  it("no hint without the field, for a not-ready endpoint, or without a zone", () => {
    expect(trafficDistributionHints(service(undefined), true, "zone-a", "node-1")).toBeUndefined()
    expect(trafficDistributionHints(service("PreferClose"), false, "zone-a", "node-1")).toBeUndefined()
    expect(trafficDistributionHints(service("PreferClose"), true, undefined, "node-1")).toBeUndefined()
  })

  it("topology-mode Auto (or the deprecated annotation, which wins) takes precedence over trafficDistribution", () => {
    expect(topologyAnnotationHintsEnabled({ "service.kubernetes.io/topology-mode": "Auto" })).toBe(true)
    expect(topologyAnnotationHintsEnabled({ "service.kubernetes.io/topology-mode": "auto" })).toBe(true)
    expect(topologyAnnotationHintsEnabled({ "service.kubernetes.io/topology-mode": "Disabled" })).toBe(false)
    expect(
      topologyAnnotationHintsEnabled({
        "service.kubernetes.io/topology-aware-hints": "disabled",
        "service.kubernetes.io/topology-mode": "Auto",
      }),
    ).toBe(false)
    expect(
      trafficDistributionHints(
        service("PreferClose", { "service.kubernetes.io/topology-mode": "Auto" }),
        true,
        "zone-a",
        "node-1",
      ),
    ).toBeUndefined()
  })

  it("podToEndpoint writes the hint on the controller's endpoint", () => {
    const pod: Pod = {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "web-1", namespace: "default", labels: { app: "web" } },
      spec: { nodeName: "node-1", containers: [{ name: "c", image: "nginx" }] },
      status: { podIP: "10.244.0.5", conditions: [{ type: "Ready", status: "True" }] },
    }
    expect(podToEndpoint(pod, service("PreferClose"), "zone-a").hints).toEqual({ forZones: [{ name: "zone-a" }] })
    expect(podToEndpoint(pod, service(undefined), "zone-a").hints).toBeUndefined()
  })
})

describe("topology-mode Auto hints (topologycache.go AddHints, getAllocations; utils.go redistributeHints)", () => {
  const auto: Service = {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name: "web", namespace: "default", annotations: { "service.kubernetes.io/topology-mode": "Auto" } },
    spec: { selector: { app: "web" }, ports: [{ port: 80 }] },
  }
  const endpoint = (ip: string, zone: string | undefined, ready = true): Endpoint => ({
    addresses: [ip],
    conditions: { ready },
    ...(zone === undefined ? {} : { zone }),
  })
  const hints = (endpoints: readonly Endpoint[]): (string | undefined)[] =>
    endpoints.map((e) => e.hints?.forZones?.map((z) => z.name).join(","))

  it("allocates by the zones' share of nodes, with the 20 % overload margin", () => {
    // Zone a holds 1 of 3 nodes: desired 1 of 3 endpoints, minimum ceil(1 / 1.2) = 1.
    expect(topologyAllocations(["a", "b", "b"], 3)).toEqual(
      new Map([
        ["a", { minimum: 1, maximum: 1, desired: 1 }],
        ["b", { minimum: 2, maximum: 2, desired: 2 }],
      ]),
    )
    // Two equal zones and 3 endpoints: minimums ceil(1.5 / 1.2) = 2 each exceed 3: no hints.
    expect(topologyAllocations(["a", "b"], 3)).toBeNull()
    expect(topologyAllocations(["a", "b"], 1)).toBeNull()
    expect(topologyAllocations(["a", "a"], 4)).toBeNull()
    expect(topologyAllocations(["a", ""], 4)).toBeNull()
  })

  it("hints each ready endpoint for its zone when the zones hold their share", () => {
    const endpoints = [
      endpoint("10.0.0.1", "a"),
      endpoint("10.0.0.2", "b"),
      endpoint("10.0.0.3", "b"),
      endpoint("10.0.0.4", "a", false),
    ]
    applyTopologyModeHints(auto, endpoints, ["a", "b", "b"])
    expect(hints(endpoints)).toEqual(["a", "b", "b", undefined])
  })

  it("gives a crowded zone's first endpoints to the zone short of its share", () => {
    // Equal zones, 3 endpoints in a and 1 in b: desired 2 each, so one endpoint of a serves b.
    const endpoints = [
      endpoint("10.0.0.1", "a"),
      endpoint("10.0.0.2", "a"),
      endpoint("10.0.0.3", "a"),
      endpoint("10.0.0.4", "b"),
    ]
    applyTopologyModeHints(auto, endpoints, ["a", "b"])
    expect(hints(endpoints)).toEqual(["b", "a", "a", "b"])
  })

  it("removes every hint when allocation is impossible or an endpoint has no zone, and does nothing without the annotation", () => {
    const few = [endpoint("10.0.0.1", "a"), endpoint("10.0.0.2", "b"), endpoint("10.0.0.3", "b")]
    few[0].hints = { forZones: [{ name: "a" }] }
    applyTopologyModeHints(auto, few, ["a", "b"])
    expect(hints(few)).toEqual([undefined, undefined, undefined])
    const zoneless = [endpoint("10.0.0.1", "a"), endpoint("10.0.0.2", undefined), endpoint("10.0.0.3", "b")]
    applyTopologyModeHints(auto, zoneless, ["a", "b", "b"])
    expect(hints(zoneless)).toEqual([undefined, undefined, undefined])
    const plain = [endpoint("10.0.0.1", "a"), endpoint("10.0.0.2", "b"), endpoint("10.0.0.3", "b")]
    applyTopologyModeHints({ ...auto, metadata: { name: "web" } }, plain, ["a", "b", "b"])
    expect(hints(plain)).toEqual([undefined, undefined, undefined])
  })
})
