/**
 * userspace mode's proxier pieces against kubernetes v1.25 pkg/proxy/userspace: roundrobin.go
 * (LoadBalancerRR: NextEndpoint, affinity, endpoint updates; cases after roundrobin_test.go's
 * TestLoadBalanceWorksWithMultipleEndpoints, TestStickyLoadBalanceWorksWithMultipleEndpoints,
 * TestStickyLoadBalanceWorksWithEndpointFails, TestLoadBalanceWorksWithServiceRemoval),
 * port_allocator.go (rangeAllocator.nextFreePort), and proxier.go's rule text
 * (iptablesCommonPortalArgs, iptablesContainerPortalArgs, iptablesHostPortalArgs,
 * iptablesHostNodePortArgs, iptablesNonLocalNodePortArgs, iptablesInit).
 */
import { describe, expect, it } from "vitest"
import { formatIpv4 } from "../../src/wire/ipv4.ts"
import { World } from "../../src/cluster/index.ts"
import { UserspaceBackend } from "../../src/cluster/backend-userspace.ts"
import { Rng } from "../../src/sim/rng.ts"
import {
  AffinityType,
  BalancerState,
  LoadBalancerRR,
  NextEndpointError,
  ServicePortNames,
} from "../../src/proxy/userspace/roundrobin.ts"
import {
  PortalRuleSet,
  ServicePortMap,
  UserspaceServiceInfo,
  type UserspaceServicePort,
} from "../../src/proxy/userspace/proxier.ts"
import { RangePortAllocator, parseProxyPortRange } from "../../src/proxy/userspace/port-allocator.ts"
import { type CopyQueue, MessagePool, UdpProxyClient, UdpProxySocket } from "../../src/proxy/userspace/proxysocket.ts"
import { specFromText } from "../cluster/helpers.ts"
import { DropReason } from "../../src/wire/drop-reason.ts"

const S = 1_000_000_000
const SVC = "testnamespace/foo:p"

function lb(): LoadBalancerRR {
  return new LoadBalancerRR(Rng.stream(1, "test/userspace-lb"))
}

/** The order NextEndpoint hands out `n` endpoints from client `ip`. */
function take(b: LoadBalancerRR, n: number, ip = "10.0.0.1", nowNs = 0): string[] {
  const out: string[] = []
  for (let i = 0; i < n; i++) out.push(b.nextEndpoint(SVC, ip, false, nowNs) as string)
  return out
}

