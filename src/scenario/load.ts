/**
 * Loading a scenario file into a `ScenarioSpec`: read, parse YAML with positions, decode with the
 * effect Schema (`schema.ts`), decode the Kubernetes manifests (`manifests.ts`), fill every default
 * (docs/scenario.md lists them with their sources), convert units, and check references between
 * parts (a workload naming a missing pod, a Service selecting nothing). Every issue is collected
 * and returned at once; nothing throws for bad input.
 */
import { DEFAULT_IPTABLES_SYNC_COST, DEFAULT_IPVS_SYNC_COST, DEFAULT_NFTABLES_SYNC_COST } from "../proxy/sync-cost.ts"
import { parseProxyPortRange } from "../proxy/userspace/port-allocator.ts"
import {
  CONNTRACK_MAX_PER_CORE_DEFAULT,
  CONNTRACK_MIN_DEFAULT,
  KERNEL_CONNTRACK_MAX_DEFAULT,
  NODE_CPUS_DEFAULT,
} from "../proxy/conntrack-sysctls.ts"
import { validateNodePortAddresses } from "../proxy/node-port-addresses.ts"
import { DEFAULT_NFTABLES_MODE } from "../cluster/backend-nftables.ts"
import { PROXY_BACKENDS, simulatedProxyModes } from "../cluster/proxy-backends.ts"
import type { RaceFix } from "../netfilter/conntrack.ts"
import { MAX_DNS_SEARCH_LIST_CHARS, MAX_DNS_SEARCH_PATHS } from "../dns/resolv-conf.ts"
import { readFileSync } from "node:fs"
import { dirname, join, normalize } from "node:path"
import type {
  Arrival,
  ClusterSpec,
  Issue,
  IpvsProxySpec,
  KubeProxySpec,
  UserspaceProxySpec,
  Locate,
  ManifestObject,
  NodeConntrackSpec,
  NodeSpec,
  ScenarioSpec,
  ServerSpec,
  SourcePosition,
  TimelineStep,
  WorkloadSource,
  WorkloadSpec,
  WorkloadTarget,
} from "../cluster/spec.ts"
import type { Expectation, ExpectationCondition } from "./expect.ts"
import { hasErrors, sortIssues } from "./issues.ts"
import { decodeManifest, isBuiltinNamespace, type ManifestOptions } from "./manifests.ts"
import { formatLabels, matchesServiceSelector, type Labels } from "../k8s/labels.ts"
import { NODE_CIDR_MASK_SIZE_DEFAULT, parsePoolRange, parsePortRange } from "../k8s/ipam.ts"
import { cidrContains, parseCidr, parseIpv4 } from "../wire/ipv4.ts"
import { ipv6NotModelled, isIpv6, parseAddress } from "./address.ts"
import { decodeAll, mustParse } from "./schema-util.ts"
import {
  ScenarioFile,
  type ExpectationEntry,
  type ManifestSourceEntry,
  type TimelineEntry,
  type WorkloadEntry,
} from "./schema.ts"
import { parseYamlFile, type Path, type YamlDocument } from "./source.ts"
import { decodeDistribution, decodeProfileText, defaultCosts, profilePath } from "./profile.ts"
import { COST_PARAMETERS, type CostParameter, type CostParameters } from "../sim/costs.ts"
import { Distribution, type DistributionSpec } from "../sim/distribution.ts"
import { parseBandwidthBps, parseBytes, parseDurationNs, parseLossPpm, parseRatePerSecond } from "./units.ts"

/** RFC 1123 subdomain (lower case, as the API server checks pod search domains). */
const NODE_SEARCH_DOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/

/** Reads a file as UTF-8; throws (with `code: "ENOENT"` for a missing file) like fs.readFileSync. */
export type ReadFile = (path: string) => string

export const readFileUtf8: ReadFile = (path) => readFileSync(path, "utf8")

export interface LoadedScenario {
  readonly spec: ScenarioSpec
  readonly expectations: readonly Expectation[]
  readonly warnings: readonly Issue[]
  /** Positions of scenario fields (paths from the scenario root), for issues reported later. */
  readonly locate: Locate
}

export type LoadResult =
  { readonly ok: true; readonly scenario: LoadedScenario } | { readonly ok: false; readonly issues: readonly Issue[] }

/** The defaults of every optional scenario field (docs/scenario.md gives their sources). */
export const DEFAULTS = {
  seed: 1,
  duration: "60s",
  nodeCount: 3,
  zone: "zone-a",
  cni: "bridge",
  podCIDR: "10.244.0.0/16",
  serviceCIDR: "10.96.0.0/12",
  nodeCIDR: "10.0.0.0/16",
  clusterDomain: "cluster.local",
  serviceNodePortRange: "30000-32767",
  systemServices: true,
  sameNodeLatency: "20us",
  crossNodeLatency: "250us",
  crossZoneLatency: "1ms",
  externalLatency: "5ms",
  bandwidth: "10Gbps",
  mtu: 1500,
  loss: 0,
  queue: 1000,
  kubeProxyMode: "iptables",
  syncPeriod: "30s",
  minSyncPeriod: "1s",
  masqueradeAll: false,
  masqueradeBit: 14,
  localhostNodePorts: true,
  nfacct: false,
  randomFully: true,
  ruleCost: "50ns",
  // Measured on this project's machine (proxy/sync-cost.ts; MODEL.md "Sync cost").
  iptablesSyncFixed: `${DEFAULT_IPTABLES_SYNC_COST.fixedNs}ns`,
  iptablesSyncPerRule: `${DEFAULT_IPTABLES_SYNC_COST.perTableRuleNs}ns`,
  iptablesSyncPerLine: `${DEFAULT_IPTABLES_SYNC_COST.perInputLineNs}ns`,
  // userspace mode (proxy/userspace; MODEL.md "userspace mode").
  userspaceProxyPortRange: "",
  userspaceUdpIdleTimeout: "250ms",
  userspaceConnectCost: "20us",
  userspaceCopyPerMessage: "5us",
  userspaceCopyPerKiB: "250ns",
  // proxy/conntrack-sysctls.ts: kube-proxy's --conntrack-max-per-core / --conntrack-min defaults,
  // the kernel's own nf_conntrack_max, and the CPUs of a node (eksctl's default m5.large: 2 vCPUs).
  conntrackMaxPerCore: CONNTRACK_MAX_PER_CORE_DEFAULT,
  conntrackMin: CONNTRACK_MIN_DEFAULT,
  conntrackKernelMax: KERNEL_CONNTRACK_MAX_DEFAULT,
  conntrackTcpBeLiberal: false,
  nodeCpus: NODE_CPUS_DEFAULT,
  nftablesSyncFixed: `${DEFAULT_NFTABLES_SYNC_COST.fixedNs}ns`,
  nftablesSyncPerCommand: `${DEFAULT_NFTABLES_SYNC_COST.perCommandNs}ns`,
  nftablesSyncPerObject: `${DEFAULT_NFTABLES_SYNC_COST.perTableObjectNs}ns`,
  nftablesExpressionCost: `${DEFAULT_NFTABLES_MODE.expressionCostNs}ns`,
  nftablesLookupCost: `${DEFAULT_NFTABLES_MODE.lookupCostNs}ns`,
  nftablesFullSyncPeriod: `${DEFAULT_NFTABLES_MODE.fullSyncPeriodNs}ns`,
  // kube-proxy's ipvs defaults (pkg/proxy/apis/config/v1alpha1/defaults.go: scheduler "" = rr,
  // timeouts 0 = keep the kernel's) and the IPVS sync cost (proxy/sync-cost.ts).
  ipvsScheduler: "rr",
  ipvsStrictARP: false,
  ipvsTimeout: "0s",
  ipvsSyncFixed: `${DEFAULT_IPVS_SYNC_COST.fixedNs}ns`,
  ipvsSyncPerOperation: `${DEFAULT_IPVS_SYNC_COST.perNetlinkOperationNs}ns`,
  ipvsSyncPerObject: `${DEFAULT_IPVS_SYNC_COST.perObjectNs}ns`,
  tcpEstablishedTimeout: "24h",
  tcpCloseWaitTimeout: "1h",
  udpTimeout: "30s",
  udpStreamTimeout: "120s",
  nodeLocalAddress: "169.254.20.10",
  /** The nodes' resolver: TEST-NET-3 (RFC 5737), the simulated external range's default. */
  nodeResolver: "203.0.113.53",
  dnsMode: "packets",
  serviceTime: "100us",
  httpPort: 80,
  connection: "new",
  requestBytes: 100,
  responseBytes: 0,
  timeout: "5s",
  namespace: "default",
  eventCountMax: 100_000_000,
  /** Kubernetes' scalability thresholds (kubernetes/community sig-scalability thresholds.md). */
  nodesMax: 5000,
  podsMax: 150_000,
  servicesMax: 10_000,
} as const

