/**
 * kubectl-style text renderers (for learners comparing with their notes). Columns follow kubectl's
 * printers (pkg/printers/internalversion/printers.go) and describe (pkg/describe/describe.go):
 * - tables are left-aligned columns separated by 3 spaces (tabwriter padding 3, as `kubectl get`);
 * - AGE uses apimachinery duration.HumanDuration;
 * - ENDPOINTS shows at most 3 ready "ip:port" then " + N more..." (formatEndpoints);
 * - describe aligns values with tabwriter padding 2.
 */
import { LABEL_SERVICE_NAME, type Endpoints, type Pod, type Service } from "./types.ts"
import { formatLabels } from "./labels.ts"
import type { ApiStore } from "./store.ts"
import { NS_PER_S } from "../sim/time.ts"

/** duration.HumanDuration. */
export function humanDuration(ns: number): string {
  const seconds = Math.floor(ns / NS_PER_S)
  if (seconds < -1) return "<invalid>"
  if (seconds < 0) return "0s"
  if (seconds < 60 * 2) return `${seconds}s`
  const minutes = Math.floor(seconds / 60)
  if (minutes < 10) {
    const s = seconds % 60
    return s === 0 ? `${minutes}m` : `${minutes}m${s}s`
  }
  if (minutes < 60 * 3) return `${minutes}m`
  const hours = Math.floor(minutes / 60)
  if (hours < 8) {
    const m = minutes % 60
    return m === 0 ? `${hours}h` : `${hours}h${m}m`
  }
  if (hours < 48) return `${hours}h`
  if (hours < 24 * 8) {
    const h = hours % 24
    return h === 0 ? `${Math.floor(hours / 24)}d` : `${Math.floor(hours / 24)}d${h}h`
  }
  if (hours < 24 * 365 * 2) return `${Math.floor(hours / 24)}d`
  const years = Math.floor(hours / 24 / 365)
  if (years < 8) {
    const d = Math.floor(hours / 24) % 365
    return d === 0 ? `${years}y` : `${years}y${d}d`
  }
  return `${years}y`
}

/** Left-aligned columns, 3 spaces between them (kubectl get's tabwriter). */
export function formatTable(rows: readonly (readonly string[])[]): string {
  const widths: number[] = []
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)))
  return (
    rows
      .map((row) =>
        row
          .map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] + 3)))
          .join("")
          .trimEnd(),
      )
      .join("\n") + "\n"
  )
}

function age(created: number | undefined, nowNs: number): string {
  return created === undefined ? "<unknown>" : humanDuration(nowNs - created)
}

/** STATUS as kubectl computes it for the states we model. */
export function podStatusText(pod: Pod): string {
  if (pod.metadata.deletionTimestampNs !== undefined) return "Terminating"
  const phase = pod.status?.phase ?? "Pending"
  if (pod.status?.reason !== undefined && pod.status.reason !== "") return pod.status.reason
  if (phase === "Pending" && pod.spec.nodeName !== undefined && pod.status?.podIP === undefined)
    return "ContainerCreating"
  if (phase === "Succeeded") return "Completed"
  if (phase === "Failed") return "Error"
  return phase
}

function readyText(pod: Pod): string {
  const total = pod.spec.containers.length
  const running = pod.status?.phase === "Running"
  const ready =
    running && (pod.status?.conditions?.some((c) => c.type === "ContainersReady" && c.status === "True") ?? false)
  return `${ready ? total : 0}/${total}`
}

export interface GetOptions {
  readonly namespace?: string
  readonly nowNs: number
}

/** `kubectl get pods -o wide`. */
export function getPodsWide(store: ApiStore, options: GetOptions): string {
  const rows: string[][] = [
    ["NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE", "NOMINATED NODE", "READINESS GATES"],
  ]
  for (const pod of store.list("Pod", options.namespace ?? "default")) {
    rows.push([
      pod.metadata.name,
      readyText(pod),
      podStatusText(pod),
      "0",
      age(pod.metadata.creationTimestampNs, options.nowNs),
      pod.status?.podIP ?? "<none>",
      pod.spec.nodeName ?? "<none>",
      "<none>",
      "<none>",
    ])
  }
  return rows.length === 1 ? `No resources found in ${options.namespace ?? "default"} namespace.\n` : formatTable(rows)
}