describe("LoadBalancerRR (roundrobin.go)", () => {
  it("no service entry / no endpoints are errors", () => {
    const b = lb()
    expect(b.nextEndpoint(SVC, "10.0.0.1", false, 0)).toBe(NextEndpointError.MISSING_SERVICE_ENTRY)
    b.newService(SVC, AffinityType.NONE, 0)
    expect(b.nextEndpoint(SVC, "10.0.0.1", false, 0)).toBe(NextEndpointError.MISSING_ENDPOINTS)
    expect(b.serviceHasEndpoints(SVC)).toBe(false)
  })

  it("round robin over the shuffled list, cycling in the same order whatever the client", () => {
    const b = lb()
    b.onEndpointsAdd("testnamespace/foo", new Map([["p", ["endpoint:1", "endpoint:2", "endpoint:3"]]]))
    const first = take(b, 3)
    expect([...first].sort()).toEqual(["endpoint:1", "endpoint:2", "endpoint:3"])
    // The cycle repeats; the client's address does not matter without affinity.
    expect(take(b, 3, "10.0.0.2")).toEqual(first)
    expect(take(b, 3, "10.0.0.3")).toEqual(first)
    expect(b.services.get(SVC)?.endpoints).toEqual(first)
  })

  it("the shuffle kept as a permutation of the shared list is util.ShuffleStrings' copy, with the same draws", () => {
    // util.ShuffleStrings: perm := rand.Perm(n) (m[i] = m[j]; m[j] = i, j = Intn(i + 1)); shuffled[perm[i]] = s[i].
    const reference = (list: readonly string[], rng: Rng): string[] => {
      const perm: number[] = []
      for (let i = 0; i < list.length; i++) {
        const j = rng.intBelow(i + 1)
        perm[i] = perm[j]
        perm[j] = i
      }
      const out: string[] = []
      for (let i = 0; i < list.length; i++) out[perm[i]] = list[i]
      return out
    }
    // Both sides of the packed form's limit (8 endpoints), and the empty list.
    for (const n of [0, 1, 2, 3, 7, 8, 9, 12, 40]) {
      const list = Array.from({ length: n }, (_, i) => `10.0.${i >> 8}.${i & 255}:80`)
      for (let round = 0; round < 20; round++) {
        const mine = Rng.stream(round, "test/shuffle")
        const theirs = Rng.stream(round, "test/shuffle")
        const state = new BalancerState(AffinityType.NONE, 10800)
        state.shuffle(list, mine)
        const expected = reference(list, theirs)
        expect(state.endpoints).toEqual(expected)
        for (let k = 0; k < n; k++) expect(state.at(k)).toBe(expected[k])
        // The stream is where the copy left it.
        expect(mine.intBelow(1_000_000)).toBe(theirs.intBelow(1_000_000))
      }
    }
  })

  it("an unchanged endpoint set keeps order and index; a changed one is reshuffled from index 0", () => {
    const b = lb()
    const ports = new Map([["p", ["a:1", "b:1", "c:1"]]])
    b.onEndpointsAdd("testnamespace/foo", ports)
    take(b, 1)
    const state = b.services.get(SVC)
    const order = [...(state?.endpoints ?? [])]
    b.onEndpointsUpdate("testnamespace/foo", ports, new Map([["p", ["c:1", "a:1", "b:1"]]]))
    expect(state?.endpoints).toEqual(order)
    expect(state?.index).toBe(1)
    b.onEndpointsUpdate("testnamespace/foo", ports, new Map([["p", ["a:1", "b:1", "d:1"]]]))
    expect([...(state?.endpoints ?? [])].sort()).toEqual(["a:1", "b:1", "d:1"])
    expect(state?.index).toBe(0)
  })

  it("a port that disappears from the Endpoints resets its service (kept, empty, index 0)", () => {
    const b = lb()
    const old = new Map([
      ["p", ["a:1"]],
      ["q", ["a:2"]],
    ])
    b.onEndpointsAdd("testnamespace/foo", old)
    b.onEndpointsUpdate("testnamespace/foo", old, new Map([["p", ["a:1"]]]))
    expect(b.services.has("testnamespace/foo:q")).toBe(true)
    expect(b.serviceHasEndpoints("testnamespace/foo:q")).toBe(false)
    b.onEndpointsDelete("testnamespace/foo", new Map([["p", ["a:1"]]]))
    expect(b.serviceHasEndpoints(SVC)).toBe(false)
  })

  it("OnEndpointsAdd with an empty list leaves an existing service's endpoints alone", () => {
    const b = lb()
    b.onEndpointsAdd("testnamespace/foo", new Map([["p", ["a:1"]]]))
    b.onEndpointsAdd("testnamespace/foo", new Map([["p", []]]))
    expect(b.services.get(SVC)?.endpoints).toEqual(["a:1"])
  })

  it("ClientIP affinity: a client keeps its endpoint; new clients continue the round robin", () => {
    const b = lb()
    b.newService(SVC, AffinityType.CLIENT_IP, 0)
    expect(b.services.get(SVC)?.ttlSeconds).toBe(10800)
    b.onEndpointsAdd("testnamespace/foo", new Map([["p", ["e:1", "e:2", "e:3"]]]))
    const order = [...(b.services.get(SVC)?.endpoints ?? [])]
    expect(take(b, 3, "10.0.0.1")).toEqual([order[0], order[0], order[0]])
    expect(take(b, 2, "10.0.0.2")).toEqual([order[1], order[1]])
    expect(take(b, 1, "10.0.0.3")).toEqual([order[2]])
    expect(take(b, 1, "10.0.0.4")).toEqual([order[0]])
  })

  it("affinity expires after ttlSeconds of idleness (whole seconds, time.Since(...).Seconds() truncated)", () => {
    const b = lb()
    b.newService(SVC, AffinityType.CLIENT_IP, 10)
    b.onEndpointsAdd("testnamespace/foo", new Map([["p", ["e:1", "e:2"]]]))
    const [first] = take(b, 1, "10.0.0.1", 0)
    // 10.999 s idle: int(10.999) = 10 is not < 10 -> expired; 9.999 s: still sticky, and refreshed.
    expect(b.nextEndpoint(SVC, "10.0.0.1", false, 9_999_999_999)).toBe(first)
    expect(b.nextEndpoint(SVC, "10.0.0.1", false, 9_999_999_999 + 10 * S - 1)).toBe(first)
    const other = b.nextEndpoint(SVC, "10.0.0.1", false, 9_999_999_999 + 20 * S)
    expect(other).not.toBe(first)
    // CleanupStaleStickySessions drops entries idle for >= ttl.
    b.cleanupStaleStickySessions(SVC, 9_999_999_999 + 29 * S)
    expect(b.services.get(SVC)?.affinityMap?.size).toBe(1)
    b.cleanupStaleStickySessions(SVC, 9_999_999_999 + 30 * S)
    expect(b.services.get(SVC)?.affinityMap?.size).toBe(0)
  })

  it("sessionAffinityReset (a failed dial) takes the next endpoint and rewrites the client's entry", () => {
    const b = lb()
    b.newService(SVC, AffinityType.CLIENT_IP, 0)
    b.onEndpointsAdd("testnamespace/foo", new Map([["p", ["e:1", "e:2", "e:3"]]]))
    const order = [...(b.services.get(SVC)?.endpoints ?? [])]
    expect(b.nextEndpoint(SVC, "10.0.0.1", false, 0)).toBe(order[0])
    expect(b.nextEndpoint(SVC, "10.0.0.1", true, 0)).toBe(order[1])
    expect(b.nextEndpoint(SVC, "10.0.0.1", false, 0)).toBe(order[1])
  })

  it("an endpoint leaving removes the affinity of its clients only", () => {
    const b = lb()
    b.newService(SVC, AffinityType.CLIENT_IP, 0)
    const before = new Map([["p", ["e:1", "e:2"]]])
    b.onEndpointsAdd("testnamespace/foo", before)
    const order = [...(b.services.get(SVC)?.endpoints ?? [])]
    take(b, 1, "10.0.0.1")
    take(b, 1, "10.0.0.2")
    const gone = order[0]
    const kept = order[1]
    b.onEndpointsUpdate("testnamespace/foo", before, new Map([["p", [kept, "e:3"]]]))
    const map = b.services.get(SVC)?.affinityMap
    expect([...(map?.keys() ?? [])]).toEqual(["10.0.0.2"])
    expect(map?.get("10.0.0.2")?.endpoint).toBe(kept)
    expect(gone).not.toBe(kept)
  })
})