/** Loads and decodes the scenario at `file` (a path as the user typed it). */
export function loadScenario(file: string, readFile: ReadFile = readFileUtf8): LoadResult {
  let text: string
  try {
    text = readFile(file)
  } catch (error) {
    return {
      ok: false,
      issues: [
        { severity: "error", path: [], message: `cannot read scenario file ${file}: ${readErrorMessage(error)}` },
      ],
    }
  }
  return decodeScenarioText(file, text, readFile)
}

function readErrorMessage(error: unknown): string {
  const code = typeof error === "object" && error !== null && "code" in error ? String(error.code) : ""
  if (code === "ENOENT") return "no such file"
  if (code === "EISDIR") return "is a directory"
  if (code === "EACCES") return "permission denied"
  return error instanceof Error ? error.message : String(error)
}

/** Decodes scenario `text` as if read from `file`; manifest paths resolve against `file`'s folder. */
export function decodeScenarioText(file: string, text: string, readFile: ReadFile = readFileUtf8): LoadResult {
  const yaml = parseYamlFile(file, text)
  if (yaml.issues.length > 0) return { ok: false, issues: sortIssues(yaml.issues) }
  const first = yaml.documents[0]
  if (first === undefined || first.value === null || first.value === undefined) {
    return {
      ok: false,
      issues: [
        {
          severity: "error",
          path: [],
          message: "empty scenario file: expected apiVersion: kube-netsim/v1, kind: Scenario",
          position: { file, line: 1, column: 1 },
        },
      ],
    }
  }
  const issues: Issue[] = []
  const doc = first
  if (yaml.documents.length > 1) {
    issues.push({
      severity: "error",
      path: [],
      message: "a scenario file holds one YAML document (put Kubernetes manifests under manifests:)",
      position: yaml.documents[1].locate([]),
    })
  }
  const context = new Context(file, doc, readFile, issues)
  const decoded = decodeAll(ScenarioFile, doc.value, true)
  if (!decoded.ok) {
    for (const issue of decoded.issues) context.error(issue.path, issue.message, issue.atKey)
    // Manifests are decoded anyway, so that their errors are reported together with these.
    const raw = doc.value
    if (typeof raw === "object" && raw !== null) context.manifestOptionsFromRaw(raw)
    if (typeof raw === "object" && raw !== null && "manifests" in raw && Array.isArray(raw.manifests)) {
      raw.manifests.forEach((entry: unknown, index: number) => {
        if (typeof entry === "object" && entry !== null && ("path" in entry || "inline" in entry))
          context.tryManifestSource(entry, ["manifests", index])
      })
    }
    return { ok: false, issues: sortIssues(issues) }
  }
  const spec = context.build(decoded.value)
  if (hasErrors(issues) || spec === undefined) return { ok: false, issues: sortIssues(issues) }
  // Loaded: positions asked for later (issues found while running) parse the text again.
  yaml.release()
  return {
    ok: true,
    scenario: {
      spec: spec.spec,
      expectations: spec.expectations,
      warnings: sortIssues(issues),
      locate: (path) => doc.locate(path),
    },
  }
}

const DURATION = (text: string): number => mustParse(parseDurationNs(text))

/** The median of a cost distribution, integer ns. */
const medianNs = (spec: DistributionSpec): number => new Distribution(spec).quantileNs(0.5)

function profileReadError(error: unknown): string {
  const code = typeof error === "object" && error !== null && "code" in error ? String(error.code) : ""
  if (code === "ENOENT") return "no such file (a path relative to the scenario, or a shipped name: default, constant)"
  return error instanceof Error ? error.message : String(error)
}

/** A node's kernel conntrack settings as written -> spec (probability -> parts per million). */
function nodeConntrack(c: {
  readonly raceFix?: RaceFix
  readonly raceProbability?: number | string
  readonly buckets?: number
}): NodeConntrackSpec {
  return {
    ...(c.raceFix !== undefined ? { raceFix: c.raceFix } : {}),
    ...(c.raceProbability !== undefined ? { racePpm: mustParse(parseLossPpm(c.raceProbability)) } : {}),
    ...(c.buckets !== undefined ? { buckets: c.buckets } : {}),
  }
}

/** --service-node-port-range as inclusive bounds; null when malformed (reported by the schema). */
function nodePortBounds(text: string): { min: number; max: number } | null {
  const range = parsePortRange(text)
  return range === undefined ? null : { min: range.base, max: range.base + range.size - 1 }
}

class Context {
  private readonly manifestFiles = new Map<string, { objects: ManifestObject[] }>()
  /** API-server settings manifest validation uses (set from cluster: before manifests decode). */
  private manifestOptions: ManifestOptions = {}

  constructor(
    readonly file: string,
    readonly doc: YamlDocument,
    readonly readFile: ReadFile,
    readonly issues: Issue[],
  ) {}

  error(path: Path, message: string, atKey = false): void {
    this.issues.push({
      severity: "error",
      path,
      message,
      position: atKey ? this.doc.locateKey(path) : this.doc.locate(path),
    })
  }

  warning(path: Path, message: string): void {
    this.issues.push({ severity: "warning", path, message, position: this.doc.locate(path) })
  }

  /** dns.mode (packets: cluster/dns-runtime.ts adds CoreDNS, and kube-dns when systemServices is off). */
  private dnsMode(file: ScenarioFile): "static" | "packets" {
    return file.dns?.mode ?? (DEFAULTS.dnsMode as "static" | "packets")
  }

  /**
   * dns.nodeLocal: node-cache binds its listen address on every node, so it must not be an address
   * the cluster already routes (node, pod and Service ranges, external hosts, explicit node IPs,
   * loopback); its cluster-zone upstream is a Service beside kube-dns, so the system Services must exist.
   */
  /**
   * dns.clusterDNS (kubelet --cluster-dns): a pod's nameserver must be something that answers: an
   * address of the Service range (the kube-dns VIP or another Service) or the NodeLocal DNSCache
   * address when the cache runs (kubespray's layout).
   */
  private clusterDns(file: ScenarioFile, nodeLocal: { enabled: boolean; address: string }): string | null {
    const text = file.dns?.clusterDNS
    this.checkNodeLocalIpvs(file, nodeLocal, text)
    if (text === undefined) return null
    const ip = parseIpv4(text)
    if (ip === undefined) return null // reported by the schema
    if (nodeLocal.enabled && text === nodeLocal.address) return text
    const serviceCIDR = file.cluster?.serviceCIDR ?? DEFAULTS.serviceCIDR
    const cidr = parseCidr(serviceCIDR)
    if (cidr !== undefined && !cidrContains(cidr, ip))
      this.error(
        ["dns", "clusterDNS"],
        `${text} is outside cluster.serviceCIDR ${serviceCIDR} and is not the NodeLocal DNSCache address${nodeLocal.enabled ? ` (${nodeLocal.address})` : " (dns.nodeLocal.enabled is false)"}`,
      )
    return text
  }

  /**
   * dns.nodeSearchDomains: the `search` line of the nodes' resolv.conf. Each must be a domain name
   * (RFC 1123 subdomain, a trailing dot allowed). kubelet (dns.go CheckLimitsForResolvConf) only
   * warns when the line leaves no room for the cluster's three domains within MaxDNSSearchPaths (32)
   * or exceeds MaxDNSSearchListChars (2048); GetPodDNS then truncates each pod's list.
   */
  private nodeSearchDomains(file: ScenarioFile): string[] {
    const domains = file.dns?.nodeSearchDomains ?? []
    const out: string[] = []
    domains.forEach((domain, index) => {
      const name = domain.endsWith(".") ? domain.slice(0, -1) : domain
      if (!(NODE_SEARCH_DOMAIN.test(name) && name.length <= 253))
        this.error(
          ["dns", "nodeSearchDomains", index],
          `"${domain}" is not a domain name (lower case letters, digits, '-' and '.', each label starting and ending with a letter or digit)`,
        )
      else out.push(name)
    })
    const clusterDomain = file.cluster?.clusterDomain ?? DEFAULTS.clusterDomain
    const limit = MAX_DNS_SEARCH_PATHS - (clusterDomain !== "" ? 3 : 0)
    if (out.length > limit)
      this.warning(
        ["dns", "nodeSearchDomains"],
        `more than ${limit} domains: kubelet warns (CheckLimitsForResolvConf) and each ClusterFirst pod keeps the first ${MAX_DNS_SEARCH_PATHS} of its search list`,
      )
    else if (out.join(" ").length > MAX_DNS_SEARCH_LIST_CHARS)
      this.warning(
        ["dns", "nodeSearchDomains"],
        `the search line is longer than ${MAX_DNS_SEARCH_LIST_CHARS} characters: kubelet warns and truncates each pod's list`,
      )
    return out
  }

