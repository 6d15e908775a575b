/** Test helpers: load plain Kubernetes YAML fixtures and the upstream fake-proxier settings. */
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { parseAllDocuments } from "yaml"
import type { EndpointSlice, KubeObject, Service } from "../../src/k8s/types.ts"
import type { IptablesConfig } from "../../src/proxy/iptables/compile.ts"
import { DEFAULT_IPTABLES_CONFIG } from "../../src/proxy/iptables/compile.ts"
import type { ProxyNode } from "../../src/proxy/service-port.ts"

export const FIXTURES = join(import.meta.dirname, "fixtures")

export function readFixture(name: string): string {
  return readFileSync(join(FIXTURES, name), "utf8")
}

export interface Manifests {
  services: Service[]
  slices: EndpointSlice[]
}

export function parseManifests(text: string): Manifests {
  const services: Service[] = []
  const slices: EndpointSlice[] = []
  for (const doc of parseAllDocuments(text)) {
    if (doc.errors.length > 0) throw new Error(doc.errors.map((e) => e.message).join("; "))
    const object = doc.toJS() as KubeObject | null
    if (object === null) continue
    if (object.kind === "Service") services.push(object)
    else if (object.kind === "EndpointSlice") slices.push(object)
  }
  return { services, slices }
}

export function loadManifests(name: string): Manifests {
  return parseManifests(readFixture(name))
}

/** NewFakeProxier (recent upstream): node test-node/192.168.0.2, detector 10.0.0.0/8, nfacct on. */
export const FAKE_NODE: ProxyNode = { name: "test-node", ips: ["192.168.0.2"], labels: {} }
export const FAKE_CONFIG: IptablesConfig = {
  ...DEFAULT_IPTABLES_CONFIG,
  clusterCIDR: "10.0.0.0/8",
  localhostNodePorts: true,
  nfacct: true,
  randomFully: false,
  nodePortAddresses: null,
}

/** Service `name` in namespace "ns" with ClusterIP 172.30.0.(10 + index), port "p" 80/TCP, and `spec` over that. */
export function testService(name: string, spec: Partial<Service["spec"]>, index: number): Service {
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name, namespace: "ns" },
    spec: { clusterIP: `172.30.0.${index + 10}`, ports: [{ name: "p", port: 80, protocol: "TCP" }], ...spec },
  } as Service
}