describe("port allocator (port_allocator.go)", () => {
  it("parses --proxy-port-range as utilnet.PortRange", () => {
    expect(parseProxyPortRange("")).toBe(null)
    expect(parseProxyPortRange("30000-30009")).toEqual([30000, 10])
    expect(parseProxyPortRange("30000+9")).toEqual([30000, 10])
    expect(parseProxyPortRange("30000")).toEqual([30000, 1])
    expect(typeof parseProxyPortRange("30009-30000")).toBe("string")
    expect(typeof parseProxyPortRange("x")).toBe("string")
  })

  it("hands out every port of the range once, then fails; a released port comes back", () => {
    const a = new RangePortAllocator(40000, 8, Rng.stream(3, "test/ports"))
    const got = Array.from({ length: 8 }, () => a.allocateNext())
    expect([...got].sort((x, y) => x - y)).toEqual([40000, 40001, 40002, 40003, 40004, 40005, 40006, 40007])
    expect(a.allocateNext()).toBe(-1)
    a.release(40005)
    a.release(12) // outside the range: ignored
    expect(a.allocateNext()).toBe(40005)
  })

  it("a taken random pick scans upwards, then wraps (nextFreePort)", () => {
    // Fix the random pick with a stub stream: always offset 2.
    const rng = { intBelow: () => 2 } as unknown as Rng
    const a = new RangePortAllocator(50000, 4, rng)
    expect([a.allocateNext(), a.allocateNext(), a.allocateNext(), a.allocateNext()]).toEqual([
      50002, 50003, 50000, 50001,
    ])
  })
})

const SCENARIO = `apiVersion: kube-netsim/v1
kind: Scenario
metadata: { name: us }
duration: 40s
cluster:
  nodes: { count: 2 }
  systemServices: false
# The proxier's own rules and ports: no kube-dns Service taking proxy ports.
dns: { mode: static }
kubeProxy:
  mode: userspace
  userspace: { proxyPortRange: "36000-36009" }
manifests:
  - inline:
      apiVersion: apps/v1
      kind: Deployment
      metadata: { name: web }
      spec:
        replicas: 2
        selector: { matchLabels: { app: web } }
        template:
          metadata: { labels: { app: web } }
          spec: { containers: [{ name: web, image: nginx, ports: [{ containerPort: 8080 }] }] }
  - inline:
      apiVersion: v1
      kind: Service
      metadata: { name: web }
      spec:
        type: NodePort
        selector: { app: web }
        sessionAffinity: ClientIP
        externalIPs: [203.0.113.7]
        ports: [{ name: http, port: 80, targetPort: 8080, nodePort: 30080 }]
`

describe("userspace proxier rules (proxier.go)", () => {
  it("writes iptablesInit's jumps and the portal rules exactly as v1.25 builds their arguments", () => {
    const world = new World(specFromText(SCENARIO), 1)
    world.scheduler.run({ timeNsMax: 3 * S, eventCountMax: 5_000_000 })
    const node = world.nodes.get("node-1")
    const backend = node?.proxy.backend as UserspaceBackend
    const info = backend.proxier.serviceMap.get("default/web:http")
    const proxyPort = info?.proxyPort ?? 0
    expect(proxyPort).toBeGreaterThanOrEqual(36000)
    expect(proxyPort).toBeLessThanOrEqual(36009)
    const clusterIP = world.controlPlane.store.get("Service", "default", "web")?.spec.clusterIP ?? ""
    const hostIP = backend.proxier.hostIP
    const rules = node?.proxy.rules(true) ?? ""
    const expected = [
      "*nat",
      ":KUBE-PORTALS-CONTAINER - [0:0]",
      ":KUBE-PORTALS-HOST - [0:0]",
      ":KUBE-NODEPORT-CONTAINER - [0:0]",
      ":KUBE-NODEPORT-HOST - [0:0]",
      `-A KUBE-PORTALS-CONTAINER -m comment --comment default/web:http -p tcp -m tcp --dport 80 -d ${clusterIP}/32 -j REDIRECT --to-ports ${proxyPort}`,
      `-A KUBE-PORTALS-CONTAINER -m comment --comment default/web:http -p tcp -m tcp --dport 80 -d 203.0.113.7/32 -m physdev ! --physdev-is-in -j REDIRECT --to-ports ${proxyPort}`,
      `-A KUBE-PORTALS-CONTAINER -m comment --comment default/web:http -p tcp -m tcp --dport 80 -d 203.0.113.7/32 -m addrtype --dst-type LOCAL -j REDIRECT --to-ports ${proxyPort}`,
      `-A KUBE-PORTALS-HOST -m comment --comment default/web:http -p tcp -m tcp --dport 80 -d ${clusterIP}/32 -j DNAT --to-destination ${hostIP}:${proxyPort}`,
      `-A KUBE-PORTALS-HOST -m comment --comment default/web:http -p tcp -m tcp --dport 80 -d 203.0.113.7/32 -m addrtype --dst-type LOCAL -j DNAT --to-destination ${hostIP}:${proxyPort}`,
      `-A KUBE-NODEPORT-CONTAINER -m comment --comment default/web:http -p tcp -m tcp --dport 30080 -j REDIRECT --to-ports ${proxyPort}`,
      `-A KUBE-NODEPORT-HOST -m comment --comment default/web:http -p tcp -m tcp --dport 30080 -j DNAT --to-destination ${hostIP}:${proxyPort}`,
      "COMMIT",
      "*filter",
      ":KUBE-NODEPORT-NON-LOCAL - [0:0]",
      `-A KUBE-NODEPORT-NON-LOCAL -m comment --comment default/web:http -p tcp -m tcp --dport ${proxyPort} -m state --state NEW -j ACCEPT`,
      "COMMIT",
      "# userspace proxy (service port -> proxy port -> endpoints, round-robin position)",
    ]
    expect(rules.split("\n").slice(0, expected.length)).toEqual(expected)
    expect(rules).toMatch(
      new RegExp(
        `default/web:http ${clusterIP.replace(/\./g, "\\.")}:80/TCP nodePort=30080 -> :${proxyPort} -> 10\\.244\\.\\d+\\.\\d+:8080,10\\.244\\.\\d+\\.\\d+:8080 next=0 affinity=ClientIP/10800s clients=0`,
      ),
    )
    const full = node?.proxy.rules(false) ?? ""
    expect(full).toContain(
      '-A PREROUTING -m comment --comment "handle ClusterIPs; NOTE: this must be before the NodePort rules" -j KUBE-PORTALS-CONTAINER',
    )
    expect(full).toContain(
      '-A OUTPUT -m addrtype --dst-type LOCAL -m comment --comment "handle service NodePorts; NOTE: this must be the last rule in the chain" -j KUBE-NODEPORT-HOST',
    )
    expect(full).toContain(
      '-A INPUT -m comment --comment "Ensure that non-local NodePort traffic can flow" -j KUBE-NODEPORT-NON-LOCAL',
    )
  })

  it("a Service whose port changes is reopened on a new proxy port; a deleted one releases its port", () => {
    const timeline = `timeline:
  - at: 2s
    apply:
      inline:
        apiVersion: v1
        kind: Service
        metadata: { name: web }
        spec:
          selector: { app: web }
          sessionAffinity: ClientIP
          externalIPs: [203.0.113.7]
          ports: [{ name: http, port: 81, targetPort: 8080 }]
  - { at: 4s, delete: service/web }
  - { at: 9s, scale: deployment/web, replicas: 2 }
`
    const world = new World(specFromText(SCENARIO + timeline), 1)
    world.scheduler.run({ timeNsMax: 1_900_000_000, eventCountMax: 5_000_000 })
    const backend = world.nodes.get("node-1")?.proxy.backend as UserspaceBackend
    const before = backend.proxier.serviceMap.get("default/web:http")?.proxyPort
    world.scheduler.run({ timeNsMax: 3_900_000_000, eventCountMax: 5_000_000 })
    const after = backend.proxier.serviceMap.get("default/web:http")
    expect(after?.port).toBe(81)
    expect(after?.proxyPort).not.toBe(before)
    expect(world.nodes.get("node-1")?.filter.save()).toContain(`--dport 81 -d ${after?.clusterIP}/32 -j REDIRECT`)
    world.scheduler.run({ timeNsMax: 6 * S, eventCountMax: 5_000_000 })
    expect(backend.proxier.serviceMap.size).toBe(0)
    expect(world.nodes.get("node-1")?.filter.save()).not.toContain("default/web")
  })
})

