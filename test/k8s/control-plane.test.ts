/**
 * The control plane in simulated time: system Services, ClusterIP/NodePort admission errors,
 * Deployment -> ReplicaSet -> Pods naming, scheduling, readiness, EndpointSlices on scale and on
 * deletion (terminating endpoints), selectorless mirroring, kubectl renderers, and a fast-check
 * property over random scale sequences.
 */
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { Scheduler } from "../../src/sim/scheduler.ts"
import { NS_PER_S } from "../../src/sim/time.ts"
import { ControlPlane, type ControlPlaneConfig } from "../../src/k8s/control-plane.ts"
import { isPodReady } from "../../src/k8s/endpoints.ts"
import { describeService, getEndpoints, getPodsWide, getServices } from "../../src/k8s/kubectl.ts"
import {
  LABEL_MANAGED_BY,
  LABEL_SERVICE_NAME,
  type Deployment,
  type Endpoints,
  type KubeObject,
  type Pod,
  type Service,
} from "../../src/k8s/types.ts"

const BASE: ControlPlaneConfig = {
  seed: 1,
  nodes: [
    { name: "node-1", zone: "a", labels: {} },
    { name: "node-2", zone: "b", labels: { disk: "ssd" } },
  ],
  cni: "bridge",
  podCIDR: "10.244.0.0/16",
  serviceCIDR: "10.96.0.0/12",
  nodeCIDR: "172.18.0.0/16",
  loadBalancerPool: [],
}

function make(config: Partial<ControlPlaneConfig> = {}): { scheduler: Scheduler; cp: ControlPlane } {
  const scheduler = new Scheduler()
  const cp = new ControlPlane(scheduler, { ...BASE, ...config })
  return { scheduler, cp }
}

function runUntil(scheduler: Scheduler, timeNs: number): void {
  scheduler.run({ timeNsMax: timeNs, eventCountMax: 1_000_000 })
  // Between runs the test acts "at" timeNs, as a timeline event due then would.
  if (scheduler.nowNs < timeNs) scheduler.nowNs = timeNs
}

function deployment(
  name: string,
  replicas: number,
  extra: Partial<Deployment["spec"]["template"]["spec"]> = {},
): Deployment {
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name, labels: { app: name } },
    spec: {
      replicas,
      selector: { matchLabels: { run: name } },
      template: {
        metadata: { labels: { run: name } },
        spec: { containers: [{ name, image: `gasbugs/${name}`, ports: [{ containerPort: 8080 }] }], ...extra },
      },
    },
  }
}

function service(name: string, spec: Service["spec"]): Service {
  return { apiVersion: "v1", kind: "Service", metadata: { name }, spec }
}

const apply = (cp: ControlPlane, ...objects: KubeObject[]) => cp.apply(objects.map((object) => ({ object })))

function sliceEndpoints(cp: ControlPlane, name: string, namespace = "default") {
  return cp.store
    .endpointSlicesFor(namespace, name)
    .filter((s) => s.metadata.labels?.[LABEL_MANAGED_BY] === "endpointslice-controller.k8s.io")
    .flatMap((s) => s.endpoints)
}

