/**
 * Goal: servers chosen by image come from one registry (src/apps/images.ts): nginx and images built
 * on it serve HTTP on 80, CoreDNS serves DNS on UDP+TCP 53 (never a UDP echo server), any other
 * image serves HTTP / UDP echo on its containerPorts. The scenario goldens (test/cluster) pin that
 * existing images behave as before.
 */
import { describe, expect, it } from "vitest"
import { Apps } from "../../src/apps/apps.ts"
import { CoreDnsServer, coreDnsParams } from "../../src/apps/coredns.ts"
import { HttpServer } from "../../src/apps/http.ts"
import { ImageProgram, imageProgram, repositoryName, startPodServers } from "../../src/apps/images.ts"
import type { RequestObserver } from "../../src/apps/observer.ts"
import { UdpEchoServer } from "../../src/apps/server.ts"
import { ApiStore } from "../../src/k8s/store.ts"
import { Rng } from "../../src/sim/rng.ts"
import { world } from "../net/helpers.ts"

const NO_OBSERVER: RequestObserver = {
  onRequestSent: () => {},
  onRequestCompleted: () => {},
  onRequestFailed: () => {},
  onServerRequest: () => {},
}

function pod() {
  const w = world("bridge")
  const n1 = w.cluster.addNode("n1", "a")
  const p = w.cluster.addPod(n1, "p")
  const apps = new Apps(w.scheduler, w.net, NO_OBSERVER)
  let dnsSetups = 0
  const ctx = {
    host: apps,
    ns: p.ns,
    identity: { index: 0, name: "p", address: p.ip, node: "n1" },
    serviceTime: { meanNs: 0, distribution: "fixed" as const },
    rng: Rng.stream(1, "server"),
    dnsRng: () => Rng.stream(1, "coredns"),
    coreDns: () => {
      dnsSetups++
      return {
        params: coreDnsParams("cluster.local", 2, 1_000_000),
        env: { store: new ApiStore(), upstreamNames: new Map() },
      }
    },
  }
  return { p, apps, ctx, dnsSetups: () => dnsSetups }
}

describe("image registry", () => {
  it("names images by repository: last path component without tag or digest", () => {
    expect(repositoryName("registry.k8s.io/coredns/coredns:v1.11.3")).toBe("coredns")
    expect(repositoryName("nginx@sha256:abc")).toBe("nginx")
    expect(repositoryName("praqma/network-multitool:alpine-extra")).toBe("network-multitool")
    expect(repositoryName("localhost:5000/app")).toBe("app")
    expect(imageProgram("nginx:1.27")).toBe(ImageProgram.NGINX)
    expect(imageProgram("bitnami/nginx-ingress")).toBe(ImageProgram.NGINX)
    expect(imageProgram("praqma/network-multitool")).toBe(ImageProgram.NGINX)
    expect(imageProgram("coredns/coredns:1.11.1")).toBe(ImageProgram.COREDNS)
    expect(imageProgram("busybox")).toBe(ImageProgram.GENERIC)
    expect(imageProgram("mynginx")).toBe(ImageProgram.GENERIC)
  })

  it("nginx: HTTP on 80 (and on its other TCP ports); a generic image: HTTP and UDP echo on its ports", () => {
    const a = pod()
    const servers = startPodServers(a.ctx, [{ image: "nginx", ports: [{ containerPort: 8443 }] }])
    expect(servers.map((s) => s.constructor)).toEqual([HttpServer])
    expect([...a.p.ns.tcpListeners.keys()].sort((x, y) => x - y)).toEqual([80, 8443])
    const b = pod()
    const generic = startPodServers(b.ctx, [
      { image: "hashicorp/http-echo", ports: [{ containerPort: 5678 }, { containerPort: 53, protocol: "UDP" }] },
      { image: "busybox", ports: [{ containerPort: 9, protocol: "SCTP" }] },
    ])
    expect(generic.map((s) => s.constructor)).toEqual([HttpServer, UdpEchoServer])
    expect([...b.p.ns.tcpListeners.keys()]).toEqual([5678])
    expect(b.p.ns.udpSockets.has(53)).toBe(true)
    expect(b.dnsSetups()).toBe(0)
    expect(b.apps.servers).toEqual(generic)
    const c = pod()
    expect(startPodServers(c.ctx, [{ image: "busybox" }])).toEqual([])
  })

  it("coredns: DNS on UDP and TCP 53, HTTP on its metrics port, no UDP echo", () => {
    const a = pod()
    const servers = startPodServers(a.ctx, [
      {
        image: "registry.k8s.io/coredns/coredns:v1.11.3",
        ports: [
          { containerPort: 53, protocol: "UDP" },
          { containerPort: 53, protocol: "TCP" },
          { containerPort: 9153, protocol: "TCP" },
        ],
      },
    ])
    expect(servers.map((s) => s.constructor)).toEqual([HttpServer, CoreDnsServer])
    expect(a.p.ns.udpSockets.get(53)?.listener).toBe(servers[1])
    expect([...a.p.ns.tcpListeners.keys()].sort((x, y) => x - y)).toEqual([53, 9153])
    expect(a.dnsSetups()).toBe(1)
  })

  it("a port already held in the namespace is skipped (EADDRINUSE), CoreDNS included", () => {
    const a = pod()
    startPodServers(a.ctx, [{ image: "app", ports: [{ containerPort: 53, protocol: "UDP" }] }])
    const second = startPodServers(a.ctx, [
      { image: "coredns/coredns" },
      { image: "app", ports: [{ containerPort: 80 }] },
    ])
    expect(second.map((s) => s.constructor)).toEqual([HttpServer])
  })
})