function udpScenario(connection: "new" | "keepAlive", extra = ""): string {
  return `apiVersion: kube-netsim/v1
kind: Scenario
metadata: { name: us-udp }
seed: 3
duration: 5s
cluster: { nodes: { count: 1 }, systemServices: false }
kubeProxy: { mode: userspace${extra} }
manifests:
  - inline:
      - apiVersion: apps/v1
        kind: Deployment
        metadata: { name: echo }
        spec:
          replicas: 3
          selector: { matchLabels: { app: echo } }
          template:
            metadata: { labels: { app: echo } }
            spec: { containers: [ { name: echo, image: kube-netsim/udp-echo, ports: [ { containerPort: 7000, protocol: UDP } ] } ] }
      - apiVersion: v1
        kind: Service
        metadata: { name: echo }
        spec: { selector: { app: echo }, ports: [ { port: 5000, targetPort: 7000, protocol: UDP } ] }
      - apiVersion: v1
        kind: Pod
        metadata: { name: client }
        spec: { containers: [ { name: c, image: busybox } ] }
workloads:
  - name: echo
    from: pod/client
    to: udp://echo:5000
    arrival: { every: 100ms }
    start: 2s
    count: 9
    connection: ${connection}
`
}

describe("userspace UDP proxying (udpProxySocket)", () => {
  it("one proxy connection per client address: a kept socket sticks to one endpoint, new sockets rotate", () => {
    for (const [connection, endpoints] of [
      ["keepAlive", 1],
      ["new", 3],
    ] as const) {
      const world = new World(specFromText(udpScenario(connection)), 3)
      world.scheduler.run({ timeNsMax: 3_500_000_000, eventCountMax: 5_000_000 })
      const results = world.collector.results(0, world.expectedEndpoints(world.workloads[0]))
      expect(results.requests.completed).toBe(9)
      const used = Object.values(results.distribution.byEndpoint).filter((n) => n > 0)
      expect(used.length).toBe(endpoints)
      if (connection === "new") expect(used).toEqual([3, 3, 3])
    }
  })

  it("a proxy port holds its port from the sync on; its socket is made by the first datagram; closing frees the port", () => {
    const world = new World(specFromText(udpScenario("keepAlive")), 3)
    const backend = [...world.nodes.values()][0].proxy.backend as UserspaceBackend
    const ns = backend.proxier.ns
    // After the first sync, before the workload's first datagram (it starts at 2 s).
    world.scheduler.run({ timeNsMax: 1_900_000_000, eventCountMax: 5_000_000 })
    const info = backend.proxier.serviceMap.get("default/echo")
    if (info === undefined || info.proxy === null) throw new Error("no proxy port")
    // Bound like the socket it stands for: the namespace's UDP table has the port.
    expect(ns.udpSockets.has(info.proxyPort)).toBe(true)
    expect(info.proxy.socket).toBe(null)
    expect(backend.proxier.runtime.socketsMade).toBe(0)
    world.scheduler.run({ timeNsMax: 2_500_000_000, eventCountMax: 5_000_000 })
    const socket = info.proxy.socket
    if (!(socket instanceof UdpProxySocket)) throw new Error("no UDP proxy socket made")
    // The client's name lookup made kube-dns:dns's socket too; ports nobody sent to have none.
    expect(backend.proxier.runtime.socketsMade).toBe(2)
    expect(backend.proxier.serviceMap.get("kube-system/kube-dns:dns")?.proxy?.socket).toBeInstanceOf(UdpProxySocket)
    expect(backend.proxier.serviceMap.get("kube-system/kube-dns:dns-tcp")?.proxy?.socket).toBe(null)
    expect(socket.port).toBe(info.proxyPort)
    expect(socket.stats.accepted).toBe(1)
    info.proxy.closePort(backend.proxier.runtime)
    expect(ns.udpSockets.has(info.proxyPort)).toBe(false)
  })

  it("closing a proxy port nobody sent to frees its port and makes no socket", () => {
    const world = new World(specFromText(udpScenario("keepAlive")), 3)
    const backend = [...world.nodes.values()][0].proxy.backend as UserspaceBackend
    world.scheduler.run({ timeNsMax: 1_900_000_000, eventCountMax: 5_000_000 })
    const info = backend.proxier.serviceMap.get("default/echo")
    if (info === undefined || info.proxy === null) throw new Error("no proxy port")
    info.proxy.closePort(backend.proxier.runtime)
    expect(backend.proxier.ns.udpSockets.has(info.proxyPort)).toBe(false)
    expect(info.proxy.socket).toBe(null)
    expect(backend.proxier.runtime.socketsMade).toBe(0)
  })

  it("a client's proxy connection is dropped after udpIdleTimeout without traffic", () => {
    const world = new World(specFromText(udpScenario("keepAlive", ", userspace: { udpIdleTimeout: 150ms }")), 3)
    const backend = [...world.nodes.values()][0].proxy.backend as UserspaceBackend
    // Echoes every 100 ms keep it alive (2.0 s .. 2.8 s); 150 ms after the last one it is gone.
    world.scheduler.run({ timeNsMax: 2_850_000_000, eventCountMax: 5_000_000 })
    const socket = backend.proxier.serviceMap.get("default/echo")?.proxy?.socket
    expect(socket !== null && socket !== undefined && "clients" in socket ? socket.clients.size : -1).toBe(1)
    world.scheduler.run({ timeNsMax: 3_200_000_000, eventCountMax: 5_000_000 })
    expect(socket !== null && socket !== undefined && "clients" in socket ? socket.clients.size : -1).toBe(0)
  })

  it("an ended client's object serves a later client (new flows): every reply reaches its own client", () => {
    const world = new World(specFromText(udpScenario("new", ", userspace: { udpIdleTimeout: 150ms }")), 3)
    const backend = [...world.nodes.values()][0].proxy.backend as UserspaceBackend
    world.scheduler.run({ timeNsMax: 3_500_000_000, eventCountMax: 5_000_000 })
    const results = world.collector.results(0, world.expectedEndpoints(world.workloads[0]))
    expect(results.requests.completed).toBe(9)
    expect(Object.values(results.distribution.byEndpoint).filter((n) => n > 0)).toEqual([3, 3, 3])
    // The run stops when the workload is done; the last clients' idle timers are still due.
    world.scheduler.run({ timeNsMax: 3_500_000_000, eventCountMax: 5_000_000 })
    const socket = backend.proxier.serviceMap.get("default/echo")?.proxy?.socket
    if (socket === null || socket === undefined || !("freeClients" in socket)) throw new Error("no UDP proxy socket")
    // 9 clients 100 ms apart, each ending 150 ms after its last datagram: at most 2 at once, so
    // the 9 were served by 2 objects, all back in the free list.
    expect(socket.clients.size).toBe(0)
    expect(socket.freeClients.length).toBe(2)
  })

  it("a reply later than udpIdleTimeout after the request is lost: the proxy's connection to the endpoint has ended", () => {
    // proxysocket.go: ProxyLoop writes the datagram, then svrConn.SetDeadline(now + --udp-timeout);
    // proxyClient's svrConn.Read fails at that deadline, closes svrConn and deletes the client. An
    // echo served in 300 ms comes back to a closed port under the default 250 ms (dropped
    // `no-socket`, ICMP port unreachable to the endpoint) and its client times out; with a 400 ms
    // timeout, or in iptables mode (no proxy), every echo arrives.
    const run = (mode: string, extra: string): { completed: number; timeouts: number; noSocket: number } => {
      const text = udpScenario("new", extra)
        .replace("mode: userspace", `mode: ${mode}`)
        .replace("duration: 5s", "duration: 5s\nserver: { serviceTime: 300ms }")
        .replace("count: 9", "count: 9\n    timeout: 1s")
      const world = new World(specFromText(text), 3)
      world.scheduler.run({ timeNsMax: 5 * S, eventCountMax: 5_000_000 })
      const results = world.collector.results(0, world.expectedEndpoints(world.workloads[0]))
      return {
        completed: results.requests.completed,
        timeouts: results.requests.failedByReason.timeout ?? 0,
        noSocket: world.network.counters.droppedByReason[DropReason.NO_SOCKET],
      }
    }
    expect(run("userspace", "")).toEqual({ completed: 0, timeouts: 9, noSocket: 9 })
    expect(run("userspace", ", userspace: { udpIdleTimeout: 400ms }")).toEqual({
      completed: 9,
      timeouts: 0,
      noSocket: 0,
    })
    expect(run("iptables", "")).toEqual({ completed: 9, timeouts: 0, noSocket: 0 })
  })

  it("behind a saturated endpoint, exactly the echoes that wait longer than udpIdleTimeout are lost", () => {
    // The cluster-scale medium point's failures in small: one echo pod serving 1 ms per datagram on
    // one CPU gets 2,000 new flows per second for 0.4 s, so its queue, and each echo's wait, grows
    // to about 400 ms. Through the proxy an echo later than --udp-timeout (250 ms) after the request
    // finds its proxy connection closed (dropped `no-socket`) and the client times out; no echo
    // completes later than that. With a 1 s --udp-timeout, or in iptables mode, all complete.
    const run = (
      mode: string,
      extra: string,
    ): { sent: number; completed: number; timeouts: number; noSocket: number; maxLatencyNs: number } => {
      const text = udpScenario("new", extra)
        .replace("mode: userspace", `mode: ${mode}`)
        .replace("replicas: 3", "replicas: 1")
        .replace("duration: 5s", "duration: 5s\nserver: { serviceTime: 1ms, cpus: 1 }")
        .replace("every: 100ms", "every: 500us")
        .replace("count: 9", "count: 800\n    timeout: 1s")
      const world = new World(specFromText(text), 3)
      world.scheduler.run({ timeNsMax: 5 * S, eventCountMax: 50_000_000 })
      const results = world.collector.results(0, world.expectedEndpoints(world.workloads[0]))
      return {
        sent: results.requests.sent,
        completed: results.requests.completed,
        timeouts: results.requests.failedByReason.timeout ?? 0,
        noSocket: world.network.counters.droppedByReason[DropReason.NO_SOCKET],
        maxLatencyNs: results.latencyNs.max,
      }
    }
    const lossy = run("userspace", "")
    expect(lossy.sent).toBe(800)
    expect(lossy.completed).toBeGreaterThan(100)
    expect(lossy.timeouts).toBeGreaterThan(100)
    expect(lossy.completed + lossy.timeouts).toBe(800)
    expect(lossy.noSocket).toBe(lossy.timeouts)
    expect(lossy.maxLatencyNs).toBeLessThan(250_000_000)
    const patient = run("userspace", ", userspace: { udpIdleTimeout: 1s }")
    expect(patient.completed).toBe(800)
    expect(patient.maxLatencyNs).toBeGreaterThan(250_000_000)
    const direct = run("iptables", "")
    expect(direct.completed).toBe(800)
    expect(direct.maxLatencyNs).toBeGreaterThan(250_000_000)
  })

  it("one idle timer per socket ends every client exactly udpIdleTimeout after its last read or write", () => {
    // Clients 40 ms apart, replies within the same millisecond, 150 ms timeout: up to 4 live at
    // once in the socket's deadline order, each ended by the socket's timer at its own deadline.
    const text = udpScenario("new", ", userspace: { udpIdleTimeout: 150ms }").replace("every: 100ms", "every: 40ms")
    const world = new World(specFromText(text), 3)
    const idleNs: number[] = []
    let maxLive = 0
    const sockets = new Set<UdpProxySocket>()
    const original = UdpProxyClient.prototype.end
    UdpProxyClient.prototype.end = function (this: UdpProxyClient) {
      const socket = this.socket
      if (socket.clients.get(this.clientAddr, this.clientPort) === this) {
        sockets.add(socket)
        idleNs.push(world.scheduler.nowNs - this.lastActivityNs)
        let live = 0
        for (let c = socket.idleHead; c !== null; c = c.idleNext) {
          // The deadline order: oldest activity first.
          if (c.idleNext !== null) expect(c.lastActivityNs).toBeLessThanOrEqual(c.idleNext.lastActivityNs)
          live++
        }
        maxLive = Math.max(maxLive, live)
      }
      original.call(this)
    }
    try {
      // The run stops when the workload is done; then the last clients' deadlines.
      world.scheduler.run({ timeNsMax: 4_000_000_000, eventCountMax: 5_000_000 })
      world.scheduler.run({ timeNsMax: 4_000_000_000, eventCountMax: 5_000_000 })
    } finally {
      UdpProxyClient.prototype.end = original
    }
    // The 9 echo clients and their 9 DNS lookups (kube-dns goes through a proxy too).
    expect(idleNs).toEqual(new Array(18).fill(150_000_000))
    expect(maxLive).toBe(4)
    expect([...sockets].map((socket) => socket.idleHead)).toEqual([null, null])
  })
})