/** PORT(S): "80/TCP", "80:31111/TCP", joined by ",". */
export function servicePortsText(service: Service): string {
  const ports = service.spec.ports ?? []
  if (ports.length === 0) return "<none>"
  return ports
    .map((p) =>
      p.nodePort !== undefined ? `${p.port}:${p.nodePort}/${p.protocol ?? "TCP"}` : `${p.port}/${p.protocol ?? "TCP"}`,
    )
    .join(",")
}

/** EXTERNAL-IP: LoadBalancer ingress + externalIPs, `<pending>` without ingress, `<none>` otherwise. */
export function externalIpText(service: Service): string {
  const type = service.spec.type ?? "ClusterIP"
  const external = service.spec.externalIPs ?? []
  if (type === "ExternalName") return service.spec.externalName ?? "<none>"
  if (type === "LoadBalancer") {
    const ingress = (service.status?.loadBalancer?.ingress ?? []).map((i) => i.ip ?? i.hostname ?? "")
    const all = [...ingress, ...external]
    return all.length > 0 ? all.join(",") : "<pending>"
  }
  return external.length > 0 ? external.join(",") : "<none>"
}

/** `kubectl get svc`. */
export function getServices(store: ApiStore, options: GetOptions): string {
  const rows: string[][] = [["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"]]
  for (const service of store.list("Service", options.namespace ?? "default")) {
    rows.push([
      service.metadata.name,
      service.spec.type ?? "ClusterIP",
      service.spec.clusterIP ?? "<none>",
      externalIpText(service),
      servicePortsText(service),
      age(service.metadata.creationTimestampNs, options.nowNs),
    ])
  }
  return formatTable(rows)
}

/** kubectl formatEndpoints: ready ip:port, at most 3, then " + N more...". */
export function endpointsText(endpoints: Endpoints | undefined, portName?: string): string {
  const subsets = endpoints?.subsets ?? []
  if (subsets.length === 0) return "<none>"
  const list: string[] = []
  const max = 3
  let count = 0
  for (const subset of subsets) {
    const addresses = subset.addresses ?? []
    const ports = subset.ports ?? []
    if (ports.length === 0) {
      count += addresses.length
      for (const a of addresses) if (list.length < max) list.push(a.ip)
      continue
    }
    for (const port of ports) {
      if (portName !== undefined && (port.name ?? "") !== portName) continue
      count += addresses.length
      for (const a of addresses) if (list.length < max) list.push(`${a.ip}:${port.port}`)
    }
  }
  const text = list.join(",")
  return count > max ? `${text} + ${count - max} more...` : text
}

/** `kubectl get endpoints`. */
export function getEndpoints(store: ApiStore, options: GetOptions): string {
  const rows: string[][] = [["NAME", "ENDPOINTS", "AGE"]]
  for (const endpoints of store.list("Endpoints", options.namespace ?? "default")) {
    rows.push([
      endpoints.metadata.name,
      endpointsText(endpoints),
      age(endpoints.metadata.creationTimestampNs, options.nowNs),
    ])
  }
  return formatTable(rows)
}

/** `kubectl get endpointslices`: NAME ADDRESSTYPE PORTS ENDPOINTS AGE. */
export function getEndpointSlices(store: ApiStore, options: GetOptions): string {
  const rows: string[][] = [["NAME", "ADDRESSTYPE", "PORTS", "ENDPOINTS", "AGE"]]
  for (const slice of store.list("EndpointSlice", options.namespace ?? "default")) {
    const ports = (slice.ports ?? []).map((p) => String(p.port ?? "")).join(",")
    const addresses = slice.endpoints.flatMap((e) => e.addresses)
    const shown = addresses.slice(0, 3).join(",") + (addresses.length > 3 ? ` + ${addresses.length - 3} more...` : "")
    rows.push([
      slice.metadata.name,
      slice.addressType,
      ports === "" ? "<unset>" : ports,
      shown === "" ? "<unset>" : shown,
      age(slice.metadata.creationTimestampNs, options.nowNs),
    ])
  }
  return formatTable(rows)
}

