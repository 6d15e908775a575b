/**
 * The shared service-port view builds every node's variant of a Service from one pass over its
 * EndpointSlices (service-port.ts `buildEndpointVariants`): each node's list must be what
 * kube-proxy's per-node build returns (`buildServicePorts(services, slices, node)`, as
 * endpointslicecache.go builds it), JSON for JSON, over slices with several ports, duplicate
 * "IP:port" endpoints on different nodes with different conditions (the node's last local
 * duplicate wins, endpointslicecache.go addEndpoints), endpoints without a node, and sloppy
 * (leading-zero) or unparsable addresses.
 */
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import type { EndpointSlice, Service } from "../../src/k8s/types.ts"
import { SharedServicePorts } from "../../src/proxy/shared-service-ports.ts"
import { buildServicePorts } from "../../src/proxy/service-port.ts"

const NODES = ["n1", "n2", "n3", ""]
const ADDRESSES = ["10.0.0.1", "10.0.0.2", "10.0.0.02", "10.0.0.3", "bad", "10.0.0.256"]

function service(name: string): Service {
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name, namespace: "ns" },
    spec: {
      clusterIP: name === "a" ? "172.30.0.10" : "172.30.0.11",
      ports: [
        { name: "p", port: 80, protocol: "TCP" },
        { name: "q", port: 81, protocol: "UDP" },
      ],
    },
  } as Service
}

const endpoint = fc.record({
  address: fc.constantFrom(...ADDRESSES),
  node: fc.option(fc.constantFrom(...NODES), { nil: undefined }),
  ready: fc.option(fc.boolean(), { nil: undefined }),
  zone: fc.option(fc.constantFrom("z1", "z2"), { nil: undefined }),
})

interface SliceSpec {
  readonly service: string
  readonly ports: readonly string[]
  readonly endpoints: readonly {
    address: string
    node: string | undefined
    ready: boolean | undefined
    zone: string | undefined
  }[]
}

const sliceArb: fc.Arbitrary<SliceSpec> = fc.record({
  service: fc.constantFrom("a", "b"),
  ports: fc.subarray(["p", "q"]),
  endpoints: fc.array(endpoint, { maxLength: 6 }),
})

function toSlice(s: SliceSpec, index: number): EndpointSlice {
  return {
    apiVersion: "discovery.k8s.io/v1",
    kind: "EndpointSlice",
    metadata: { name: `${s.service}-${index}`, namespace: "ns", labels: { "kubernetes.io/service-name": s.service } },
    addressType: "IPv4",
    ports: s.ports.map((name) => ({ name, port: name === "p" ? 8080 : 8081, protocol: name === "p" ? "TCP" : "UDP" })),
    endpoints: s.endpoints.map((e) => ({
      addresses: [e.address],
      ...(e.node === undefined ? {} : { nodeName: e.node }),
      ...(e.ready === undefined ? {} : { conditions: { ready: e.ready } }),
      ...(e.zone === undefined ? {} : { hints: { forZones: [{ name: e.zone }] } }),
    })),
  } as EndpointSlice
}

describe("shared service-port variants", () => {
  it("give every node what its own buildServicePorts gives, through successive states", () => {
    const services = [service("a"), service("b")]
    fc.assert(
      fc.property(fc.array(fc.array(sliceArb, { maxLength: 4 }), { minLength: 1, maxLength: 3 }), (states) => {
        const shared = new SharedServicePorts()
        for (const state of states) {
          // Slices come in store (name) order, as listAll gives them.
          const slices = state.map(toSlice)
          for (const node of NODES) {
            const mine = shared.servicePorts(services, slices, node)
            const own = buildServicePorts(services, slices, { name: node, ips: ["192.168.0.2"] })
            expect(JSON.stringify(mine)).toBe(JSON.stringify(own))
          }
        }
      }),
      { numRuns: 60, seed: 10 },
    )
  })
})