describe("system services and IPAM", () => {
  it("kubernetes gets the first address, kube-dns the tenth", () => {
    const { cp } = make()
    expect(cp.store.get("Service", "default", "kubernetes")?.spec.clusterIP).toBe("10.96.0.1")
    const dns = cp.store.get("Service", "kube-system", "kube-dns")
    expect(dns?.spec.clusterIP).toBe("10.96.0.10")
    expect(getServices(cp.store, { namespace: "kube-system", nowNs: 0 })).toContain("53/UDP,53/TCP,9153/TCP")
    expect(cp.nodes().map((n) => [n.ip, n.podCIDR])).toEqual([
      ["172.18.0.2", "10.244.0.0/24"],
      ["172.18.0.3", "10.244.1.0/24"],
    ])
  })

  it("explicit clusterIP is honoured; clashes and out-of-range are errors with the path and position", () => {
    const { cp } = make()
    expect(apply(cp, service("a", { clusterIP: "10.96.100.100", ports: [{ port: 80 }] }))).toEqual([])
    expect(cp.store.get("Service", "default", "a")?.spec.clusterIP).toBe("10.96.100.100")
    const position = { file: "m.yaml", line: 7, column: 14 }
    const clash = cp.apply([
      { object: service("b", { clusterIP: "10.96.0.10", ports: [{ port: 80 }] }), locate: () => position },
    ])
    expect(clash).toEqual([
      {
        severity: "error",
        path: ["spec", "clusterIP"],
        message: expect.stringContaining("provided IP is already allocated"),
        position,
      },
    ])
    expect(cp.store.get("Service", "default", "b")).toBeUndefined()
    const outside = apply(cp, service("c", { clusterIP: "192.168.0.1", ports: [{ port: 80 }] }))
    expect(outside[0].message).toContain("The range of valid IPs is 10.96.0.0/12")
  })

  it("dynamic ClusterIPs avoid the static band and depend on the seed only", () => {
    const ips = (seed: number) => {
      const { cp } = make({ seed })
      apply(cp, service("x", { ports: [{ port: 80 }] }), service("y", { ports: [{ port: 80 }] }))
      return ["x", "y"].map((n) => cp.store.get("Service", "default", n)?.spec.clusterIP)
    }
    expect(ips(7)).toEqual(ips(7))
    expect(ips(7)).not.toEqual(ips(8))
    for (const ip of ips(7)) expect(ip?.startsWith("10.96.0.")).toBe(false) // /12 -> offset 256
  })

  it("NodePorts: explicit honoured, clash and range errors at spec.ports[i].nodePort", () => {
    const { cp } = make()
    expect(
      apply(
        cp,
        service("np", {
          type: "NodePort",
          selector: { run: "x" },
          ports: [{ port: 80, targetPort: 8080, nodePort: 31111 }],
        }),
      ),
    ).toEqual([])
    expect(getServices(cp.store, { nowNs: 0 })).toMatch(/np\s+NodePort\s+10\.\S+\s+<none>\s+80:31111\/TCP/)
    const clash = apply(cp, service("np2", { type: "NodePort", ports: [{ port: 81 }, { port: 80, nodePort: 31111 }] }))
    expect(clash.map((i) => i.path)).toEqual([["spec", "ports", 1, "nodePort"]])
    expect(clash[0].message).toContain("provided port is already allocated")
    const range = apply(cp, service("np3", { type: "NodePort", ports: [{ port: 80, nodePort: 80 }] }))
    expect(range[0].message).toContain("The range of valid ports is 30000-32767")
    const lb = apply(cp, service("lb", { type: "LoadBalancer", externalTrafficPolicy: "Local", ports: [{ port: 80 }] }))
    expect(lb).toEqual([])
    const stored = cp.store.get("Service", "default", "lb")
    expect(stored?.spec.healthCheckNodePort).toBeGreaterThanOrEqual(30000)
    expect(stored?.spec.ports?.[0].nodePort).toBeGreaterThanOrEqual(30000)
    expect(getServices(cp.store, { nowNs: 0 })).toMatch(/lb\s+LoadBalancer\s+\S+\s+<pending>/)
  })

  it("LoadBalancer ingress comes from the pool", () => {
    const { cp } = make({ loadBalancerPool: ["192.168.56.240-192.168.56.250"] })
    apply(cp, service("lb", { type: "LoadBalancer", ports: [{ port: 80 }] }))
    expect(cp.store.get("Service", "default", "lb")?.status?.loadBalancer?.ingress?.[0].ip).toBe("192.168.56.240")
  })
})