describe("userspace copy loops (MessagePool)", () => {
  it("keeps each loop FIFO across interleaved loops, grows, and reuses freed slots", () => {
    const pool = new MessagePool(4)
    const a: CopyQueue = { head: -1, tail: -1, length: 0, busyUntilNs: 0 }
    const b: CopyQueue = { head: -1, tail: -1, length: 0, busyUntilNs: 0 }
    for (let i = 0; i < 10; i++) pool.push(i % 2 === 0 ? a : b, i, 100 + i, null, 2 ** 40 + i, null)
    const drain = (q: CopyQueue): number[] => {
      const out: number[] = []
      while (q.length > 0) {
        const m = pool.shift(q)
        out.push(pool.bytes[m], pool.tags[m] - 100, pool.flows[m] - 2 ** 40)
      }
      return out
    }
    expect(drain(a)).toEqual([0, 0, 0, 2, 2, 2, 4, 4, 4, 6, 6, 6, 8, 8, 8])
    pool.push(b, 99, 0, null, 0, null)
    expect(drain(b)).toEqual([1, 1, 1, 3, 3, 3, 5, 5, 5, 7, 7, 7, 9, 9, 9, 99, -100, -(2 ** 40)])
    expect(pool.bytes.length).toBe(16)
    // Cleared and drained slots are reused before the pool grows again.
    for (let i = 0; i < 16; i++) pool.push(a, i, 0, {}, 0, null)
    pool.clear(a)
    expect(a).toEqual({ head: -1, tail: -1, length: 0, busyUntilNs: 0 })
    for (let i = 0; i < 16; i++) pool.push(b, i, 0, null, 0, null)
    expect(pool.bytes.length).toBe(16)
    expect(pool.data.every((d) => d === null)).toBe(true)
  })
})

