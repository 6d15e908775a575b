/**
 * The runtime's name resolver (until DNS runs as packets): a headless Service answers an A record
 * per ready endpoint, as CoreDNS's kubernetes plugin does; the client uses the first answer.
 */
import { describe, expect, it } from "vitest"
import { World } from "../../src/cluster/index.ts"
import { resolveHost } from "../../src/dns/resolve.ts"
import { NS_PER_S } from "../../src/sim/time.ts"
import { formatIpv4 } from "../../src/wire/ipv4.ts"
import { specFromText } from "../cluster/helpers.ts"

const SCENARIO = `
apiVersion: kube-netsim/v1
kind: Scenario
metadata: { name: headless }
duration: 10s
cluster: { nodes: { count: 2 } }
manifests:
  - inline:
      - apiVersion: apps/v1
        kind: Deployment
        metadata: { name: db }
        spec:
          replicas: 3
          selector: { matchLabels: { app: db } }
          template:
            metadata: { labels: { app: db } }
            spec: { containers: [ { name: db, image: example/db, ports: [ { containerPort: 5432 } ] } ] }
      - apiVersion: v1
        kind: Service
        metadata: { name: db }
        spec: { clusterIP: None, selector: { app: db }, ports: [ { port: 5432 } ] }
      - apiVersion: v1
        kind: Service
        metadata: { name: web }
        spec: { selector: { app: db }, ports: [ { port: 80, targetPort: 5432 } ] }
`

describe("resolveHost", () => {
  const world = new World(specFromText(SCENARIO), 1)
  world.scheduler.run({ timeNsMax: 5 * NS_PER_S, eventCountMax: 10_000_000 })
  const store = world.controlPlane.store
  const tables = {
    store,
    clusterDomain: "cluster.local",
    nodeAddresses: new Map<string, number>(),
    externalAddresses: new Map<string, number>(),
  }

  it("answers every ready endpoint of a headless Service, in EndpointSlice order; the client takes the first", () => {
    const ready: string[] = []
    for (const slice of store.endpointSlicesFor("default", "db")) {
      for (const e of slice.endpoints) if (e.conditions?.ready !== false) ready.push(e.addresses[0])
    }
    expect(ready.length).toBe(3)
    for (const name of ["db", "db.default", "db.default.svc", "db.default.svc.cluster.local"]) {
      const r = resolveHost(tables, name, 5432, "default")
      expect(r?.addresses.map(formatIpv4)).toEqual(ready)
      expect(formatIpv4(r?.address ?? 0)).toBe(ready[0])
      expect(r?.service).toBeNull()
    }
  })

  it("answers a ClusterIP Service with its one ClusterIP", () => {
    const r = resolveHost(tables, "web", 80, "default")
    const clusterIP = store.get("Service", "default", "web")?.spec.clusterIP
    expect(r?.addresses.map(formatIpv4)).toEqual([clusterIP])
    expect(r?.service).toEqual({ namespace: "default", name: "web" })
  })
})
