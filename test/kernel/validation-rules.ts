/**
 * The rules of the calibration validation (calibration-validation.test.ts) and of its diagnosis
 * script (bench/calibration/nat-walk.ts): one UDP ClusterIP Service under test and `extra` other
 * (TCP) Services, compiled by kube-proxy's iptables compiler for the lab's test node.
 */
import type { EndpointSlice, Service } from "../../src/k8s/types.ts"
import { LABEL_SERVICE_NAME } from "../../src/k8s/types.ts"
import { DEFAULT_IPTABLES_CONFIG } from "../../src/proxy/iptables/compile.ts"
import { compileNodeRules } from "./rules.ts"
import { CLUSTER_CIDR, ENDPOINT_PODS, NODE_NAME } from "./topology.ts"

export const PORT = 7000
export const CLUSTER_IP = "172.30.0.10"
export const TARGET = ENDPOINT_PODS[0] ?? { name: "ep0", ip: "10.0.0.201", node: "test" }
const FILLER_ENDPOINT = ENDPOINT_PODS[1]?.ip ?? "10.0.0.202"

/** The Service under test (UDP ClusterIP -> ep0:7000) and `extra` others (TCP, -> ep1:80). */
export function validationServices(extra: number): { services: Service[]; slices: EndpointSlice[] } {
  const out: Service[] = []
  const slices: EndpointSlice[] = []
  const add = (
    namespace: string,
    name: string,
    clusterIP: string,
    protocol: "UDP" | "TCP",
    port: number,
    ip: string,
  ) => {
    out.push({
      apiVersion: "v1",
      kind: "Service",
      metadata: { name, namespace },
      spec: { type: "ClusterIP", clusterIP, ports: [{ protocol, port, targetPort: port }] },
    })
    slices.push({
      apiVersion: "discovery.k8s.io/v1",
      kind: "EndpointSlice",
      metadata: { name: `${name}-0`, namespace, labels: { [LABEL_SERVICE_NAME]: name } },
      addressType: "IPv4",
      endpoints: [{ addresses: [ip], conditions: {}, nodeName: NODE_NAME }],
      ports: [{ port, protocol }],
    })
  }
  // The compiler orders KUBE-SERVICES by namespace/name (kube-proxy's order is Go map order, i.e.
  // random): half the others sort before the target, so a new flow walks about half the chain,
  // the average case.
  add("m-calibration", "target", CLUSTER_IP, "UDP", PORT, TARGET.ip)
  for (let i = 0; i < extra; i++)
    add(
      i % 2 === 0 ? "a-filler" : "z-filler",
      `svc-${i}`,
      `172.30.${1 + Math.floor(i / 250)}.${(i % 250) + 1}`,
      "TCP",
      80,
      FILLER_ENDPOINT,
    )
  return { services: out, slices }
}

/** The node's rules for `extra` other Services, and where the target's jump sits in nat KUBE-SERVICES. */
export function validationRules(extra: number): { text: string; position: number } {
  const { services: s, slices } = validationServices(extra)
  const { text } = compileNodeRules(s, slices, { ...DEFAULT_IPTABLES_CONFIG, clusterCIDR: CLUSTER_CIDR, nfacct: false })
  // Where the target's jump sits in nat KUBE-SERVICES: the rules a new flow walks before it.
  const lines = text.split("\n").filter((l) => l.startsWith("-A KUBE-SERVICES "))
  const position = lines.findIndex((l) => l.includes(`-d ${CLUSTER_IP} `))
  return { text, position }
}