describe("kubeProxy.userspace settings", () => {
  it("a bad proxyPortRange or a zero udpIdleTimeout is refused with the field path", () => {
    expect(() => specFromText(udpScenario("new", ', userspace: { proxyPortRange: "9-1" }'))).toThrow(
      /kubeProxy\.userspace\.proxyPortRange: "9-1" is not a valid port range/,
    )
    expect(() => specFromText(udpScenario("new", ", userspace: { udpIdleTimeout: 0s }"))).toThrow(
      /kubeProxy\.userspace\.udpIdleTimeout: must be greater than 0/,
    )
    const spec = specFromText(udpScenario("new"))
    expect(spec.kubeProxy.userspace).toEqual({
      proxyPortRange: null,
      udpIdleTimeoutNs: 250_000_000,
      connectCostNs: 20_000,
      copyCostPerMessageNs: 5_000,
      copyCostPerKiBNs: 250,
    })
  })
})

describe("userspace TCP dials (tryConnect)", () => {
  const scenario = (secondHostPorts: string): string => `apiVersion: kube-netsim/v1
kind: Scenario
metadata: { name: us-dial }
seed: 1
duration: 20s
cluster: { nodes: { count: 1 }, systemServices: false }
kubeProxy: { mode: userspace }
externalHosts:
  - { name: up, ip: 198.51.100.21, httpPorts: [80] }
  - { name: down, ip: 198.51.100.22, httpPorts: ${secondHostPorts} }
manifests:
  - inline:
      - apiVersion: v1
        kind: Service
        metadata: { name: ext }
        spec: { ports: [ { protocol: TCP, port: 80, targetPort: 80 } ] }
      - apiVersion: v1
        kind: Endpoints
        metadata: { name: ext }
        subsets: [ { addresses: [ { ip: 198.51.100.21 }, { ip: 198.51.100.22 } ], ports: [ { port: 80 } ] } ]
      - apiVersion: v1
        kind: Pod
        metadata: { name: client }
        spec: { containers: [ { name: c, image: busybox } ] }
workloads:
  - { name: curl, from: pod/client, to: "http://ext/", arrival: { every: 100ms }, start: 2s, count: 20 }
`

  it("a refused dial moves on to the next endpoint: every request still completes, on the live host", () => {
    const world = new World(specFromText(scenario("[]")), 1)
    world.scheduler.run({ timeNsMax: 10 * S, eventCountMax: 5_000_000 })
    const results = world.collector.results(0, world.expectedEndpoints(world.workloads[0]))
    expect(results.requests.completed).toBe(20)
    expect(results.distribution.byEndpoint).toEqual({ down: 0, up: 20 })
    const backend = [...world.nodes.values()][0].proxy.backend as UserspaceBackend
    const socket = backend.proxier.serviceMap.get("default/ext")?.proxy?.socket
    // The retry after a refused dial advances the round-robin index too, so with two endpoints the
    // index is back on the dead one for the next connection: every connection but possibly the
    // first dials the dead host first (refused by RST), then the live one.
    expect(socket?.stats.dialFailures).toBeGreaterThanOrEqual(19)
    expect(socket?.stats.accepted).toBe(20)
  })

  it("with both endpoints live, round robin alternates exactly", () => {
    const world = new World(specFromText(scenario("[80]")), 1)
    world.scheduler.run({ timeNsMax: 10 * S, eventCountMax: 5_000_000 })
    const results = world.collector.results(0, world.expectedEndpoints(world.workloads[0]))
    expect(results.distribution.byEndpoint).toEqual({ down: 10, up: 10 })
  })
})