describe("workloads", () => {
  it("Deployment pods are named <deployment>-<hash>-<5 chars>, deterministic per seed", () => {
    const names = (seed: number) => {
      const { scheduler, cp } = make({ seed })
      apply(cp, deployment("http-go", 3))
      runUntil(scheduler, 5 * NS_PER_S)
      return cp.store.list("Pod").map((p) => p.metadata.name)
    }
    const first = names(1)
    expect(first).toHaveLength(3)
    for (const name of first) expect(name).toMatch(/^http-go-[456789bcdf]{6,10}-[bcdfghjklmnpqrstvwxz2456789]{5}$/)
    expect(new Set(first.map((n) => n.slice(0, n.lastIndexOf("-")))).size).toBe(1)
    expect(names(1)).toEqual(first)
    expect(names(2)).not.toEqual(first)
  })

  it("pods spread over nodes, get IPs from the node's pod CIDR, and render like kubectl", () => {
    const { scheduler, cp } = make()
    apply(cp, deployment("web", 4))
    runUntil(scheduler, 5 * NS_PER_S)
    const pods = cp.store.list("Pod")
    expect(pods.map((p) => p.spec.nodeName).sort()).toEqual(["node-1", "node-1", "node-2", "node-2"])
    for (const pod of pods) {
      const node = cp.node(pod.spec.nodeName ?? "")
      expect(pod.status?.podIP?.startsWith(node?.podCIDR?.slice(0, 9) ?? "?")).toBe(true)
      expect(pod.status?.podIP?.endsWith(".1")).toBe(false)
    }
    const text = getPodsWide(cp.store, { nowNs: 5 * NS_PER_S })
    expect(text.split("\n")[0]).toMatch(
      /^NAME\s+READY\s+STATUS\s+RESTARTS\s+AGE\s+IP\s+NODE\s+NOMINATED NODE\s+READINESS GATES$/,
    )
    expect(text).toMatch(/web-\S+\s+1\/1\s+Running\s+0\s+4s\s+10\.244\.\d\.2\s+node-\d\s+<none>\s+<none>/)
  })

  it("nodeSelector is honoured; an unmatched pod stays Pending with Unschedulable", () => {
    const { scheduler, cp } = make()
    apply(
      cp,
      deployment("ssd", 2, { nodeSelector: { disk: "ssd" } }),
      deployment("gpu", 1, { nodeSelector: { gpu: "yes" } }),
    )
    runUntil(scheduler, 5 * NS_PER_S)
    const pods = cp.store.list("Pod")
    expect(pods.filter((p) => p.metadata.name.startsWith("ssd")).map((p) => p.spec.nodeName)).toEqual([
      "node-2",
      "node-2",
    ])
    const gpu = pods.find((p) => p.metadata.name.startsWith("gpu"))
    expect(gpu?.status?.phase).toBe("Pending")
    expect(gpu?.status?.conditions?.[0]).toMatchObject({
      type: "PodScheduled",
      status: "False",
      reason: "Unschedulable",
    })
  })

  it("readinessProbe delays Ready and the endpoint's ready condition", () => {
    const { scheduler, cp } = make()
    const d = deployment("probe", 1)
    d.spec.template.spec.containers[0].readinessProbe = {
      httpGet: { port: 8080 },
      initialDelaySeconds: 5,
      periodSeconds: 3,
    }
    apply(cp, d, service("probe", { selector: { run: "probe" }, ports: [{ port: 80, targetPort: 8080 }] }))
    runUntil(scheduler, 3 * NS_PER_S)
    const pod = cp.store.list("Pod")[0]
    expect(pod.status?.phase).toBe("Running")
    expect(isPodReady(pod)).toBe(false)
    expect(sliceEndpoints(cp, "probe").map((e) => e.conditions)).toEqual([
      { ready: false, serving: false, terminating: false },
    ])
    expect(cp.store.get("Endpoints", "default", "probe")?.subsets?.[0].notReadyAddresses).toHaveLength(1)
    // Bound at 0.21 s (deployment sync 0.1 + rs sync 0.1 + bind 0.01), started at 1.21 s,
    // ready at start + ceil(5/3)*3 s = 7.21 s, endpoints updated 0.1 s later.
    runUntil(scheduler, 7_200_000_000)
    expect(isPodReady(cp.store.list("Pod")[0])).toBe(false)
    runUntil(scheduler, 7_250_000_000)
    expect(isPodReady(cp.store.list("Pod")[0])).toBe(true)
    expect(sliceEndpoints(cp, "probe").map((e) => e.conditions)).toEqual([
      { ready: false, serving: false, terminating: false },
    ])
    runUntil(scheduler, 7_320_000_000)
    expect(sliceEndpoints(cp, "probe").map((e) => e.conditions)).toEqual([
      { ready: true, serving: true, terminating: false },
    ])
  })
})