  /** dns.nodeResolver: runs as a host outside the cluster, so no external host may use its address. */
  private nodeResolver(file: ScenarioFile, nodeLocal: { enabled: boolean; address: string }): string {
    const address = file.dns?.nodeResolver ?? DEFAULTS.nodeResolver
    const path: Path = ["dns", "nodeResolver"]
    const at = file.dns?.nodeResolver === undefined ? ["dns"] : path
    if (parseIpv4(address) === undefined) return address
    ;(file.externalHosts ?? []).forEach((host, index) => {
      if (host.ip === address)
        this.error(
          file.dns?.nodeResolver === undefined ? ["externalHosts", index, "ip"] : path,
          `external host ${host.name} uses ${address}, the nodes' resolver address (dns.nodeResolver${file.dns?.nodeResolver === undefined ? ", default" : ""}); choose another address for one of them`,
        )
    })
    if (nodeLocal.enabled && nodeLocal.address === address)
      this.error(at, `the nodes' resolver ${address} is the NodeLocal DNSCache address`)
    const ip = parseIpv4(address) as number
    for (const [field, text] of [
      ["cluster.nodeCIDR", file.cluster?.nodeCIDR ?? DEFAULTS.nodeCIDR],
      ["cluster.podCIDR", file.cluster?.podCIDR ?? DEFAULTS.podCIDR],
      ["cluster.serviceCIDR", file.cluster?.serviceCIDR ?? DEFAULTS.serviceCIDR],
    ] as const) {
      const cidr = parseCidr(text)
      if (cidr !== undefined && cidrContains(cidr, ip))
        this.error(at, `the nodes' resolver ${address} is inside ${field} ${text}: it runs outside the cluster`)
    }
    return address
  }

  /**
   * NodeLocal DNSCache with kube-proxy in IPVS mode: kube-ipvs0 holds the kube-dns VIP, so
   * node-cache listens on its link-local address only, and pods reach it only if kubelet's
   * --cluster-dns names that address. The upstream guide makes this an installation step
   * (kubernetes/website tasks/administer-cluster/nodelocaldns.md: "If kube-proxy is running in IPVS
   * mode, --cluster-dns flag to kubelet needs to be modified to use <node-local-address> that
   * NodeLocal DNSCache is listening on"; kubespray sets clusterDNS to it, dns.md §3.1), so the
   * loader asks for it rather than guessing: with dns.clusterDNS unset, an error saying what to set;
   * set to another address (pods then bypass the cache through IPVS to CoreDNS), a warning.
   */
  private checkNodeLocalIpvs(
    file: ScenarioFile,
    nodeLocal: { enabled: boolean; address: string },
    clusterDNS: string | undefined,
  ): void {
    if (!nodeLocal.enabled || (file.kubeProxy?.mode ?? DEFAULTS.kubeProxyMode) !== "ipvs") return
    if (clusterDNS === undefined)
      this.error(
        ["dns", "nodeLocal", "enabled"],
        `with kubeProxy.mode ipvs, NodeLocal DNSCache listens on ${nodeLocal.address} only (kube-ipvs0 holds the kube-dns VIP): set dns.clusterDNS: ${nodeLocal.address} (kubelet --cluster-dns, as the NodeLocal DNSCache guide requires in IPVS mode)`,
      )
    else if (clusterDNS !== nodeLocal.address)
      this.warning(
        ["dns", "clusterDNS"],
        `with kubeProxy.mode ipvs, NodeLocal DNSCache listens on ${nodeLocal.address} only: pods asking ${clusterDNS} bypass it (IPVS sends them to CoreDNS)`,
      )
  }

  private nodeLocal(file: ScenarioFile): { enabled: boolean; address: string } {
    const enabled = file.dns?.nodeLocal?.enabled ?? false
    const address = file.dns?.nodeLocal?.address ?? DEFAULTS.nodeLocalAddress
    if (!enabled) return { enabled, address }
    const ip = parseIpv4(address)
    // A malformed address is reported by the schema.
    if (ip === undefined) return { enabled, address }
    const path: Path =
      file.dns?.nodeLocal?.address === undefined ? ["dns", "nodeLocal", "enabled"] : ["dns", "nodeLocal", "address"]
    const c = file.cluster
    const ranges: [string, string][] = [
      ["cluster.nodeCIDR", c?.nodeCIDR ?? DEFAULTS.nodeCIDR],
      ["cluster.podCIDR", c?.podCIDR ?? DEFAULTS.podCIDR],
      ["cluster.serviceCIDR", c?.serviceCIDR ?? DEFAULTS.serviceCIDR],
      ["loopback", "127.0.0.0/8"],
    ]
    for (const [field, text] of ranges) {
      const cidr = parseCidr(text)
      // An unparsable range is reported on its own field.
      if (cidr !== undefined && cidrContains(cidr, ip))
        this.error(
          path,
          `the NodeLocal DNSCache address ${address} is inside ${field} ${text}; use an unused link-local address such as 169.254.20.10`,
        )
    }
    for (const host of file.externalHosts ?? []) {
      if (host.ip === address)
        this.error(path, `the NodeLocal DNSCache address ${address} is external host ${host.name}'s address`)
    }
    ;(file.loadBalancer?.pool ?? []).forEach((entry, index) => {
      const range = parsePoolRange(entry)
      if (range !== undefined && ip >= range.first && ip <= range.last)
        this.error(
          path,
          `the NodeLocal DNSCache address ${address} is inside loadBalancer.pool[${index}] ${entry}; LoadBalancer Services would be given it`,
        )
    })
    const nodes = c?.nodes
    if (nodes !== undefined && Array.isArray(nodes)) {
      for (const node of nodes) {
        if (node.ip === address)
          this.error(path, `the NodeLocal DNSCache address ${address} is node ${node.name}'s address`)
      }
    }
    if (c?.systemServices === false)
      this.error(
        ["dns", "nodeLocal", "enabled"],
        "NodeLocal DNSCache forwards to kube-dns's pods: it needs cluster.systemServices (the kube-dns Service)",
      )
    return { enabled, address }
  }

  /**
   * A Service's externalIPs or loadBalancerIP equal to the NodeLocal DNSCache address: kube-proxy
   * would install rules for it on every node while node-cache binds it on the nodelocaldns dummy
   * interface and NOTRACKs its port 53 (dns.md §3.2), so the two would fight over the address.
   */
  private checkNodeLocalClash(address: string, objects: readonly ManifestObject[]): void {
    for (const entry of objects) {
      const object = entry.object
      if (object.kind !== "Service") continue
      const fields: [Path, string | undefined][] = [
        ...(object.spec.externalIPs ?? []).map((ip, i): [Path, string] => [["spec", "externalIPs", i], ip]),
        [["spec", "loadBalancerIP"], object.spec.loadBalancerIP],
      ]
      for (const [path, ip] of fields)
        if (ip === address)
          this.issues.push({
            severity: "error",
            path,
            message: `Service ${object.metadata.name} uses ${ip}, the NodeLocal DNSCache address (dns.nodeLocal.address): node-cache binds it on every node; choose another address for one of them`,
            position: entry.locate(path),
          })
    }
  }

  /** loadBalancer: pool, mode and health check (absent fields: lb/loadbalancer.ts defaults). */
  private loadBalancer(file: ScenarioFile): ScenarioSpec["loadBalancer"] {
    const lb = file.loadBalancer
    const hc = lb?.healthCheck
    return {
      pool: [...(lb?.pool ?? [])],
      ...(lb?.mode !== undefined ? { mode: lb.mode } : {}),
      ...(hc !== undefined
        ? {
            healthCheck: {
              ...(hc.interval !== undefined ? { intervalNs: DURATION(hc.interval) } : {}),
              ...(hc.timeout !== undefined ? { timeoutNs: DURATION(hc.timeout) } : {}),
              ...(hc.healthyThreshold !== undefined ? { healthyThreshold: hc.healthyThreshold } : {}),
              ...(hc.unhealthyThreshold !== undefined ? { unhealthyThreshold: hc.unhealthyThreshold } : {}),
            },
          }
        : {}),
    }
  }