describe("userspace syncs", () => {
  it("a claim conflict cuts a port's portals where openPortal stopped; the rebuilt rule texts match", () => {
    // openOnePortal claims a local portal address (claimNodePort) before its rules; a second
    // Service on the same node IP and port conflicts and openPortal returns there. Off that node
    // the address is not local: no claim, every portal. The texts are rebuilt from the counts.
    const probe = new World(specFromText(SCENARIO), 1)
    const nodeIP = formatIpv4(probe.nodes.get("node-1")?.net.ip ?? 0)
    const svc = (name: string): string => `  - inline:
      apiVersion: v1
      kind: Service
      metadata: { name: ${name} }
      spec:
        selector: { app: web }
        externalIPs: [${nodeIP}]
        ports: [{ name: http, port: 9090, targetPort: 8080 }]
`
    const world = new World(specFromText(SCENARIO + svc("a") + svc("b")), 1)
    world.scheduler.run({ timeNsMax: 3 * S, eventCountMax: 5_000_000 })
    const count = (node: string, name: string): number =>
      (world.nodes.get(node)?.filter.save() ?? "")
        .split("\n")
        .filter((l) => l.includes(`"default/${name}:http"`) || l.includes(` default/${name}:http `)).length
    const local = world.nodes.get("node-1")?.proxy.backend as UserspaceBackend
    const remote = world.nodes.get("node-2")?.proxy.backend as UserspaceBackend
    expect(local.proxier.serviceMap.get("default/a:http")?.ruleCount).toBe(5)
    expect(local.proxier.serviceMap.get("default/b:http")?.ruleCount).toBe(2)
    expect(remote.proxier.serviceMap.get("default/b:http")?.ruleCount).toBe(5)
    expect(count("node-1", "a")).toBe(5)
    expect(count("node-1", "b")).toBe(2)
    expect(count("node-2", "b")).toBe(5)
  })

  it("Endpoints changes reach the load balancer without a sync; Service changes sync (v1.25 proxier.go)", () => {
    // The Proxier embeds config.NoopEndpointSliceHandler and OnEndpointsAdd/Update/Delete only call
    // loadBalancer.OnEndpoints*; serviceChange is the only caller of syncRunner.Run().
    const timeline = `timeline:
  - { at: 4s, scale: deployment/web, replicas: 3 }
  - at: 7s
    apply:
      inline:
        apiVersion: v1
        kind: Service
        metadata: { name: web2 }
        spec: { selector: { app: web }, ports: [{ name: http, port: 80, targetPort: 8080 }] }
  - { at: 10s, scale: deployment/web, replicas: 3 }
`
    const world = new World(specFromText(SCENARIO + timeline), 1)
    const proxy = world.nodes.get("node-1")?.proxy
    const backend = proxy?.backend as UserspaceBackend
    world.scheduler.run({ timeNsMax: 3 * S, eventCountMax: 5_000_000 })
    const syncsBefore = proxy?.syncs.length
    world.scheduler.run({ timeNsMax: 6900 * 1_000_000, eventCountMax: 5_000_000 })
    expect(proxy?.syncs.length).toBe(syncsBefore)
    expect(backend.proxier.lb.services.get("default/web:http")?.endpoints.length).toBe(3)
    world.scheduler.run({ timeNsMax: 9 * S, eventCountMax: 5_000_000 })
    expect(proxy?.syncs.length).toBe((syncsBefore ?? 0) + 1)
    expect(backend.proxier.serviceMap.has("default/web2:http")).toBe(true)
  })

  it("a failed sync applies nothing and releases its proxy ports; the retry opens the port", () => {
    const timeline = `timeline:
  - { at: 2s, failRestore: { node: node-1 } }
  - at: 2s
    apply:
      inline:
        apiVersion: v1
        kind: Service
        metadata: { name: web2 }
        spec: { selector: { app: web }, ports: [{ name: http, port: 80, targetPort: 8080 }] }
  # Keeps the run going past the retry: an Endpoints change syncs nothing in this mode (v1.25
  # proxier.go: OnEndpoints* feed the load balancer only), the timer retries (RetryAfter(syncPeriod)).
  - { at: 34s, scale: deployment/web, replicas: 2 }
`
    const world = new World(
      specFromText(SCENARIO.replace('proxyPortRange: "36000-36009"', 'proxyPortRange: "36000-36001"') + timeline),
      1,
    )
    const proxy = world.nodes.get("node-1")?.proxy
    const backend = proxy?.backend as UserspaceBackend
    world.scheduler.run({ timeNsMax: 2_900_000_000, eventCountMax: 5_000_000 })
    expect(proxy?.failedSyncs.length).toBe(1)
    expect(backend.proxier.serviceMap.has("default/web2:http")).toBe(false)
    expect(world.nodes.get("node-1")?.filter.save()).not.toContain("default/web2")
    // The retry (within syncPeriod) gets the range's other port, released by the failed plan.
    world.scheduler.run({ timeNsMax: 35 * S, eventCountMax: 5_000_000 })
    expect(proxy?.syncs.length).toBe(2)
    const ports = [...backend.proxier.serviceMap.values()].map((i) => i.proxyPort).sort()
    expect(ports).toEqual([36000, 36001])
  })
})