describe("endpoints", () => {
  function seed001() {
    const made = make()
    apply(
      made.cp,
      deployment("http-go", 1),
      service("http-go-svc", {
        selector: { run: "http-go" },
        ports: [{ protocol: "TCP", port: 80, targetPort: 8080 }],
      }),
    )
    runUntil(made.scheduler, 10 * NS_PER_S)
    return made
  }

  it("scale 1 -> 5 updates the EndpointSlice after the modelled delays (seed 001)", () => {
    const { scheduler, cp } = seed001()
    expect(sliceEndpoints(cp, "http-go-svc")).toHaveLength(1)
    const slices = cp.store.endpointSlicesFor("default", "http-go-svc")
    expect(slices).toHaveLength(1)
    expect(slices[0].metadata.name).toMatch(/^http-go-svc-[bcdfghjklmnpqrstvwxz2456789]{5}$/)
    expect(slices[0].metadata.labels?.[LABEL_SERVICE_NAME]).toBe("http-go-svc")
    expect(slices[0].ports).toEqual([{ name: "", port: 8080, protocol: "TCP" }])
    expect(cp.scale("default", "deployment/http-go", 5)).toEqual([])
    // deployment sync 0.1 + rs sync 0.1 + bind 0.01 + startup 1 + endpoints 0.1 = 1.31 s.
    runUntil(scheduler, 10 * NS_PER_S + 1_300_000_000)
    expect(sliceEndpoints(cp, "http-go-svc")).toHaveLength(1)
    runUntil(scheduler, 10 * NS_PER_S + 1_320_000_000)
    const endpoints = sliceEndpoints(cp, "http-go-svc")
    expect(endpoints).toHaveLength(5)
    for (const e of endpoints) {
      expect(e.conditions).toEqual({ ready: true, serving: true, terminating: false })
      expect(e.targetRef?.kind).toBe("Pod")
      expect(e.zone).toBe(e.nodeName === "node-1" ? "a" : "b")
    }
    expect(describeService(cp.store, "default", "http-go-svc")).toMatch(
      /^Endpoints:\s+10\.244\.\d\.\d:8080,10\.244\.\d\.\d:8080,10\.244\.\d\.\d:8080 \+ 2 more\.\.\.$/m,
    )
    expect(getEndpoints(cp.store, { nowNs: scheduler.nowNs })).toContain("+ 2 more...")
  })

  it("pod deletion: terminating endpoint, then removal, and a replacement pod", () => {
    const { scheduler, cp } = make({ timing: { exitAfterSigtermNs: 5 * NS_PER_S } })
    apply(
      cp,
      deployment("http-go", 2),
      service("svc", { selector: { run: "http-go" }, ports: [{ port: 80, targetPort: 8080 }] }),
    )
    runUntil(scheduler, 10 * NS_PER_S)
    const victim = cp.store.list("Pod")[0].metadata.name
    expect(cp.delete("default", `pod/${victim}`)).toEqual([])
    runUntil(scheduler, 10 * NS_PER_S + 200_000_000)
    const terminating = sliceEndpoints(cp, "svc").find((e) => e.targetRef?.name === victim)
    expect(terminating?.conditions).toEqual({ ready: false, serving: true, terminating: true })
    expect(
      cp.store.get("Endpoints", "default", "svc")?.subsets?.[0].addresses?.some((a) => a.targetRef?.name === victim),
    ).toBe(false)
    expect(getPodsWide(cp.store, { nowNs: scheduler.nowNs })).toMatch(new RegExp(`${victim}\\s+1/1\\s+Terminating`))
    runUntil(scheduler, 15 * NS_PER_S + 200_000_000)
    expect(sliceEndpoints(cp, "svc").find((e) => e.targetRef?.name === victim)?.conditions).toEqual({
      ready: false,
      serving: false,
      terminating: true,
    })
    runUntil(scheduler, 30 * NS_PER_S)
    const names = sliceEndpoints(cp, "svc").map((e) => e.targetRef?.name)
    expect(names).not.toContain(victim)
    expect(names).toHaveLength(2)
    expect(cp.store.list("Pod")).toHaveLength(2)
  })

  it("named targetPort: a pod lacking the port has no endpoint for it", () => {
    const { scheduler, cp } = make()
    const withPort = deployment("a", 1)
    withPort.spec.template.metadata = { labels: { run: "a", tier: "web" } }
    withPort.spec.template.spec.containers[0].ports = [{ name: "http", containerPort: 8080 }]
    const without = deployment("b", 1)
    without.spec.template.metadata = { labels: { run: "b", tier: "web" } }
    apply(
      cp,
      withPort,
      without,
      service("web", { selector: { tier: "web" }, ports: [{ name: "http", port: 80, targetPort: "http" }] }),
    )
    runUntil(scheduler, 5 * NS_PER_S)
    const slices = cp.store.endpointSlicesFor("default", "web")
    const withPorts = slices.filter((s) => (s.ports ?? []).length > 0)
    expect(withPorts).toHaveLength(1)
    expect(withPorts[0].ports).toEqual([{ name: "http", port: 8080, protocol: "TCP" }])
    expect(withPorts[0].endpoints.map((e) => e.targetRef?.name.startsWith("a-"))).toEqual([true])
  })

  it("selectorless Service + manual Endpoints gets a mirrored EndpointSlice (seed 001 my-service)", () => {
    const { scheduler, cp } = make()
    const endpoints: Endpoints = {
      apiVersion: "v1",
      kind: "Endpoints",
      metadata: { name: "my-service" },
      subsets: [{ addresses: [{ ip: "223.130.195.200" }, { ip: "199.201.110.204" }], ports: [{ port: 80 }] }],
    }
    apply(cp, service("my-service", { ports: [{ protocol: "TCP", port: 80, targetPort: 80 }] }), endpoints)
    runUntil(scheduler, 1 * NS_PER_S)
    const slices = cp.store.endpointSlicesFor("default", "my-service")
    expect(slices).toHaveLength(1)
    expect(slices[0].metadata.labels?.[LABEL_MANAGED_BY]).toBe("endpointslicemirroring-controller.k8s.io")
    expect(slices[0].endpoints.map((e) => [e.addresses[0], e.conditions])).toEqual([
      ["223.130.195.200", { ready: true }],
      ["199.201.110.204", { ready: true }],
    ])
    expect(slices[0].ports).toEqual([{ name: "", port: 80, protocol: "TCP" }])
    expect(describeService(cp.store, "default", "my-service")).toContain(
      "Endpoints:         223.130.195.200:80,199.201.110.204:80",
    )
    cp.delete("default", "endpoints/my-service")
    runUntil(scheduler, 2 * NS_PER_S)
    expect(cp.store.endpointSlicesFor("default", "my-service")).toHaveLength(0)
  })

  it("describe svc matches the tutorial layout (seed 002)", () => {
    const { scheduler, cp } = make()
    const d = deployment("my-nginx", 2)
    d.spec.template.spec.containers[0].ports = [{ containerPort: 80 }]
    apply(cp, d, {
      ...service("my-nginx", { selector: { run: "my-nginx" }, ports: [{ port: 80, protocol: "TCP" }] }),
      metadata: { name: "my-nginx", labels: { run: "my-nginx" } },
    })
    runUntil(scheduler, 5 * NS_PER_S)
    const text = describeService(cp.store, "default", "my-nginx")
    const ip = cp.store.get("Service", "default", "my-nginx")?.spec.clusterIP ?? ""
    expect(text).toMatch(
      new RegExp(
        [
          "Name:              my-nginx",
          "Namespace:         default",
          "Labels:            run=my-nginx",
          "Annotations:       <none>",
          "Selector:          run=my-nginx",
          "Type:              ClusterIP",
          "IP Family Policy:  SingleStack",
          "IP Families:       IPv4",
          `IP:                ${ip.replaceAll(".", "\\.")}`,
          `IPs:               ${ip.replaceAll(".", "\\.")}`,
          "Port:              <unset>  80/TCP",
          "TargetPort:        80/TCP",
          "Endpoints:         10\\.244\\.\\d\\.2:80,10\\.244\\.\\d\\.2:80",
          "Session Affinity:  None",
          "Events:            <none>",
        ].join("\n"),
      ),
    )
  })
})