  build(file: ScenarioFile): { spec: ScenarioSpec; expectations: Expectation[] } | undefined {
    const cluster = this.cluster(file)
    const kubeProxy = this.kubeProxy(file)
    const manifests: ManifestObject[] = []
    ;(file.manifests ?? []).forEach((entry, index) =>
      manifests.push(...this.manifestSource(entry, ["manifests", index])),
    )
    const externalHosts = (file.externalHosts ?? []).map((host) => ({
      name: host.name,
      ip: host.ip,
      httpPorts: [...(host.httpPorts ?? [])],
    }))
    const timeline = (file.timeline ?? []).map((step, index) => this.timelineStep(step, index))
    const allObjects = [
      ...manifests,
      ...timeline.flatMap((step) => (step.action.kind === "apply" ? step.action.objects : [])),
    ]
    const workloads = (file.workloads ?? []).map((workload, index) => this.workload(workload, index))
    const durationNs = DURATION(file.duration ?? DEFAULTS.duration)

    this.checkUnique(
      cluster.nodes.map((node) => node.name),
      (index) => ["cluster", "nodes", index, "name"],
      "node",
    )
    this.checkUnique(
      workloads.map((w) => w.name),
      (index) => ["workloads", index, "name"],
      "workload",
    )
    this.checkUnique(
      externalHosts.map((h) => h.name),
      (index) => ["externalHosts", index, "name"],
      "external host",
    )
    this.checkReferences(
      workloads,
      timeline,
      allObjects,
      cluster,
      externalHosts.map((h) => h.name),
      durationNs,
    )
    if (!(file.dns?.nodeLocal?.enabled ?? false))
      timeline.forEach((step, index) => {
        if (step.action.kind === "nodeLocalDns")
          this.error(["timeline", index, "nodeLocalDns"], "NodeLocal DNSCache is not enabled (dns.nodeLocal.enabled)")
      })
    this.checkObjects(manifests, allObjects)
    const expectations = (file.expect ?? []).flatMap((entry, index) =>
      this.expectation(
        entry,
        index,
        workloads.map((w) => w.name),
      ),
    )

    const serviceTime = file.server?.serviceTime
    const serviceTimeBase: ServerSpec =
      serviceTime === undefined || typeof serviceTime === "string"
        ? { serviceTimeNs: DURATION(serviceTime ?? DEFAULTS.serviceTime), serviceTimeDistribution: "fixed" }
        : { serviceTimeNs: DURATION(serviceTime.exponential), serviceTimeDistribution: "exponential" }
    // server.images: a service-time distribution per image repository name or image program
    // (apps/images.ts); server.serviceTime pins every image to it (the registry's defaults aside).
    const byImage: Record<string, DistributionSpec> = {}
    for (const [image, raw] of Object.entries(file.server?.images ?? {})) {
      const decoded = decodeDistribution(raw, true)
      if ("message" in decoded) this.error(["server", "images", image, ...decoded.path], decoded.message)
      else byImage[image] = decoded.spec
    }
    const server: ServerSpec = {
      ...serviceTimeBase,
      serviceTimePinned: serviceTime !== undefined,
      ...(Object.keys(byImage).length > 0 ? { byImage } : {}),
      ...(file.server?.cpus !== undefined ? { cpus: file.server.cpus } : {}),
    }
    const spec: ScenarioSpec = {
      name: file.metadata.name,
      file: this.file,
      seed: file.seed ?? DEFAULTS.seed,
      durationNs,
      cluster,
      kubeProxy,
      dns: (() => {
        const nodeLocal = this.nodeLocal(file)
        if (nodeLocal.enabled) this.checkNodeLocalClash(nodeLocal.address, allObjects)
        return {
          mode: this.dnsMode(file),
          nodeLocalEnabled: nodeLocal.enabled,
          nodeLocalAddress: nodeLocal.address,
          clusterDNS: this.clusterDns(file, nodeLocal),
          nodeSearchDomains: this.nodeSearchDomains(file),
          nodeResolver: this.nodeResolver(file, nodeLocal),
        }
      })(),
      loadBalancer: this.loadBalancer(file),
      server,
      externalHosts,
      manifests,
      workloads,
      timeline,
      limits: this.limits(file, allObjects),
      ...this.output(file),
    }
    return { spec, expectations }
  }

  /** output.interval: the time series' interval (run --interval overrides it). */
  private output(file: ScenarioFile): Pick<ScenarioSpec, "output"> {
    const interval = file.output?.interval
    if (interval === undefined) return {}
    const intervalNs = DURATION(interval)
    if (!(intervalNs > 0)) {
      this.error(["output", "interval"], `the time-series interval must be longer than 0, got ${interval}`)
      return {}
    }
    return { output: { intervalNs } }
  }

  /**
   * limits: Services are counted here, nodes in cluster() (before any node is generated); pods
   * are counted while the run goes (cluster/ stops it with an error at limits.pods).
   */
  private limits(file: ScenarioFile, objects: readonly ManifestObject[]): ScenarioSpec["limits"] {
    const l = file.limits ?? {}
    const nodesMax = l.nodes ?? DEFAULTS.nodesMax
    const servicesMax = l.services ?? DEFAULTS.servicesMax
    const where = (key: string, fallback: Path): Path =>
      l[key as keyof typeof l] !== undefined ? ["limits", key] : fallback
    const services = objects.filter((o) => o.object.kind === "Service").length
    if (services > servicesMax) {
      this.error(
        where("services", ["manifests"]),
        `the scenario defines ${services} Services, more than limits.services (${servicesMax})`,
      )
    }
    return {
      eventCountMax: l.events ?? DEFAULTS.eventCountMax,
      nodesMax,
      podsMax: l.pods ?? DEFAULTS.podsMax,
      servicesMax,
    }
  }

  /**
   * The cost parameters (sim/costs.ts): profiles/default.yaml, then the scenario's profile
   * (cluster.network.profile), then the per-parameter overrides (cluster.network.<parameter>), then
   * the constant keys of earlier versions, each a fixed override: sameNodeLatency (the veth hop,
   * bridge included: bridgeHopNs 0), crossNodeLatency, crossZoneLatency, externalLatency,
   * kubeProxy.ruleCost (filter and nat rules) and the kubeProxy.syncCost fixed/perRule/perCommand keys.
   */
  private costs(file: ScenarioFile): CostParameters {
    this.costsMemo ??= this.resolveCosts(file)
    return this.costsMemo
  }

  private costsMemo: CostParameters | undefined

  private resolveCosts(file: ScenarioFile): CostParameters {
    const n = file.cluster?.network ?? {}
    const base = defaultCosts()
    const costs: Record<CostParameter, DistributionSpec> = { ...base.costs }
    if (n.profile !== undefined) {
      const path = profilePath(n.profile, this.file)
      let text: string | undefined
      try {
        text = this.readFile(path)
      } catch (error) {
        this.error(["cluster", "network", "profile"], `cannot read profile ${path}: ${profileReadError(error)}`)
      }
      if (text !== undefined) {
        const result = decodeProfileText(path, text)
        if (!result.ok) this.issues.push(...result.issues)
        else Object.assign(costs, result.profile.parameters)
      }
    }
    const record = n as Readonly<Record<string, unknown>>
    for (const name of COST_PARAMETERS) {
      const raw = record[name]
      if (raw === undefined) continue
      const decoded = decodeDistribution(raw, true)
      if ("message" in decoded) this.error(["cluster", "network", name, ...decoded.path], decoded.message)
      else costs[name] = decoded.spec
    }
    const fixed = (text: string): DistributionSpec => ({ kind: "fixed", valueNs: DURATION(text) })
    if (n.sameNodeLatency !== undefined) {
      costs.vethHopNs = fixed(n.sameNodeLatency)
      costs.bridgeHopNs = { kind: "fixed", valueNs: 0 }
    }
    if (n.crossNodeLatency !== undefined) costs.nodeFabricSameZoneNs = fixed(n.crossNodeLatency)
    if (n.crossZoneLatency !== undefined) costs.nodeFabricCrossZoneNs = fixed(n.crossZoneLatency)
    if (n.externalLatency !== undefined) costs.externalNs = fixed(n.externalLatency)
    const k = file.kubeProxy
    if (k?.ruleCost !== undefined) {
      costs.iptablesFilterRuleNs = fixed(k.ruleCost)
      costs.iptablesNatRuleNs = fixed(k.ruleCost)
    }
    const ipt = k?.syncCost?.iptables
    if (ipt?.fixed !== undefined) costs.iptablesRestoreBaseNs = fixed(ipt.fixed)
    if (ipt?.perRule !== undefined) costs.iptablesRestorePerRuleNs = fixed(ipt.perRule)
    const nft = k?.syncCost?.nftables
    if (nft?.fixed !== undefined) costs.nftApplyBaseNs = fixed(nft.fixed)
    if (nft?.perCommand !== undefined) costs.nftApplyPerElementNs = fixed(nft.perCommand)
    if (k?.nftables?.lookupCost !== undefined) costs.nftSetLookupNs = fixed(k.nftables.lookupCost)
    if (k?.nftables?.expressionCost !== undefined) costs.nftExpressionNs = fixed(k.nftables.expressionCost)
    return costs
  }