describe("userspace dial timeouts (endpointDialTimeout)", () => {
  it("an endpoint that never answers (an unused pod address: no neighbour, silence) costs the 250 ms first dial timeout, then the next endpoint serves", () => {
    const text = `apiVersion: kube-netsim/v1
kind: Scenario
metadata: { name: us-timeout }
seed: 1
duration: 20s
cluster: { nodes: { count: 1 }, systemServices: false }
kubeProxy: { mode: userspace }
externalHosts:
  - { name: up, ip: 198.51.100.21, httpPorts: [80] }
manifests:
  - inline:
      - apiVersion: v1
        kind: Service
        metadata: { name: ext }
        spec: { ports: [ { protocol: TCP, port: 80, targetPort: 80 } ] }
      - apiVersion: v1
        kind: Endpoints
        metadata: { name: ext }
        subsets: [ { addresses: [ { ip: 198.51.100.21 }, { ip: 10.244.0.250 } ], ports: [ { port: 80 } ] } ]
      - apiVersion: v1
        kind: Pod
        metadata: { name: client }
        spec: { containers: [ { name: c, image: busybox } ] }
workloads:
  - { name: curl, from: pod/client, to: "http://ext/", arrival: { every: 1s }, start: 2s, count: 4 }
`
    const world = new World(specFromText(text), 1)
    world.scheduler.run({ timeNsMax: 10 * S, eventCountMax: 5_000_000 })
    const results = world.collector.results(0, world.expectedEndpoints(world.workloads[0]))
    expect(results.requests.completed).toBe(4)
    const socket = (world.nodes.get("node-1")?.proxy.backend as UserspaceBackend).proxier.serviceMap.get("default/ext")
      ?.proxy?.socket
    const failures = socket?.stats.dialFailures ?? 0
    expect(failures).toBeGreaterThanOrEqual(1)
    // A connection whose first dial went to the silent host waited the full 250 ms timeout.
    expect(results.latencyNs.max).toBeGreaterThanOrEqual(250_000_000)
    expect(results.latencyNs.max).toBeLessThan(300_000_000)
  })
})

describe("the proxier's service map (ServicePortMap)", () => {
  it("holds the infos in the order a Map would (insertion order; a re-added name goes last)", () => {
    const names = new ServicePortNames()
    const spec = (name: string): UserspaceServicePort => ({
      name,
      protocol: "udp",
      clusterIP: "10.96.0.1",
      port: 53,
      nodePort: 0,
      externalIPs: [],
      loadBalancerIPs: [],
      affinityType: AffinityType.NONE,
      stickyMaxAgeSeconds: 0,
      proxyable: true,
      clusterAddr: undefined,
      externalAddrs: [],
      loadBalancerAddrs: [],
    })
    let port = 30000
    const info = (name: string) =>
      new UserspaceServiceInfo(port++, 2, 0, new PortalRuleSet(names.index(name), spec(name)))
    const map = new ServicePortMap(names)
    const reference = new Map<string, UserspaceServiceInfo>()
    const rng = Rng.stream(7, "test/service-map")
    const pool = Array.from({ length: 12 }, (_, i) => `ns/s${i}`)
    let copy: ServicePortMap = map
    for (let step = 0; step < 400; step++) {
      const name = pool[rng.intBelow(pool.length)]
      if (rng.intBelow(3) === 0) {
        expect(copy.delete(name)).toBe(reference.delete(name))
      } else if (!reference.has(name)) {
        const made = info(name)
        copy.set(name, made)
        reference.set(name, made)
      }
      // A plan's copy continues from the map it copies, as new Map(serviceMap) did.
      if (step % 50 === 49) copy = new ServicePortMap(names, copy)
      expect(copy.size).toBe(reference.size)
      expect([...copy.values()]).toEqual([...reference.values()])
      for (const n of pool) expect(copy.get(n)).toBe(reference.get(n))
    }
  })
})
