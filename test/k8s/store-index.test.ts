/**
 * ApiStore performance invariants (not timed): `list` sorts a kind's keys only after a key was
 * added or removed, `listAll` shares one array until the kind changes, and `endpointSlicesFor` (indexed by the service-name label) returns exactly
 * what filtering the sorted list returns, through creates, label changes and deletes.
 */
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { ApiStore } from "../../src/k8s/store.ts"
import type { EndpointSlice, Service } from "../../src/k8s/types.ts"
import { LABEL_SERVICE_NAME } from "../../src/k8s/types.ts"

function service(name: string): Service {
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name, namespace: "default" },
    spec: { ports: [{ port: 80 }] },
  } as Service
}

function slice(namespace: string, name: string, serviceName: string | undefined): EndpointSlice {
  const labels: Record<string, string> = serviceName === undefined ? {} : { [LABEL_SERVICE_NAME]: serviceName }
  return {
    apiVersion: "discovery.k8s.io/v1",
    kind: "EndpointSlice",
    metadata: { name, namespace, labels },
    addressType: "IPv4",
    endpoints: [],
  }
}

describe("ApiStore indexes", () => {
  it("list sorts a kind's keys once per key-set change, not per call", () => {
    const store = new ApiStore()
    for (let i = 999; i >= 0; i--) store.put("Service", service(`svc-${String(i).padStart(4, "0")}`))
    const before = store.sortCount
    for (let i = 0; i < 100; i++) expect(store.list("Service").length).toBe(1000)
    expect(store.sortCount - before).toBe(1)
    expect(
      store
        .list("Service")
        .map((s) => s.metadata.name)
        .slice(0, 2),
    ).toEqual(["svc-0000", "svc-0001"])
    store.put("Service", { ...service("svc-0005"), spec: { ports: [{ port: 81 }] } }) // update: same keys
    store.list("Service")
    expect(store.sortCount - before).toBe(1)
    store.delete("Service", "default", "svc-0005")
    expect(store.list("Service").length).toBe(999)
    expect(store.sortCount - before).toBe(2)
  })

  it("listAll shares one array between calls until the kind changes, equal to list", () => {
    const store = new ApiStore()
    for (let i = 0; i < 50; i++) store.put("Service", service(`svc-${String(i).padStart(2, "0")}`))
    const first = store.listAll("Service")
    const listedBefore = store.listedObjects.Service
    // 1,000 nodes' syncs reading an unchanged store: no copy, no scan.
    for (let i = 0; i < 1000; i++) expect(store.listAll("Service")).toBe(first)
    expect(store.listedObjects.Service).toBe(listedBefore)
    expect(first).toEqual(store.list("Service"))
    store.put("EndpointSlice", slice("default", "x", "svc-01")) // another kind: still shared
    expect(store.listAll("Service")).toBe(first)
    const updated = store.put("Service", { ...service("svc-07"), spec: { ports: [{ port: 81 }] } })
    const second = store.listAll("Service")
    expect(second).not.toBe(first)
    expect(second[7]).toBe(updated)
    expect(second).toEqual(store.list("Service"))
    store.delete("Service", "default", "svc-07")
    expect(store.listAll("Service").length).toBe(49)
  })

  it("endpointSlicesFor equals filtering the namespace's sorted list", () => {
    const op = fc.record({
      kind: fc.constantFrom("put", "put", "delete"),
      namespace: fc.constantFrom("default", "other"),
      name: fc.constantFrom("a", "b", "c", "d", "e"),
      service: fc.constantFrom("s1", "s2", undefined),
    })
    fc.assert(
      fc.property(fc.array(op, { maxLength: 40 }), (ops) => {
        const store = new ApiStore()
        for (const o of ops) {
          if (o.kind === "put") store.put("EndpointSlice", slice(o.namespace, o.name, o.service))
          else store.delete("EndpointSlice", o.namespace, o.name)
          for (const namespace of ["default", "other"]) {
            for (const name of ["s1", "s2"]) {
              const want = store
                .list("EndpointSlice", namespace)
                .filter((s) => s.metadata.labels?.[LABEL_SERVICE_NAME] === name)
              expect(store.endpointSlicesFor(namespace, name)).toEqual(want)
            }
          }
        }
      }),
      { numRuns: 300 },
    )
  })
})