  private cluster(file: ScenarioFile): ClusterSpec {
    const c = file.cluster ?? {}
    const n = c.network ?? {}
    const costs = this.costs(file)
    const nodesRaw = c.nodes ?? { count: DEFAULTS.nodeCount }
    const nodesMax = file.limits?.nodes ?? DEFAULTS.nodesMax
    const nodeCount = Array.isArray(nodesRaw) ? nodesRaw.length : (nodesRaw as { count: number }).count
    let nodes: NodeSpec[]
    if (nodeCount > nodesMax) {
      const path: Path =
        file.limits?.nodes !== undefined
          ? ["limits", "nodes"]
          : Array.isArray(nodesRaw)
            ? ["cluster", "nodes"]
            : ["cluster", "nodes", "count"]
      this.error(path, `the cluster has ${nodeCount} nodes, more than limits.nodes (${nodesMax})`)
      nodes = []
    } else if (Array.isArray(nodesRaw)) {
      nodes = nodesRaw.map((node) => ({
        name: node.name,
        zone: node.zone ?? DEFAULTS.zone,
        labels: { ...(node.labels ?? {}) },
        ...(node.ip !== undefined ? { ip: node.ip } : {}),
        ...(node.maxPods !== undefined ? { maxPods: node.maxPods } : {}),
        ...(node.cpus !== undefined ? { cpus: node.cpus } : {}),
        ...(node.conntrack !== undefined ? { conntrack: nodeConntrack(node.conntrack) } : {}),
        ...((node.instanceType ?? c.instanceType) !== undefined
          ? { instanceType: (node.instanceType ?? c.instanceType) as string }
          : {}),
      }))
      if (nodes.length === 0) this.error(["cluster", "nodes"], "a cluster needs at least one node")
      // Node addresses live on the node subnet (the VPC with aws-vpc), as a node's InternalIP must.
      const subnet = parseCidr(c.nodeCIDR ?? DEFAULTS.nodeCIDR)
      nodes.forEach((node, i) => {
        if (node.ip === undefined || subnet === undefined) return
        const address = parseIpv4(node.ip)
        if (address === undefined) this.error(["cluster", "nodes", i, "ip"], `${node.ip} is not an IPv4 address`)
        else if (!cidrContains(subnet, address))
          this.error(
            ["cluster", "nodes", i, "ip"],
            `${node.ip} is outside cluster.nodeCIDR ${c.nodeCIDR ?? DEFAULTS.nodeCIDR}`,
          )
      })
    } else {
      const { count, zones } = nodesRaw as { count: number; zones?: readonly string[] }
      const zoneList = zones !== undefined && zones.length > 0 ? zones : [DEFAULTS.zone]
      const instanceType = c.instanceType === undefined ? {} : { instanceType: c.instanceType }
      nodes = Array.from({ length: count }, (_, i) => ({
        name: `node-${i + 1}`,
        zone: zoneList[i % zoneList.length],
        labels: {},
        ...instanceType,
      }))
    }
    if ((c.cni ?? DEFAULTS.cni) !== "aws-vpc" && nodes.some((node) => node.instanceType !== undefined)) {
      this.warning(
        c.instanceType !== undefined ? ["cluster", "instanceType"] : ["cluster", "nodes"],
        "instanceType sets a node's maxPods only with cni: aws-vpc (its ENI limit); with bridge maxPods stays 110 unless set",
      )
    }
    this.checkAddressRoom(c, nodes.length)
    const serviceNodePortRange = c.serviceNodePortRange ?? DEFAULTS.serviceNodePortRange
    this.manifestOptions = { nodePortRange: nodePortBounds(serviceNodePortRange), dnsMode: this.dnsMode(file) }
    return {
      nodes,
      cni: c.cni ?? DEFAULTS.cni,
      podCIDR: c.podCIDR ?? DEFAULTS.podCIDR,
      serviceCIDR: c.serviceCIDR ?? DEFAULTS.serviceCIDR,
      nodeCIDR: c.nodeCIDR ?? DEFAULTS.nodeCIDR,
      clusterDomain: c.clusterDomain ?? DEFAULTS.clusterDomain,
      serviceNodePortRange,
      systemServices: c.systemServices ?? DEFAULTS.systemServices,
      ...(c.maxPods !== undefined ? { maxPods: c.maxPods } : {}),
      ...(c.cpus !== undefined ? { cpus: c.cpus } : {}),
      ...(c.conntrack !== undefined ? { conntrack: nodeConntrack(c.conntrack) } : {}),
      ...(c.controllerManager !== undefined ? { controllerManager: { ...c.controllerManager } } : {}),
      network: {
        // The constant fields are the costs' medians: what code outside the packet path reads
        // (CoreDNS's upstream round trip, NodeLocal DNSCache's).
        sameNodeLatencyNs: medianNs(costs.vethHopNs),
        crossNodeLatencyNs: medianNs(costs.nodeFabricSameZoneNs),
        crossZoneLatencyNs: medianNs(costs.nodeFabricCrossZoneNs),
        externalLatencyNs: medianNs(costs.externalNs),
        costs,
        bandwidthBitsPerSecond: mustParse(parseBandwidthBps(n.bandwidth ?? DEFAULTS.bandwidth)),
        mtuBytes: n.mtu ?? DEFAULTS.mtu,
        lossPartsPerMillion: mustParse(parseLossPpm(n.loss ?? DEFAULTS.loss)),
        queuePacketsMax: n.queue ?? DEFAULTS.queue,
        ...(n.netdevMaxBacklog !== undefined ? { netdevMaxBacklog: n.netdevMaxBacklog } : {}),
        ...(n.rxRingSize !== undefined ? { rxRingSize: n.rxRingSize } : {}),
      },
    }
  }

  /**
   * Every node gets an address and (bridge) a pod subnet, as a cluster whose nodes all joined:
   * - bridge: kube-controller-manager's node IPAM cuts podCIDR into /24 blocks
   *   (--node-cidr-mask-size); it refuses to start with a cluster CIDR narrower than that, and a node
   *   left without a block never gets a working pod network (CIDRNotAvailable);
   * - nodeCIDR: bridge nodes take .2 up to broadcast-1 (.1 is the gateway); aws-vpc nodes take
   *   network+4 up to broadcast-1 (AWS reserves the others).
   */
  private checkAddressRoom(c: NonNullable<ScenarioFile["cluster"]>, nodeCount: number): void {
    const cni = c.cni ?? DEFAULTS.cni
    const podCidr = parseCidr(c.podCIDR ?? DEFAULTS.podCIDR)
    if (cni === "bridge" && podCidr !== undefined) {
      const text = c.podCIDR ?? DEFAULTS.podCIDR
      if (podCidr.prefixLength > NODE_CIDR_MASK_SIZE_DEFAULT) {
        this.error(
          ["cluster", "podCIDR"],
          `${text} is narrower than the /${NODE_CIDR_MASK_SIZE_DEFAULT} pod subnet each node gets (kube-controller-manager --node-cidr-mask-size); use a /${NODE_CIDR_MASK_SIZE_DEFAULT} or wider`,
        )
      } else {
        const blocks = 2 ** (NODE_CIDR_MASK_SIZE_DEFAULT - podCidr.prefixLength)
        if (blocks < nodeCount)
          this.error(
            ["cluster", "podCIDR"],
            `${text} has room for ${blocks} node pod subnet${blocks === 1 ? "" : "s"} (/${NODE_CIDR_MASK_SIZE_DEFAULT}) but the cluster has ${nodeCount} nodes`,
          )
      }
    }
    const nodeCidr = parseCidr(c.nodeCIDR ?? DEFAULTS.nodeCIDR)
    if (nodeCidr !== undefined) {
      const size = 2 ** (32 - nodeCidr.prefixLength)
      const room = Math.max(0, cni === "aws-vpc" ? size - 5 : size - 3)
      if (room < nodeCount)
        this.error(
          ["cluster", "nodeCIDR"],
          `${c.nodeCIDR ?? DEFAULTS.nodeCIDR} has room for ${room} node address${room === 1 ? "" : "es"} (${cni === "aws-vpc" ? "AWS reserves 5 per subnet" : ".1 is the gateway"}) but the cluster has ${nodeCount} nodes`,
        )
    }
  }