function labelsLines(title: string, labels: Readonly<Record<string, string>> | undefined): [string, string][] {
  const keys = Object.keys(labels ?? {}).sort()
  if (keys.length === 0) return [[title, "<none>"]]
  return keys.map((key, i) => [i === 0 ? title : "", `${key}=${labels?.[key] ?? ""}`])
}

/** `kubectl describe svc NAME` (Events are not modelled: always <none>). */
export function describeService(store: ApiStore, namespace: string, name: string): string {
  const service = store.get("Service", namespace, name)
  if (service === undefined) return `Error from server (NotFound): services "${name}" not found\n`
  const endpoints = store.get("Endpoints", namespace, name)
  const lines: [string, string][] = [
    ["Name:", name],
    ["Namespace:", namespace],
  ]
  lines.push(...labelsLines("Labels:", service.metadata.labels))
  lines.push(...labelsLines("Annotations:", service.metadata.annotations))
  const selector = service.spec.selector
  lines.push([
    "Selector:",
    selector === undefined || Object.keys(selector).length === 0 ? "<none>" : formatLabels(selector),
  ])
  const type = service.spec.type ?? "ClusterIP"
  lines.push(["Type:", type])
  if (type !== "ExternalName") {
    // The API server stores the policy given (PreferDualStack stays, with one family here), else SingleStack.
    lines.push(
      ["IP Family Policy:", service.spec.ipFamilyPolicy ?? "SingleStack"],
      ["IP Families:", (service.spec.ipFamilies ?? ["IPv4"]).join(",")],
    )
    lines.push(
      ["IP:", service.spec.clusterIP ?? ""],
      ["IPs:", (service.spec.clusterIPs ?? [service.spec.clusterIP ?? ""]).join(",")],
    )
  } else lines.push(["External Name:", service.spec.externalName ?? ""])
  if ((service.spec.externalIPs ?? []).length > 0)
    lines.push(["External IPs:", (service.spec.externalIPs ?? []).join(",")])
  if (service.spec.loadBalancerIP !== undefined) lines.push(["IP:", service.spec.loadBalancerIP])
  const ingress = service.status?.loadBalancer?.ingress ?? []
  if (ingress.length > 0) lines.push(["LoadBalancer Ingress:", ingress.map((i) => i.ip ?? i.hostname ?? "").join(", ")])
  for (const port of service.spec.ports ?? []) {
    const protocol = port.protocol ?? "TCP"
    lines.push(["Port:", `${port.name ?? "<unset>"}  ${port.port}/${protocol}`])
    const target = port.targetPort ?? port.port
    lines.push(["TargetPort:", `${target}/${protocol}`])
    if (port.nodePort !== undefined)
      lines.push(["NodePort:", `${port.name ?? "<unset>"}  ${port.nodePort}/${protocol}`])
    if (type !== "ExternalName") lines.push(["Endpoints:", endpointsText(endpoints, port.name ?? "")])
  }
  lines.push(["Session Affinity:", service.spec.sessionAffinity ?? "None"])
  if (service.spec.externalTrafficPolicy !== undefined && (type === "NodePort" || type === "LoadBalancer"))
    lines.push(["External Traffic Policy:", service.spec.externalTrafficPolicy])
  if (service.spec.healthCheckNodePort !== undefined)
    lines.push(["HealthCheck NodePort:", String(service.spec.healthCheckNodePort)])
  lines.push(["Events:", "<none>"])
  const width = Math.max(...lines.map(([key]) => key.length)) + 2
  return lines.map(([key, value]) => (key.padEnd(width) + value).trimEnd()).join("\n") + "\n"
}

/** Services an EndpointSlice belongs to (its kubernetes.io/service-name label). */
export function sliceServiceName(labels: Readonly<Record<string, string>> | undefined): string | undefined {
  return labels?.[LABEL_SERVICE_NAME]
}