describe("scale-down", () => {
  it("removes not-ready pods before ready ones", () => {
    const { scheduler, cp } = make()
    apply(cp, deployment("w", 2))
    runUntil(scheduler, 5 * NS_PER_S)
    const ready = cp.store.list("Pod").map((p) => p.metadata.name)
    cp.scale("default", "w", 3)
    runUntil(scheduler, 5 * NS_PER_S + 500_000_000) // new pod exists, not yet running
    cp.scale("default", "w", 2)
    runUntil(scheduler, 20 * NS_PER_S)
    expect(cp.store.list("Pod").map((p) => p.metadata.name)).toEqual(ready)
  })
})

describe("property: random scale sequences", () => {
  it("after settling, replicas == desired and endpoints == ready pods matching the selector", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 1000 }),
        fc.array(fc.tuple(fc.integer({ min: 0, max: 6 }), fc.integer({ min: 0, max: 3000 })), {
          minLength: 1,
          maxLength: 6,
        }),
        (seed, steps) => {
          const { scheduler, cp } = make({ seed })
          apply(
            cp,
            deployment("app", 2),
            service("app", { selector: { run: "app" }, ports: [{ port: 80, targetPort: 8080 }] }),
          )
          let now = 0
          let desired = 2
          for (const [replicas, gapMs] of steps) {
            now += gapMs * 1_000_000
            runUntil(scheduler, now)
            cp.scale("default", "app", replicas)
            desired = replicas
          }
          runUntil(scheduler, now + 60 * NS_PER_S)
          const pods = cp.store.list("Pod").filter((p: Pod) => p.metadata.labels?.run === "app")
          expect(pods).toHaveLength(desired)
          expect(pods.every(isPodReady)).toBe(true)
          const endpointIps = sliceEndpoints(cp, "app")
            .map((e) => e.addresses[0])
            .sort()
          expect(endpointIps).toEqual(pods.map((p) => p.status?.podIP ?? "").sort())
          expect(new Set(endpointIps).size).toBe(endpointIps.length)
          const v1 = (cp.store.get("Endpoints", "default", "app")?.subsets ?? [])
            .flatMap((s) => s.addresses ?? [])
            .map((a) => a.ip)
            .sort()
          expect(v1).toEqual(endpointIps)
        },
      ),
      { numRuns: 60, seed: 42 },
    )
  })
})