  private kubeProxy(file: ScenarioFile): KubeProxySpec {
    const costs = this.costs(file)
    const k = file.kubeProxy ?? {}
    const ct = k.conntrack ?? {}
    const syncPeriodNs = DURATION(k.syncPeriod ?? DEFAULTS.syncPeriod)
    const minSyncPeriodNs = DURATION(k.minSyncPeriod ?? DEFAULTS.minSyncPeriod)
    if (syncPeriodNs === 0) this.error(["kubeProxy", "syncPeriod"], "must be greater than 0")
    if (minSyncPeriodNs > syncPeriodNs)
      this.error(["kubeProxy", "minSyncPeriod"], "must be less than or equal to syncPeriod")
    if (k.nftables?.fullSyncPeriod !== undefined && DURATION(k.nftables.fullSyncPeriod) === 0)
      this.error(["kubeProxy", "nftables", "fullSyncPeriod"], "must be greater than 0")
    // Only modes whose proxier and kernel state are simulated run: simulating a mode with another
    // mode's rules would report figures that mode does not produce.
    if (k.mode !== undefined && PROXY_BACKENDS[k.mode] === undefined)
      this.error(
        ["kubeProxy", "mode"],
        `kube-proxy mode ${k.mode} is not simulated yet (simulated: ${simulatedProxyModes().join(", ")})`,
      )
    // Old kube-proxy refused an absolute --conntrack-max together with --conntrack-max-per-core.
    if (ct.max !== undefined && ct.maxPerCore !== undefined && ct.maxPerCore > 0)
      this.error(
        ["kubeProxy", "conntrack", "maxPerCore"],
        "max and maxPerCore are mutually exclusive (as kube-proxy's --conntrack-max and --conntrack-max-per-core were); set maxPerCore: 0 to keep max",
      )
    // nf_conntrack_max is a C int (proc_dointvec): a larger value fails the sysctl write.
    const cpusMax = Math.max(
      file.cluster?.cpus ?? DEFAULTS.nodeCpus,
      ...(Array.isArray(file.cluster?.nodes) ? file.cluster.nodes.map((n) => n.cpus ?? 0) : []),
    )
    const INT_MAX = 2 ** 31 - 1
    if ((ct.maxPerCore ?? 0) * cpusMax > INT_MAX)
      this.error(
        ["kubeProxy", "conntrack", "maxPerCore"],
        `maxPerCore x ${cpusMax} CPUs exceeds nf_conntrack_max's limit ${INT_MAX}`,
      )
    for (const field of ["max", "min"] as const)
      if ((ct[field] ?? 0) > INT_MAX)
        this.error(["kubeProxy", "conntrack", field], `exceeds nf_conntrack_max's limit ${INT_MAX}`)
    if (k.nodePortAddresses !== undefined)
      for (const issue of validateNodePortAddresses(k.nodePortAddresses))
        this.error(
          ["kubeProxy", "nodePortAddresses", issue.index],
          `${JSON.stringify(k.nodePortAddresses[issue.index])}: ${issue.message} (e.g. 10.0.0.0/16, or primary alone)`,
        )
    // v1.25's userspace.NewCustomProxier takes nodePortAddresses and drops it (proxy/userspace/proxier.ts).
    if ((k.mode ?? DEFAULTS.kubeProxyMode) === "userspace" && (k.nodePortAddresses?.length ?? 0) > 0)
      this.warning(
        ["kubeProxy", "nodePortAddresses"],
        "ignored in userspace mode, as by kube-proxy v1.25's userspace proxier: NodePorts are open on every node address",
      )
    return {
      mode: k.mode ?? DEFAULTS.kubeProxyMode,
      nodePortAddresses: k.nodePortAddresses === undefined ? null : [...k.nodePortAddresses],
      syncPeriodNs,
      minSyncPeriodNs,
      masqueradeAll: k.masqueradeAll ?? DEFAULTS.masqueradeAll,
      masqueradeBit: k.masqueradeBit ?? DEFAULTS.masqueradeBit,
      // kube-proxy's local-traffic detector (--cluster-cidr): the pod network. With aws-vpc,
      // pods take addresses from the VPC subnet, so the detector is the VPC CIDR (as EKS sets it).
      clusterCIDR:
        k.clusterCIDR ??
        (file.cluster?.cni === "aws-vpc"
          ? (file.cluster?.nodeCIDR ?? DEFAULTS.nodeCIDR)
          : (file.cluster?.podCIDR ?? DEFAULTS.podCIDR)),
      localhostNodePorts: k.localhostNodePorts ?? DEFAULTS.localhostNodePorts,
      nfacct: k.nfacct ?? DEFAULTS.nfacct,
      randomFully: k.randomFully ?? DEFAULTS.randomFully,
      ruleCostNs: DURATION(k.ruleCost ?? DEFAULTS.ruleCost),
      // The fixed and per-rule/per-command parts come from the cost profile (kubeProxy.syncCost
      // keys pin them, see costs()); the numbers are the medians, the distributions drawn per sync.
      syncCost: {
        iptables: {
          fixedNs: medianNs(costs.iptablesRestoreBaseNs),
          perTableRuleNs: medianNs(costs.iptablesRestorePerRuleNs),
          perInputLineNs: DURATION(k.syncCost?.iptables?.perLine ?? DEFAULTS.iptablesSyncPerLine),
          fixedDistribution: costs.iptablesRestoreBaseNs,
          perTableRuleDistribution: costs.iptablesRestorePerRuleNs,
        },
        nftables: {
          fixedNs: medianNs(costs.nftApplyBaseNs),
          perCommandNs: medianNs(costs.nftApplyPerElementNs),
          perTableObjectNs: DURATION(k.syncCost?.nftables?.perObject ?? DEFAULTS.nftablesSyncPerObject),
          fixedDistribution: costs.nftApplyBaseNs,
          perCommandDistribution: costs.nftApplyPerElementNs,
        },
      },
      nftables: {
        // nftExpressionNs of the profile (kubeProxy.nftables.expressionCost pins it), at its median.
        expressionCostNs: medianNs(costs.nftExpressionNs),
        // nftSetLookupNs of the profile, at its median (nft lookups are charged as a constant).
        lookupCostNs: medianNs(costs.nftSetLookupNs),
        fullSyncPeriodNs: DURATION(k.nftables?.fullSyncPeriod ?? DEFAULTS.nftablesFullSyncPeriod),
      },
      conntrack: {
        max: ct.max ?? DEFAULTS.conntrackKernelMax,
        // An absolute max given alone keeps its value: kube-proxy then leaves nf_conntrack_max.
        maxPerCore: ct.maxPerCore ?? (ct.max !== undefined ? 0 : DEFAULTS.conntrackMaxPerCore),
        min: ct.min ?? DEFAULTS.conntrackMin,
        tcpBeLiberal: ct.tcpBeLiberal ?? DEFAULTS.conntrackTcpBeLiberal,
        tcpEstablishedTimeoutNs: DURATION(ct.tcpEstablishedTimeout ?? DEFAULTS.tcpEstablishedTimeout),
        tcpCloseWaitTimeoutNs: DURATION(ct.tcpCloseWaitTimeout ?? DEFAULTS.tcpCloseWaitTimeout),
        udpTimeoutNs: DURATION(ct.udpTimeout ?? DEFAULTS.udpTimeout),
        udpStreamTimeoutNs: DURATION(ct.udpStreamTimeout ?? DEFAULTS.udpStreamTimeout),
      },
      userspace: this.userspaceProxy(file),
      ipvs: this.ipvsSpec(k.ipvs ?? {}),
    }
  }

  /** kubeProxy.userspace (read whatever the mode; used by userspace mode only). */
  private userspaceProxy(file: ScenarioFile): UserspaceProxySpec {
    const u = file.kubeProxy?.userspace ?? {}
    const rangeText = u.proxyPortRange ?? DEFAULTS.userspaceProxyPortRange
    const range = parseProxyPortRange(rangeText)
    if (typeof range === "string") this.error(["kubeProxy", "userspace", "proxyPortRange"], range)
    const udpIdleTimeoutNs = DURATION(u.udpIdleTimeout ?? DEFAULTS.userspaceUdpIdleTimeout)
    if (udpIdleTimeoutNs === 0) this.error(["kubeProxy", "userspace", "udpIdleTimeout"], "must be greater than 0")
    return {
      proxyPortRange: typeof range === "string" ? null : range,
      udpIdleTimeoutNs,
      connectCostNs: DURATION(u.connectCost ?? DEFAULTS.userspaceConnectCost),
      copyCostPerMessageNs: DURATION(u.copyCost?.perMessage ?? DEFAULTS.userspaceCopyPerMessage),
      copyCostPerKiBNs: DURATION(u.copyCost?.perKiB ?? DEFAULTS.userspaceCopyPerKiB),
    }
  }

  /** kubeProxy.ipvs; timeouts go to ipvsadm --set in whole seconds (`int(d.Seconds())`, NewProxier). */
  private ipvsSpec(v: NonNullable<NonNullable<ScenarioFile["kubeProxy"]>["ipvs"]>): IpvsProxySpec {
    const seconds = (text: string | undefined): number => Math.floor(DURATION(text ?? DEFAULTS.ipvsTimeout) / 1e9)
    return {
      scheduler: v.scheduler ?? DEFAULTS.ipvsScheduler,
      strictARP: v.strictARP ?? DEFAULTS.ipvsStrictARP,
      tcpTimeoutS: seconds(v.tcpTimeout),
      tcpFinTimeoutS: seconds(v.tcpFinTimeout),
      udpTimeoutS: seconds(v.udpTimeout),
      excludeCIDRs: v.excludeCIDRs ?? [],
      syncCost: {
        fixedNs: DURATION(v.syncCost?.fixed ?? DEFAULTS.ipvsSyncFixed),
        perNetlinkOperationNs: DURATION(v.syncCost?.perOperation ?? DEFAULTS.ipvsSyncPerOperation),
        perObjectNs: DURATION(v.syncCost?.perObject ?? DEFAULTS.ipvsSyncPerObject),
      },
    }
  }

  /** The scenario failed to decode: check manifests against its node-port range if readable, else not at all. */
  manifestOptionsFromRaw(raw: object): void {
    const cluster = "cluster" in raw ? raw.cluster : undefined
    const text =
      typeof cluster === "object" && cluster !== null && "serviceNodePortRange" in cluster
        ? cluster.serviceNodePortRange
        : DEFAULTS.serviceNodePortRange
    const dns = "dns" in raw ? raw.dns : undefined
    const mode = typeof dns === "object" && dns !== null && "mode" in dns ? dns.mode : DEFAULTS.dnsMode
    this.manifestOptions = {
      nodePortRange: typeof text === "string" ? nodePortBounds(text) : null,
      dnsMode: mode === "static" ? "static" : "packets",
    }
  }

  /** Decodes a manifest source from an entry that may not have passed the scenario schema. */
  tryManifestSource(entry: object, path: Path): void {
    const record = entry as Record<string, unknown>
    if (typeof record.path === "string" || "inline" in record) {
      const namespace = typeof record.namespace === "string" ? record.namespace : undefined
      this.manifestSource(
        {
          ...(typeof record.path === "string" ? { path: record.path } : { inline: record.inline }),
          ...(namespace !== undefined ? { namespace } : {}),
        },
        path,
      )
    }
  }

  private manifestSource(entry: ManifestSourceEntry, path: Path): ManifestObject[] {
    if (entry.path !== undefined) {
      const resolved = normalize(join(dirname(this.file), entry.path))
      const key = `${resolved}\u0000${entry.namespace ?? ""}`
      const cached = this.manifestFiles.get(key)
      if (cached !== undefined) return cached.objects
      let text: string
      try {
        text = this.readFile(resolved)
      } catch (error) {
        this.error([...path, "path"], `cannot read manifest file ${resolved}: ${readErrorMessage(error)}`)
        return []
      }
      const yaml = parseYamlFile(resolved, text)
      this.issues.push(...yaml.issues)
      const objects: ManifestObject[] = []
      for (const document of yaml.documents) {
        const result = decodeManifest(document, [], document.value, entry.namespace, this.manifestOptions)
        this.issues.push(...result.issues)
        objects.push(...result.objects)
      }
      this.manifestFiles.set(key, { objects })
      yaml.release()
      return objects
    }
    const result = decodeManifest(this.doc, [...path, "inline"], entry.inline, entry.namespace, this.manifestOptions)
    this.issues.push(...result.issues)
    return result.objects
  }

  private workload(w: WorkloadEntry, index: number): WorkloadSpec {
    const at = (field: string): Path => ["workloads", index, field]
    const namespace = w.namespace ?? DEFAULTS.namespace
    const from = this.source(w.from, namespace, at("from"))
    const to = this.target(w.to, at("to"))
    let arrival: Arrival = { kind: "closedLoop", concurrency: 1 }
    if (w.arrival?.poisson !== undefined)
      arrival = { kind: "poisson", ratePerSecond: mustParse(parseRatePerSecond(w.arrival.poisson)) }
    else if (w.arrival?.every !== undefined) {
      const intervalNs = DURATION(w.arrival.every)
      if (intervalNs === 0) this.error([...at("arrival"), "every"], "must be greater than 0")
      arrival = { kind: "every", intervalNs }
    } else if (w.arrival?.closedLoop !== undefined) arrival = { kind: "closedLoop", concurrency: w.arrival.closedLoop }
    const timeoutNs = DURATION(w.timeout ?? DEFAULTS.timeout)
    if (timeoutNs === 0) this.error(at("timeout"), "must be greater than 0")
    const requestBytes = mustParse(parseBytes(w.requestBytes ?? DEFAULTS.requestBytes))
    // A TCP request is bytes on the stream (an HTTP GET is ~100): with none, the server never sees
    // a request. UDP and ICMP may carry an empty payload (an empty datagram, `ping -s 0`).
    if (requestBytes === 0 && (to.scheme === "http" || to.scheme === "tcp"))
      this.error(
        at("requestBytes"),
        `must be at least 1 for ${to.scheme}:// targets (a request is bytes on the connection)`,
      )
    const spec: WorkloadSpec = {
      name: w.name,
      from,
      to,
      arrival,
      count: w.count ?? null,
      startNs:
        w.start === undefined
          ? 0
          : typeof w.start === "string"
            ? DURATION(w.start)
            : w.start.at === undefined
              ? 0
              : DURATION(w.start.at),
      waitFor: w.start === undefined || typeof w.start === "string" ? "ready" : (w.start.waitFor ?? "ready"),
      durationNs: w.duration === undefined ? null : DURATION(w.duration),
      connection: w.connection ?? DEFAULTS.connection,
      requestBytes,
      responseBytes: mustParse(parseBytes(w.responseBytes ?? DEFAULTS.responseBytes)),
      timeoutNs,
      position: null,
    }
    return lazyPosition(spec, this.doc, ["workloads", index])
  }

  private source(text: string, namespace: string, path: Path): WorkloadSource {
    const m = /^(pod|deployment|node|external)\/([^/\s]+)$/.exec(text)
    if (m === null) {
      this.error(path, `invalid source "${text}": expected pod/NAME, deployment/NAME, node/NAME or external/NAME`)
      return { kind: "pod", name: text, namespace }
    }
    const kind = m[1] as WorkloadSource["kind"]
    if (kind === "node" || kind === "external") return { kind, name: m[2] }
    return { kind, name: m[2], namespace }
  }