describe("more", () => {
  it("slices hold at most 100 endpoints", () => {
    const { scheduler, cp } = make()
    apply(
      cp,
      deployment("big", 150),
      service("big", { selector: { run: "big" }, ports: [{ port: 80, targetPort: 8080 }] }),
    )
    // The ReplicaSet's client creates 30 pods at once, then 20 per second (--kube-api-qps/burst).
    runUntil(scheduler, 10 * NS_PER_S)
    const sizes = cp.store
      .endpointSlicesFor("default", "big")
      .map((s) => s.endpoints.length)
      .sort((a, b) => a - b)
    expect(sizes).toEqual([50, 100])
  })

  it("aws-vpc: node and pod IPs from the VPC subnet (AWS reserves .0-.3), no node pod CIDR", () => {
    const { scheduler, cp } = make({ cni: "aws-vpc", nodeCIDR: "10.11.0.0/16" })
    expect(cp.nodes().map((n) => [n.ip, n.podCIDR])).toEqual([
      ["10.11.0.4", undefined],
      ["10.11.0.5", undefined],
    ])
    apply(cp, deployment("eks", 2))
    runUntil(scheduler, 5 * NS_PER_S)
    expect(
      cp.store
        .list("Pod")
        .map((p) => p.status?.podIP)
        .sort(),
    ).toEqual(["10.11.0.6", "10.11.0.7"])
  })

  it("listeners get pod, service and slice notifications; resourceVersion grows", () => {
    const scheduler = new Scheduler()
    const seen: string[] = []
    const cp = new ControlPlane(scheduler, BASE, [
      {
        onPodAdded: (pod) => seen.push(`add ${pod.metadata.name.split("-")[0]}`),
        onPodUpdated: (pod, previous) => {
          if (pod.status?.podIP !== undefined && previous.status?.podIP === undefined)
            seen.push(`ip ${pod.status.podIP}`)
        },
        onServiceChanged: (namespace, name) => seen.push(`svc ${namespace}/${name}`),
        onEndpointSliceChanged: (namespace, name) => seen.push(`slice ${namespace}/${name}`),
      },
    ])
    const before = cp.store.resourceVersion
    apply(cp, deployment("w", 1), service("w", { selector: { run: "w" }, ports: [{ port: 80 }] }))
    runUntil(scheduler, 5 * NS_PER_S)
    expect(seen).toContain("svc default/kubernetes")
    expect(seen).toContain("svc default/w")
    expect(seen).toContain("add w")
    expect(seen).toContain("ip 10.244.0.2")
    expect(seen.filter((s) => s === "slice default/w").length).toBeGreaterThanOrEqual(2)
    expect(cp.store.resourceVersion).toBeGreaterThan(before)
  })
})