  private target(text: string, path: Path): WorkloadTarget {
    const fallback: WorkloadTarget = { scheme: "http", host: text, port: DEFAULTS.httpPort, path: "/" }
    const bracketed = /^[a-z]+:\/\/\[([^\]]*)\]/.exec(text)
    if (bracketed !== null && isIpv6(bracketed[1])) {
      this.error(path, `invalid target "${text}": ${ipv6NotModelled(bracketed[1], "address")}`)
      return fallback
    }
    const m = /^([a-z]+):\/\/([^/:?#\s]+)(?::(\d+))?(\/[^\s]*)?$/.exec(text)
    if (m === null) {
      this.error(
        path,
        `invalid target "${text}": expected SCHEME://HOST[:PORT][/PATH], e.g. http://my-svc/, http://my-svc.my-ns:8080/path, udp://10.96.0.10:53, icmp://10.0.0.2, tcp://host:5432`,
      )
      return fallback
    }
    const scheme = m[1]
    const host = m[2]
    // A host of digits and dots is an address, never a name: a bad one is an error here, not an
    // "unresolved" failure at run time.
    if (/^[\d.]+$/.test(host)) {
      const address = parseAddress(host, "address")
      if (!address.ok) {
        this.error(path, `invalid target "${text}": ${address.message}`)
        return fallback
      }
    }
    const port = m[3] === undefined ? undefined : Number(m[3])
    if (port !== undefined && (port < 1 || port > 65535)) {
      this.error(path, `invalid target "${text}": port ${port} is not between 1 and 65535`)
      return fallback
    }
    switch (scheme) {
      case "http":
        return { scheme, host, port: port ?? DEFAULTS.httpPort, path: m[4] ?? "/" }
      case "tcp":
      case "udp":
        if (port === undefined) {
          this.error(path, `invalid target "${text}": ${scheme} needs a port (${scheme}://HOST:PORT)`)
          return fallback
        }
        if (m[4] !== undefined && m[4] !== "/")
          this.error(path, `invalid target "${text}": ${scheme} targets have no path`)
        return { scheme, host, port, path: "" }
      case "icmp":
        if (port !== undefined || (m[4] !== undefined && m[4] !== "/"))
          this.error(path, `invalid target "${text}": icmp targets have no port or path (icmp://HOST)`)
        return { scheme, host, port: 0, path: "" }
      default:
        this.error(path, `invalid target "${text}": unknown scheme "${scheme}" (expected http, tcp, udp or icmp)`)
        return fallback
    }
  }

  private timelineStep(step: TimelineEntry, index: number): TimelineStep {
    return lazyPosition(this.timelineStepAt(step, index), this.doc, ["timeline", index])
  }

  private timelineStepAt(step: TimelineEntry, index: number): TimelineStep {
    const path: Path = ["timeline", index]
    const atNs = DURATION(step.at)
    const position = null
    const namespace = step.namespace ?? DEFAULTS.namespace
    if (step.scale !== undefined) {
      if (step.replicas === undefined) this.error([...path, "scale"], "scale needs replicas: N")
      const m = /^(deployment|replicaset)\/([^/\s]+)$/.exec(step.scale)
      if (m === null)
        this.error(
          [...path, "scale"],
          `invalid scale target "${step.scale}": expected deployment/NAME or replicaset/NAME`,
        )
      return { atNs, action: { kind: "scale", target: step.scale, namespace, replicas: step.replicas ?? 0 }, position }
    }
    if (step.replicas !== undefined) this.error([...path, "replicas"], "replicas belongs to a scale step")
    if (step.delete !== undefined) {
      const m = /^(pod|deployment|replicaset|service|endpoints|endpointslice)\/([^/\s]+)$/.exec(step.delete)
      if (m === null)
        this.error(
          [...path, "delete"],
          `invalid delete target "${step.delete}": expected KIND/NAME with KIND pod, deployment, replicaset, service, endpoints or endpointslice`,
        )
      return { atNs, action: { kind: "delete", target: step.delete, namespace }, position }
    }
    if (step.failRestore !== undefined) {
      if (step.namespace !== undefined) this.error([...path, "namespace"], "a failRestore step has no namespace")
      return {
        atNs,
        action: { kind: "failRestore", node: step.failRestore.node, count: step.failRestore.count ?? 1 },
        position,
      }
    }
    if (step.nodeLocalDns !== undefined) {
      if (step.namespace !== undefined) this.error([...path, "namespace"], "a nodeLocalDns step has no namespace")
      return {
        atNs,
        action: { kind: "nodeLocalDns", node: step.nodeLocalDns.node ?? null, event: step.nodeLocalDns.event },
        position,
      }
    }
    if (step.namespace !== undefined)
      this.error(
        [...path, "namespace"],
        "the namespace of an apply step goes inside apply: (apply: {path: ..., namespace: ...})",
      )
    const objects = step.apply === undefined ? [] : this.manifestSource(step.apply, [...path, "apply"])
    return { atNs, action: { kind: "apply", objects }, position }
  }

  private expectation(entry: ExpectationEntry, index: number, workloadNames: readonly string[]): Expectation[] {
    const path: Path = ["expect", index]
    if (!workloadNames.includes(entry.workload))
      this.error([...path, "workload"], `no workload named "${entry.workload}"`)
    const out: Expectation[] = []
    const conditions: ExpectationCondition[] = [
      "completedAtLeast",
      "failedAtMost",
      "sentAtLeast",
      "p50Below",
      "p99Below",
      "meanBelow",
      "maxBelow",
      "jainAtLeast",
      "endpointsAtLeast",
      "endpointsAtMost",
      "completedAtMost",
      "failedAtLeast",
      "p99AtLeast",
      "maxAtLeast",
    ]
    let modes: (typeof entry.modes & object)[number][] | undefined
    if (entry.modes !== undefined) {
      if (entry.modes.length === 0) this.error([...path, "modes"], "expected at least one kube-proxy mode")
      const seen = new Set<string>()
      entry.modes.forEach((mode, i) => {
        if (seen.has(mode)) this.error([...path, "modes", i], `duplicate mode "${mode}"`)
        seen.add(mode)
      })
      modes = [...entry.modes]
    }
    for (const condition of conditions) {
      const raw = entry[condition]
      if (raw === undefined) continue
      const value = typeof raw === "string" ? DURATION(raw) : raw
      out.push({
        workload: entry.workload,
        condition,
        value,
        text: `${condition}: ${raw}`,
        position: null,
        ...(modes === undefined ? {} : { modes }),
      })
      lazyPosition(out[out.length - 1], this.doc, [...path, condition])
    }
    return out
  }

  private checkUnique(names: readonly string[], pathOf: (index: number) => Path, what: string): void {
    const seen = new Set<string>()
    names.forEach((name, index) => {
      if (seen.has(name)) this.error(pathOf(index), `duplicate ${what} name "${name}"`)
      seen.add(name)
    })
  }

  private checkReferences(
    workloads: readonly WorkloadSpec[],
    timeline: readonly TimelineStep[],
    objects: readonly ManifestObject[],
    cluster: ClusterSpec,
    externalNames: readonly string[],
    durationNs: number,
  ): void {
    const has = (kind: string, namespace: string, name: string): boolean =>
      objects.some(
        (o) =>
          o.object.kind === kind &&
          o.object.metadata.name === name &&
          (o.object.metadata.namespace ?? "default") === namespace,
      )
    const nodeNames = cluster.nodes.map((node) => node.name)
    workloads.forEach((w, index) => {
      const path: Path = ["workloads", index, "from"]
      const from = w.from
      switch (from.kind) {
        case "pod":
          if (!has("Pod", from.namespace, from.name)) {
            const viaDeployment =
              has("Deployment", from.namespace, from.name) || has("ReplicaSet", from.namespace, from.name)
            this.error(
              path,
              `no Pod "${from.name}" in namespace "${from.namespace}"${viaDeployment ? ` (to send from the replicas of Deployment ${from.name}, write deployment/${from.name})` : ""}`,
            )
          }
          break
        case "deployment":
          if (!has("Deployment", from.namespace, from.name))
            this.error(path, `no Deployment "${from.name}" in namespace "${from.namespace}"`)
          break
        case "node":
          if (!nodeNames.includes(from.name))
            this.error(path, `no node "${from.name}" (nodes: ${nodeNames.join(", ")})`)
          break
        case "external":
          if (!externalNames.includes(from.name))
            this.error(path, `no external host "${from.name}" (declare it under externalHosts:)`)
          break
      }
      if (w.startNs > durationNs)
        this.warning(["workloads", index, "start"], "starts after the scenario ends (duration)")
    })
    timeline.forEach((step, index) => {
      if (step.atNs > durationNs) this.warning(["timeline", index, "at"], "happens after the scenario ends (duration)")
      if (step.action.kind === "scale") {
        const m = /^(deployment|replicaset)\/(.+)$/.exec(step.action.target)
        if (m !== null) {
          const kind = m[1] === "deployment" ? "Deployment" : "ReplicaSet"
          if (!has(kind, step.action.namespace, m[2]))
            this.error(["timeline", index, "scale"], `no ${kind} "${m[2]}" in namespace "${step.action.namespace}"`)
        }
      }
      if (step.action.kind === "nodeLocalDns") {
        if (step.action.node !== null && !nodeNames.includes(step.action.node))
          this.error(
            ["timeline", index, "nodeLocalDns", "node"],
            `no node "${step.action.node}" (nodes: ${nodeNames.join(", ")})`,
          )
      }
      if (step.action.kind === "failRestore" && !nodeNames.includes(step.action.node)) {
        this.error(
          ["timeline", index, "failRestore", "node"],
          `no node "${step.action.node}" (nodes: ${nodeNames.join(", ")})`,
        )
      }
    })
  }

  /** Namespaces exist, objects are unique, Services select something. */
  private checkObjects(initial: readonly ManifestObject[], all: readonly ManifestObject[]): void {
    const namespaces = new Set(all.filter((o) => o.object.kind === "Namespace").map((o) => o.object.metadata.name))
    const seen = new Map<string, ManifestObject>()
    for (const entry of initial) {
      const meta = entry.object.metadata
      const id = `${entry.object.kind}/${meta.namespace ?? ""}/${meta.name}`
      if (seen.has(id))
        this.issues.push({
          severity: "warning",
          path: ["metadata", "name"],
          message: `${entry.object.kind} ${meta.name} is declared twice; the later one replaces the earlier (kubectl apply)`,
          position: entry.locate(["metadata", "name"]),
        })
      seen.set(id, entry)
    }
    const podLabels = podLabelIndex(all)
    for (const entry of all) {
      const object = entry.object
      const namespace = object.metadata.namespace
      if (namespace !== undefined && !isBuiltinNamespace(namespace) && !namespaces.has(namespace)) {
        this.issues.push({
          severity: "error",
          path: ["metadata", "namespace"],
          message: `namespaces "${namespace}" not found (add a Namespace manifest)`,
          position: entry.locate(["metadata", "namespace"]),
        })
      }
      if (
        object.kind !== "Service" ||
        object.spec.selector === undefined ||
        Object.keys(object.spec.selector).length === 0
      )
        continue
      const selector = object.spec.selector
      // Only label sets carrying the selector's first pair can match: a lookup, not a scan of every
      // object per Service (10,000 Services x 20,000 objects was minutes).
      const [firstKey] = Object.keys(selector)
      const candidates =
        podLabels
          .get(namespace ?? "default")
          ?.get(firstKey)
          ?.get(selector[firstKey]) ?? []
      const matches = candidates.some((labels) => matchesServiceSelector(selector, labels))
      if (!matches) {
        const text = formatLabels(selector)
        this.issues.push({
          severity: "warning",
          path: ["spec", "selector"],
          message: `Service ${object.metadata.name} selects ${text} but no Pod or Deployment template in namespace "${namespace ?? "default"}" has these labels (it will have no endpoints)`,
          position: entry.locate(["spec", "selector"]),
        })
      }
    }
  }
}

/**
 * Pods' labels and Deployment/ReplicaSet pod-template labels by namespace, label key and value:
 * the label sets a Service selector containing that pair may match.
 */
function podLabelIndex(all: readonly ManifestObject[]): Map<string, Map<string, Map<string, Labels[]>>> {
  const index = new Map<string, Map<string, Map<string, Labels[]>>>()
  for (const entry of all) {
    const o = entry.object
    const labels =
      o.kind === "Pod"
        ? o.metadata.labels
        : o.kind === "Deployment" || o.kind === "ReplicaSet"
          ? o.spec.template.metadata?.labels
          : undefined
    if (labels === undefined) continue
    const namespace = o.metadata.namespace ?? "default"
    let byKey = index.get(namespace)
    if (byKey === undefined) index.set(namespace, (byKey = new Map()))
    for (const key of Object.keys(labels)) {
      let byValue = byKey.get(key)
      if (byValue === undefined) byKey.set(key, (byValue = new Map()))
      const value = labels[key]
      const list = byValue.get(value)
      if (list === undefined) byValue.set(value, [labels])
      else list.push(labels)
    }
  }
  return index
}

/**
 * Makes `target.position` (already a key, so the key order is unchanged) the position of `path`,
 * computed when first read: a position costs a parse of the text with positions (source.ts), which
 * a run whose workloads, steps and expectations all behave never needs.
 */
function lazyPosition<T extends { readonly position: SourcePosition | null }>(
  target: T,
  doc: YamlDocument,
  path: Path,
): T {
  Object.defineProperty(target, "position", {
    enumerable: true,
    configurable: true,
    get(): SourcePosition {
      const position = doc.locate(path)
      Object.defineProperty(target, "position", { value: position, enumerable: true, configurable: true })
      return position
    },
  })
  return target
}
