/**
 * `kube-netsim calibrate`: measures this machine's kernel in network namespaces it creates
 * (netns.ts) and returns a calibration profile (profile.ts). The load generator is probe.c,
 * compiled with gcc at run time: a native UDP ping-pong for latencies and a native send loop for
 * per-packet CPU costs, so no interpreter sits in what is measured.
 *
 * Methods (each recorded in the profile's `method`; MODEL.md "Calibration" explains them):
 * - latencies: UDP echo round trips (CLOCK_MONOTONIC around send..receive, one echo at a time)
 *   over loopback (L, client and server in one namespace), one veth pair between two namespaces
 *   (V) and two namespaces on a bridge in a third (B, two veth hops and one bridge hop per way).
 *   hostStack = L/2 (the sockets' send and receive path, which the simulator's links do not
 *   include); vethHop = (V - L)/2; bridgeHop = (B - 2V + L)/2. The subtraction is done quantile by
 *   quantile (it assumes the parts are comonotone), clamped to >= 0 and kept non-decreasing.
 * - per-packet costs: the CPU time (CLOCK_PROCESS_CPUTIME_ID) of a loop sending N datagrams
 *   through a namespace's OUTPUT and POSTROUTING hooks into a veth whose peer is down (the
 *   driver frees them: no receive path), divided by N, minimum over repetitions. nft per-rule
 *   costs are the least-squares slope over the number of rules K; conntrack and nft costs are
 *   differences between two rule sets that differ in one thing.
 * - iptables per-rule costs, as ../shared/reference/kernel-calibration.md measured them (one
 *   packet at a time): filter = slope over K of the median ICMP echo RTT (echoes 2 ms apart, K
 *   rules in the receiver's INPUT); nat = slope over K of the median new-flow UDP echo RTT (K
 *   kube-proxy-shaped KUBE-SERVICES rules in the receiver's PREROUTING; the reference's DNAT
 *   rules as a cross-check). The send-loop slopes are recorded as warm-cache controls. Echo
 *   clients and servers are pinned to one CPU (pinnedArgv).
 * - sync: wall time of `iptables-restore FILE` / `nft -f FILE` (fork + exec + exit, as kube-proxy
 *   runs them) against kube-proxy-shaped tables of growing size; fixed + per-rule by least squares.
 */
import { execFileSync } from "node:child_process"
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { cpus, loadavg, tmpdir } from "node:os"
import { join } from "node:path"
import { findTool, NamespaceSet, removeStaleNamespaces } from "./netns.ts"
import type { CalibrationProfile, ProfileParameter } from "./profile.ts"

/** A reason the calibration cannot run here (exit 2, no stack trace). */
export class CalibrationUnavailable extends Error {}

export interface CalibrateOptions {
  readonly quick: boolean
  /** Progress lines (stderr). */
  readonly progress: (line: string) => void
  /** YYYY-MM-DD of the run (the CLI passes the wall clock's date). */
  readonly date: string
}

/** How much to measure: --quick fits in well under a minute on a busy 2-core VM. */
interface Plan {
  readonly pingCount: number
  readonly pingWarmup: number
  readonly reps: number
  /** Rule counts K for the per-rule fits (iptables filter and nat, nft shapes). */
  readonly ruleCounts: readonly number[]
  /** Datagrams per blast at K rules: enough for ~0.1-0.3 s of CPU at any K. */
  readonly blastCount: (rules: number) => number
  /** Services of the kube-proxy-shaped tables for the sync fits. */
  readonly syncServices: readonly number[]
  /** New-flow echoes per rule count for the sparse nat fit. */
  readonly sparseCount: number
  /** ICMP echoes per rule count for the sparse filter fit (kernel-calibration.md section 1). */
  readonly icmpCount: number
}

const QUICK: Plan = {
  pingCount: 3_000,
  pingWarmup: 200,
  reps: 2,
  ruleCounts: [0, 500, 1_000, 2_000],
  blastCount: (k) => Math.max(1_000, Math.min(30_000, Math.round(80_000 / (1 + k / 40)))),
  syncServices: [10, 250, 1_000],
  sparseCount: 300,
  icmpCount: 150,
}

const FULL: Plan = {
  pingCount: 20_000,
  pingWarmup: 1_000,
  reps: 5,
  ruleCounts: [0, 1_000, 2_500, 5_000, 10_000],
  blastCount: (k) => Math.max(2_000, Math.min(200_000, Math.round(600_000 / (1 + k / 40)))),
  syncServices: [10, 250, 1_000, 2_500, 5_000],
  sparseCount: 1_000,
  icmpCount: 400,
}

/** Idle time between two sparse ICMP echoes: kernel-calibration.md's `ping -i 0.002`. */
const ICMP_GAP_US = 2_000

/**
 * The echo client and server run pinned to one CPU (taskset, when installed): a same-node echo's
 * whole path (client, veth/bridge softirq, server) then runs on that CPU, as the kernel validation
 * test runs it, instead of depending on cross-CPU wake-ups, which on a shared VM's vCPUs make the
 * medians bimodal (bench/calibration/nat-walk.ts PIN=0 against unpinned: MODEL.md "Calibration").
 */
function pinnedArgv(probe: string, args: readonly string[]): [string, string[]] {
  return findTool("taskset") === undefined ? [probe, [...args]] : ["taskset", ["-c", "0", probe, ...args]]
}
const PIN_NOTE = "client and server pinned to CPU 0 with taskset"

/** Quantile levels written for empirical distributions. */
const LEVELS: readonly (readonly [string, number])[] = [
  ["p0", 0],
  ["p10", 0.1],
  ["p50", 0.5],
  ["p90", 0.9],
  ["p99", 0.99],
  ["p999", 0.999],
  ["p100", 1],
]

/** Linear-interpolated quantile of an ascending array. */
export function quantileOfSorted(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN
  const pos = q * (sorted.length - 1)
  const lo = Math.floor(pos)
  const hi = Math.ceil(pos)
  const a = sorted[lo] ?? 0
  const b = sorted[hi] ?? a
  return a + (b - a) * (pos - lo)
}

export interface LinearFit {
  readonly interceptNs: number
  readonly slopeNs: number
  readonly r2: number
  readonly points: readonly (readonly [number, number])[]
}

/** Least squares y = a + b x. */
export function fitLine(points: readonly (readonly [number, number])[]): LinearFit {
  const n = points.length
  const mx = points.reduce((s, [x]) => s + x, 0) / n
  const my = points.reduce((s, [, y]) => s + y, 0) / n
  let sxy = 0
  let sxx = 0
  let syy = 0
  for (const [x, y] of points) {
    sxy += (x - mx) * (y - my)
    sxx += (x - mx) ** 2
    syy += (y - my) ** 2
  }
  const slope = sxx === 0 ? 0 : sxy / sxx
  const r2 = sxx === 0 || syy === 0 ? 1 : (sxy * sxy) / (sxx * syy)
  return { interceptNs: my - slope * mx, slopeNs: slope, r2, points }
}

function describeFit(fit: LinearFit, xName: string, unit = "ns"): string {
  const pts = fit.points.map(([x, y]) => `${x}:${Math.round(y)}`).join(", ")
  return `least squares ${Math.round(fit.interceptNs)} ${unit} + ${fit.slopeNs.toFixed(2)} ${unit} x ${xName} (r2 ${fit.r2.toFixed(3)}; ${xName}:${unit} ${pts})`
}

/**
 * Quantile-wise combination of sample sets, clamped >= 0 and non-decreasing (see the header).
 * A difference of separate runs is only meaningful where many samples back both quantiles and the
 * runs' noise is small against the difference: for a combination of several sets the levels above
 * p90 are not differenced but set to p90 (the tail of each run is scheduling noise, tens of us
 * against sub-us hops on an idle-ish machine; hostStackNs carries it).
 */
function combineQuantiles(
  parts: readonly (readonly [number, readonly number[]])[],
  divisor: number,
  minusNs = 0,
): Record<string, number> {
  const out: Record<string, number> = {}
  let previous = 0
  for (const [name, q] of LEVELS) {
    let v = 0
    for (const [weight, sorted] of parts) v += weight * quantileOfSorted(sorted, q)
    v = q > 0.9 && parts.length > 1 ? previous : Math.max(previous, Math.max(0, Math.round(v / divisor - minusNs)))
    out[name] = v
    previous = v
  }
  return out
}

export interface CalibrationRow {
  readonly parameter: string
  readonly value: string
  readonly detail: string
}

export interface CalibrationResult {
  readonly profile: CalibrationProfile
  /** Raw figures for the table (RTTs, fits), in measurement order. */
  readonly rows: readonly CalibrationRow[]
}

/** Why calibrate cannot run here, or undefined when it can. */
export function calibrationUnavailable(): string | undefined {
  if (process.platform !== "linux") return `platform is ${process.platform}: network namespaces need Linux`
  if (typeof process.getuid === "function" && process.getuid() !== 0)
    return "needs root (network namespaces, iptables and nft need CAP_NET_ADMIN): run it with sudo"
  const tools: readonly (readonly [string, string])[] = [
    ["ip", "iproute2"],
    ["iptables-restore", "iptables"],
    ["iptables", "iptables"],
    ["nft", "nftables"],
    ["conntrack", "conntrack"],
    ["gcc", "gcc"],
  ]
  const missing = tools.filter(([tool]) => findTool(tool) === undefined)
  if (missing.length > 0)
    return `missing ${missing.map(([t]) => t).join(", ")} (apt-get install ${[...new Set(missing.map(([, p]) => p))].join(" ")})`
  return undefined
}

function toolVersion(cmd: string, args: readonly string[]): string {
  try {
    return execFileSync(cmd, args, { stdio: "pipe", timeout: 10_000 }).toString().trim()
  } catch {
    return "unknown"
  }
}

function hostDescription(): string {
  const list = cpus()
  let model = list[0]?.model ?? "unknown CPU"
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(readFileSync("/proc/cpuinfo", "utf8"))
    if (m?.[1] !== undefined) model = m[1].trim()
  } catch {
    // cpus() already gave a model.
  }
  let virt = ""
  try {
    if (/^flags\s*:.*\bhypervisor\b/m.test(readFileSync("/proc/cpuinfo", "utf8"))) virt = ", virtual machine"
  } catch {
    // Unknown: say nothing.
  }
  // The load average says how much the machine's other work may have disturbed the figures.
  return `${model}, ${list.length} CPUs${virt}, load average ${(loadavg()[0] ?? 0).toFixed(1)} at the start`
}

/** Runs the whole calibration; throws CalibrationUnavailable when it cannot run here. */
export async function calibrate(options: CalibrateOptions): Promise<CalibrationResult> {
  const reason = calibrationUnavailable()
  if (reason !== undefined) throw new CalibrationUnavailable(reason)
  const plan = options.quick ? QUICK : FULL
  const say = options.progress
  removeStaleNamespaces()
  const dir = mkdtempSync(join(tmpdir(), "kube-netsim-calibrate-"))
  const nss = new NamespaceSet()
  try {
    const probe = join(dir, "probe")
    try {
      execFileSync("gcc", ["-O2", "-o", probe, join(import.meta.dirname, "probe.c")], { stdio: "pipe" })
    } catch (err) {
      throw new CalibrationUnavailable(
        `gcc cannot build the load generator: ${String((err as { stderr?: unknown }).stderr ?? err).trim()}`,
      )
    }
    const iptablesVersion = toolVersion("iptables", ["--version"])
    const nftVersion = toolVersion("nft", ["--version"])
    const kernel = toolVersion("uname", ["-r"])
    const rows: CalibrationRow[] = []
    const parameters: Record<string, ProfileParameter> = {}
    const host = hostDescription()
    const source = `kube-netsim calibrate${options.quick ? " --quick" : ""}, ${options.date}, kernel ${kernel}, ${host}`

    // --- Latencies -------------------------------------------------------------------------
    say("latency: loopback, veth pair, bridge (UDP ping-pong)")
    const lat = await measureLatencies(nss, probe, plan)
    const rtt = (name: string, s: readonly number[]) =>
      rows.push({
        parameter: `RTT ${name}`,
        value: `${us(quantileOfSorted(s, 0.5))} p50`,
        detail: `p0 ${us(s[0] ?? 0)}, p90 ${us(quantileOfSorted(s, 0.9))}, p99 ${us(quantileOfSorted(s, 0.99))}, max ${us(s[s.length - 1] ?? 0)} (${s.length} echoes)`,
      })
    rtt("loopback (one namespace)", lat.loopback)
    rtt("veth pair (two namespaces)", lat.veth)
    rtt("bridge (two pods on one bridge)", lat.bridge)
    rows.push({
      parameter: "veth RTT / 2",
      value: `${us(quantileOfSorted(lat.veth, 0.5) / 2)} p50`,
      detail: `p0 ${us((lat.veth[0] ?? 0) / 2)}, mean ${us(lat.veth.reduce((a, b) => a + b, 0) / lat.veth.length / 2)}: the one-way figure with both sockets included (kernel-calibration.md's convention)`,
    })
    const pingMethod = `UDP echo round trips with a native client and server (probe.c ping/echo, one 32-byte datagram at a time, CLOCK_MONOTONIC around send..receive, ${plan.pingCount} echoes after ${plan.pingWarmup} warm-up, ${PIN_NOTE}), loopback L (one namespace), veth pair V (two namespaces), bridge B (two namespaces with veths on a bridge in a third, with br_netfilter on and an empty nat table there, as on a Kubernetes node)`
    const quantileNote = "quantile by quantile (assumes the parts are comonotone), clamped >= 0 and non-decreasing"
    parameters.hostStackNs = {
      distribution: { kind: "empirical", quantiles: combineQuantiles([[1, lat.loopback]], 2) },
      source,
      method: `${pingMethod}; hostStack = L / 2: one way's socket send + receive (syscalls, IP output/input, receiver wake-up), which the simulator's links do not include`,
    }
    parameters.vethHopNs = {
      distribution: {
        kind: "empirical",
        quantiles: combineQuantiles(
          [
            [1, lat.veth],
            [-1, lat.loopback],
          ],
          2,
        ),
      },
      source,
      method: `${pingMethod}; vethHop = (V - L) / 2, ${quantileNote}, p99, p999 and p100 = p90 (the tail is scheduling noise of the separate runs; hostStackNs carries it)`,
    }
    // --- Per-packet costs ------------------------------------------------------------------
    const blastMethod = (what: string) =>
      `CPU time per datagram (CLOCK_PROCESS_CPUTIME_ID around a native loop of N 16-byte UDP sends through OUTPUT and POSTROUTING into a veth whose peer is down; probe.c blast; minimum of ${plan.reps} runs; conntrack: ${2 * plan.reps} runs alternating with the comparison chain) ${what}`
    say("conntrack: lookup and new entry (nft chain with and without a ct expression)")
    const ct = await measureConntrack(nss, probe, plan)
    rows.push({
      parameter: "send path, no conntrack",
      value: `${Math.round(ct.plainSame)} ns`,
      detail: `per datagram; new 5-tuple each: ${Math.round(ct.plainNew)} ns`,
    })
    rows.push({
      parameter: "send path, conntrack",
      value: `${Math.round(ct.ctSame)} ns`,
      detail: `per datagram of one flow; new 5-tuple each: ${Math.round(ct.ctNew)} ns`,
    })
    const lookupNs = Math.max(0, ct.ctSame - ct.plainSame)
    const newNs = Math.max(0, ct.ctNew - ct.plainNew - lookupNs)
    parameters.conntrackLookupNs = {
      distribution: { kind: "fixed", valueNs: Math.round(lookupNs) },
      source,
      method: `${blastMethod("with an output chain holding `ct state new,established counter` (conntrack on) minus the same chain holding `meta l4proto udp counter` (no conntrack), one destination (every datagram after the first hits its entry)")}: ${Math.round(ct.ctSame)} - ${Math.round(ct.plainSame)} ns`,
    }
    parameters.conntrackNewNs = {
      distribution: { kind: "fixed", valueNs: Math.round(newNs) },
      source,
      method: `${blastMethod("as conntrackLookupNs but every datagram to a new destination address/port (a new entry created and confirmed each), minus the lookup cost (the simulator charges a lookup on every packet and this on top for a new one)")}: ${Math.round(ct.ctNew)} - ${Math.round(ct.plainNew)} - ${Math.round(lookupNs)} ns`,
    }

    parameters.bridgeHopNs = {
      distribution: {
        kind: "empirical",
        quantiles: combineQuantiles(
          [
            [1, lat.bridge],
            [-2, lat.veth],
            [1, lat.loopback],
          ],
          2,
          lookupNs,
        ),
      },
      source,
      method: `${pingMethod}; bridgeHop = (B - 2V + L) / 2 - conntrackLookupNs (B crosses two veth hops and one bridge hop each way; the node's conntrack lookup is charged by the simulator separately), ${quantileNote}, p99, p999 and p100 = p90 (the tail is scheduling noise of the separate runs; hostStackNs carries it)`,
    }

    say(`iptables: ${iptablesVersion}; filter rules per packet (K = ${plan.ruleCounts.join(", ")})`)
    const filterFit = await measureIptablesRules(nss, probe, plan, "filter")
    rows.push({
      parameter: "iptables filter fit (warm send loop)",
      value: `${filterFit.slopeNs.toFixed(1)} ns/rule`,
      detail: describeFit(filterFit, "K"),
    })
    say(`iptables: filter rules per packet, sparse ICMP echoes (K = ${plan.ruleCounts.join(", ")})`)
    const filterSparse = await measureFilterSparse(nss, probe, plan)
    const slope = (f: LinearFit) => `${f.slopeNs.toFixed(1)}`
    rows.push({
      parameter: "iptables filter fit (sparse)",
      value: `${filterSparse.p50.slopeNs.toFixed(1)} ns/rule`,
      detail: `ICMP echo RTT p50 over K (${describeFit(filterSparse.p50, "K")}); slopes of min ${slope(filterSparse.min)}, p10 ${slope(filterSparse.p10)}, p90 ${slope(filterSparse.p90)}, mean ${slope(filterSparse.mean)} ns/rule`,
    })
    parameters.iptablesFilterRuleNs = {
      distribution: { kind: "fixed", valueNs: Math.max(0, Math.round(filterSparse.p50.slopeNs)) },
      source: `${source}, ${iptablesVersion}`,
      method: `kernel-calibration.md's method 1, natively: ICMP echo round trips (probe.c icmp: ${plan.icmpCount} 64-byte echoes one at a time, ${ICMP_GAP_US} us apart as \`ping -i 0.002\`, answered by the peer's kernel, ${PIN_NOTE}) between two namespaces joined by a veth pair, with K non-matching rules \`-A INPUT -s 10.200.X.Y/32 -p tcp --dport 80 -j DROP\` in the receiver's filter INPUT (iptables-restore); per-rule = slope of the median RTT, ${describeFit(filterSparse.p50, "K")}; slopes of the other statistics (the reference gives min and avg): min ${slope(filterSparse.min)}, p10 ${slope(filterSparse.p10)}, p90 ${slope(filterSparse.p90)}, mean ${slope(filterSparse.mean)} ns/rule. Warm-cache control: ${blastMethod("with K rules `-A OUTPUT -d 10.200.X.Y/32 -p tcp --dport 80 -j DROP` in filter (conntrack on through an empty nat table; one flow)")}: ${filterFit.slopeNs.toFixed(1)} ns/rule, ${describeFit(filterFit, "K")}`,
    }
    say(`iptables: nat rules per new flow (K = ${plan.ruleCounts.join(", ")})`)
    const natFit = await measureIptablesRules(nss, probe, plan, "nat")
    const natSameFit = await measureIptablesRules(
      nss,
      probe,
      { ...plan, ruleCounts: [0, plan.ruleCounts[plan.ruleCounts.length - 1] ?? 0] },
      "nat-established",
    )
    rows.push({
      parameter: "iptables nat fit (new flows)",
      value: `${natFit.slopeNs.toFixed(1)} ns/rule`,
      detail: describeFit(natFit, "K"),
    })
    rows.push({
      parameter: "iptables nat (established)",
      value: `${natSameFit.slopeNs.toFixed(2)} ns/rule`,
      detail: `control: one flow's later packets skip nat (${describeFit(natSameFit, "K")})`,
    })
    say(`iptables: nat rules per new flow, sparse echoes (K = ${plan.ruleCounts.join(", ")})`)
    const natSparse = await measureNatSparse(nss, probe, plan, "kube-proxy")
    say(`iptables: kernel-calibration.md's DNAT rules per new flow, sparse echoes (K = ${plan.ruleCounts.join(", ")})`)
    const natReference = await measureNatSparse(nss, probe, plan, "reference")
    rows.push({
      parameter: "iptables nat fit (sparse)",
      value: `${natSparse.slopeNs.toFixed(1)} ns/rule`,
      detail: `new-flow echo RTT p50 over K (${describeFit(natSparse, "K")})`,
    })
    rows.push({
      parameter: "iptables nat fit (DNAT rules)",
      value: `${natReference.slopeNs.toFixed(1)} ns/rule`,
      detail: `kernel-calibration.md's rule shape, same method (${describeFit(natReference, "K")})`,
    })
    parameters.iptablesNatRuleNs = {
      distribution: { kind: "fixed", valueNs: Math.max(0, Math.round(natSparse.slopeNs)) },
      source: `${source}, ${iptablesVersion}`,
      method: `median round trip of ${plan.sparseCount} UDP echoes, each from a new socket (a new flow), ${PIN_NOTE}, between two namespaces joined by a veth pair, with K Services' kube-proxy-shaped nat rules in the server (KUBE-SERVICES, jumped to from PREROUTING, holds per Service \`-m comment --comment "ns/svcN:http cluster IP" -m tcp -p tcp -d 172.30.X.Y --dport 80 -j KUBE-SVC-...\`, none matching the UDP echo; the KUBE-SVC / KUBE-SEP chains exist as kube-proxy writes them) (conntrack -F before each K; only the request walks the chain, the reply belongs to its entry); per-rule = slope of the ${describeFit(natSparse, "K")}. This is the cost one packet at a time pays (between two walks the client, the server and the softirq work run on the CPU); the warm-cache figure of a tight send loop is ${natFit.slopeNs.toFixed(1)} ns/rule (${blastMethod("with the same rules in nat OUTPUT, every datagram a new flow")}: ${describeFit(natFit, "K")}); control with one flow: ${natSameFit.slopeNs.toFixed(2)} ns/rule; kernel-calibration.md's own rules (\`-A PREROUTING -d 10.201.X.Y/32 -p udp --dport 9000 -j DNAT --to-destination ...\`, a DNAT target in every rule) by the same method: ${natReference.slopeNs.toFixed(1)} ns/rule, ${describeFit(natReference, "K")}`,
    }

    say(`nftables: ${nftVersion}; expression and set lookup costs`)
    const nft = await measureNft(nss, probe, plan)
    rows.push({
      parameter: "nft cmp rules fit",
      value: `${nft.cmp.slopeNs.toFixed(1)} ns/rule`,
      detail: describeFit(nft.cmp, "K"),
    })
    rows.push({
      parameter: "nft vmap rules fit",
      value: `${nft.vmap.slopeNs.toFixed(1)} ns/rule`,
      detail: describeFit(nft.vmap, "K"),
    })
    const expressionNs = Math.max(0, nft.cmp.slopeNs / 2)
    const setLookupNs = Math.max(0, nft.vmap.slopeNs - 3 * expressionNs)
    parameters.nftExpressionNs = {
      distribution: { kind: "fixed", valueNs: Math.round(expressionNs) },
      source: `${source}, ${nftVersion}`,
      method: `${blastMethod("with K rules `ip daddr 10.9.X.Y counter` in an output chain (2 expressions evaluated each: payload load, cmp that fails)")}; per expression = slope / 2, ${describeFit(nft.cmp, "K")}`,
    }
    parameters.nftSetLookupNs = {
      distribution: { kind: "fixed", valueNs: Math.round(setLookupNs) },
      source: `${source}, ${nftVersion}`,
      method: `${blastMethod("with K rules `ip daddr . meta l4proto . th dport vmap @m` (kube-proxy's service-ips shape; m holds 1,000 elements none of which matches) in an output chain (4 expressions each: payload, meta, payload, lookup)")}; lookup = slope - 3 x nftExpressionNs, ${describeFit(nft.vmap, "K")}`,
    }

    // --- Sync ------------------------------------------------------------------------------
    say(`sync: iptables-restore and nft -f of kube-proxy-shaped tables (${plan.syncServices.join(", ")} Services)`)
    const sync = await measureSync(nss, probe, plan, dir)
    rows.push({
      parameter: "iptables-restore fit",
      value: `${ms(sync.restore.interceptNs)} + ${sync.restore.slopeNs.toFixed(0)} ns/rule`,
      detail: describeFit(sync.restore, "rules"),
    })
    rows.push({
      parameter: "nft -f fit",
      value: `${ms(sync.nft.interceptNs)} + ${sync.nft.slopeNs.toFixed(0)} ns/command`,
      detail: describeFit(sync.nft, "commands"),
    })
    const syncMethod = (tool: string, shape: string) =>
      `wall time of \`${tool}\` (fork + exec + exit, probe.c time) in a fresh namespace, ${shape}; fixed part and per-rule slope by least squares over the two smallest of ${plan.syncServices.join(", ")} Services (the time grows superlinearly with the table; every point is listed)`
    const restoreShape =
      "kube-proxy-shaped nat table (per Service: a KUBE-SERVICES rule, a KUBE-SVC chain with one jump, a KUBE-SEP chain with MARK and DNAT: 4 rules, 2 chains), restored twice; the second restore (replacing an identical table, kube-proxy's steady state) is the figure"
    parameters.iptablesRestoreBaseNs = {
      distribution: { kind: "fixed", valueNs: Math.max(0, Math.round(sync.restore.interceptNs)) },
      source: `${source}, ${iptablesVersion}`,
      method: `${syncMethod("iptables-restore FILE", restoreShape)}: ${describeFit(sync.restore, "rules")}`,
    }
    parameters.iptablesRestorePerRuleNs = {
      distribution: { kind: "fixed", valueNs: Math.max(0, Math.round(sync.restore.slopeNs)) },
      source: `${source}, ${iptablesVersion}`,
      method: `slope of the iptablesRestoreBaseNs fit (input lines = 1.5 x rules + 3, so per-line parsing is included)`,
    }
    const nftShape =
      "kube-proxy-nftables-shaped transaction into an empty table (per Service: 2 chains, 4 rules, 1 service-ips verdict-map element: 7 commands)"
    parameters.nftApplyBaseNs = {
      distribution: { kind: "fixed", valueNs: Math.max(0, Math.round(sync.nft.interceptNs)) },
      source: `${source}, ${nftVersion}`,
      method: `${syncMethod("nft -f FILE", nftShape)}: ${describeFit(sync.nft, "commands")}`,
    }
    parameters.nftApplyPerElementNs = {
      distribution: { kind: "fixed", valueNs: Math.max(0, Math.round(sync.nft.slopeNs)) },
      source: `${source}, ${nftVersion}`,
      method: `slope of the nftApplyBaseNs fit, per command of the transaction (chain, rule or element)`,
    }

    const profile: CalibrationProfile = {
      name: `calibrated-${kernel}-${options.date}`,
      date: options.date,
      kernel,
      tools: { iptables: iptablesVersion, nft: nftVersion },
      host,
      parameters,
    }
    return { profile, rows }
  } finally {
    await nss.teardown()
    rmSync(dir, { recursive: true, force: true })
  }
}

function us(ns: number): string {
  return `${(ns / 1000).toFixed(1)} us`
}

function ms(ns: number): string {
  return `${(ns / 1e6).toFixed(2)} ms`
}

interface Latencies {
  readonly loopback: readonly number[]
  readonly veth: readonly number[]
  readonly bridge: readonly number[]
}

async function ping(nss: NamespaceSet, ns: string, probe: string, ip: string, plan: Plan): Promise<number[]> {
  const [cmd, args] = pinnedArgv(probe, ["ping", ip, "7000", String(plan.pingCount), "same", String(plan.pingWarmup)])
  const out = await nss.mustExec(ns, cmd, args)
  const values = out
    .split("\n")
    .filter((l) => l !== "")
    .map(Number)
  const lost = values.filter((v) => v < 0).length
  if (lost > values.length / 100)
    throw new Error(`${lost} of ${values.length} echoes to ${ip} were lost: the namespaces are not working`)
  return values.filter((v) => v >= 0).sort((a, b) => a - b)
}

async function measureLatencies(nss: NamespaceSet, probe: string, plan: Plan): Promise<Latencies> {
  const [a, b, n, c, d] = await Promise.all(["a", "b", "node", "c", "d"].map((x) => nss.add(x)))
  if (a === undefined || b === undefined || n === undefined || c === undefined || d === undefined)
    throw new Error("namespace creation failed")
  await nss.ip(a, [
    `link add eth0 type veth peer name eth0 netns ${b}`,
    "addr add 10.250.0.1/30 dev eth0",
    "link set eth0 up",
  ])
  await nss.ip(b, ["addr add 10.250.0.2/30 dev eth0", "link set eth0 up"])
  // The bridge as on a Kubernetes node: br_netfilter hands bridged frames to iptables
  // (bridge-nf-call-iptables=1, which Kubernetes requires) and the node has tables (an empty nat
  // table: conntrack runs on every frame). The conntrack lookup is subtracted afterwards (the
  // simulator charges it separately); the br_netfilter detour stays in the bridge hop.
  await nss.mustExec(n, "sysctl", ["-q", "-w", "net.bridge.bridge-nf-call-iptables=1"])
  await nss.mustExec(n, "iptables-restore", [], "*nat\n:PREROUTING ACCEPT [0:0]\nCOMMIT\n")
  await nss.ip(n, [
    "link add br0 type bridge",
    "link set br0 up",
    `link add vc type veth peer name eth0 netns ${c}`,
    `link add vd type veth peer name eth0 netns ${d}`,
    "link set vc master br0",
    "link set vd master br0",
    "link set vc up",
    "link set vd up",
  ])
  await nss.ip(c, ["addr add 10.250.1.2/24 dev eth0", "link set eth0 up"])
  await nss.ip(d, ["addr add 10.250.1.3/24 dev eth0", "link set eth0 up"])
  await nss.startServer(b, ...pinnedArgv(probe, ["echo", "10.250.0.2", "7000"]))
  await nss.startServer(d, ...pinnedArgv(probe, ["echo", "10.250.1.3", "7000"]))
  // Interleaved rounds so that a burst of load on the shared machine touches every path alike.
  const rounds = 3
  const per = { ...plan, pingCount: Math.ceil(plan.pingCount / rounds) }
  const loopback: number[] = []
  const veth: number[] = []
  const bridge: number[] = []
  for (let i = 0; i < rounds; i++) {
    loopback.push(...(await ping(nss, b, probe, "10.250.0.2", per)))
    veth.push(...(await ping(nss, a, probe, "10.250.0.2", per)))
    bridge.push(...(await ping(nss, c, probe, "10.250.1.3", per)))
  }
  const sort = (x: number[]) => x.sort((p, q) => p - q)
  return { loopback: sort(loopback), veth: sort(veth), bridge: sort(bridge) }
}

/** A namespace whose 10.99.0.0/16 leads into a veth with its peer down (frames freed at xmit). */
async function blastNamespace(nss: NamespaceSet, name: string): Promise<string> {
  const ns = await nss.add(name)
  await nss.ip(ns, [
    "link add v0 type veth peer name v0p",
    "addr add 10.98.0.1/30 dev v0",
    "link set v0 up",
    "neigh add 10.98.0.2 lladdr 02:00:00:00:00:01 dev v0 nud permanent",
    "route add 10.99.0.0/16 via 10.98.0.2 dev v0 onlink",
  ])
  return ns
}

/** CPU ns per datagram: minimum over the plan's repetitions. */
async function blast(
  nss: NamespaceSet,
  ns: string,
  probe: string,
  count: number,
  pattern: "same" | "new",
  reps: number,
): Promise<number> {
  let best = Number.POSITIVE_INFINITY
  for (let i = 0; i < reps; i++) {
    // A new-flow run needs an empty table (every datagram must create its entry).
    if (pattern === "new") await nss.exec(ns, "conntrack", ["-F"])
    const out = await nss.mustExec(ns, probe, ["blast", String(count), pattern])
    const cpu = Number(out.trim().split(/\s+/)[0])
    best = Math.min(best, cpu / count)
  }
  return best
}

async function nftLoad(nss: NamespaceSet, ns: string, text: string): Promise<void> {
  await nss.mustExec(ns, "nft", ["-f", "-"], text)
}

async function measureConntrack(
  nss: NamespaceSet,
  probe: string,
  plan: Plan,
): Promise<{ plainSame: number; plainNew: number; ctSame: number; ctNew: number }> {
  // Two namespaces measured in alternation (plain, ct, plain, ct, ...): on a shared machine the
  // load drifts between runs, and a difference of sub-microsecond costs must not see the drift.
  const plain = await blastNamespace(nss, "ct-plain")
  const on = await blastNamespace(nss, "ct-on")
  const count = plan.blastCount(0)
  const newCount = Math.min(count, 20_000)
  const chain = (rule: string) =>
    `table ip t {\n  chain o {\n    type filter hook output priority 0;\n    ${rule}\n  }\n}\n`
  await nftLoad(nss, plain, chain("meta l4proto udp counter"))
  await nftLoad(nss, on, chain("ct state new,established counter"))
  let plainSame = Number.POSITIVE_INFINITY
  let plainNew = Number.POSITIVE_INFINITY
  let ctSame = Number.POSITIVE_INFINITY
  let ctNew = Number.POSITIVE_INFINITY
  // A difference of differences: twice the repetitions of the rule fits.
  for (let i = 0; i < 2 * plan.reps; i++) {
    plainSame = Math.min(plainSame, await blast(nss, plain, probe, count, "same", 1))
    ctSame = Math.min(ctSame, await blast(nss, on, probe, count, "same", 1))
    plainNew = Math.min(plainNew, await blast(nss, plain, probe, newCount, "new", 1))
    ctNew = Math.min(ctNew, await blast(nss, on, probe, newCount, "new", 1))
  }
  await nss.remove(plain)
  await nss.remove(on)
  return { plainSame, plainNew, ctSame, ctNew }
}

function ruleAddress(net: string, i: number): string {
  return `${net}.${Math.floor(i / 250)}.${(i % 250) + 1}`
}

async function measureIptablesRules(
  nss: NamespaceSet,
  probe: string,
  plan: Plan,
  table: "filter" | "nat" | "nat-established",
): Promise<LinearFit> {
  const ns = await blastNamespace(nss, `ipt-${table}`)
  const points: [number, number][] = []
  for (const k of plan.ruleCounts) {
    const lines: string[] = []
    for (let i = 0; i < k; i++)
      lines.push(
        table === "filter"
          ? `-A OUTPUT -d ${ruleAddress("10.200", i)}/32 -p tcp --dport 80 -j DROP`
          : `-A OUTPUT -d ${ruleAddress("10.201", i)}/32 -p udp --dport 9000 -j DNAT --to-destination 10.202.0.1:9000`,
      )
    const text =
      table === "filter"
        ? ["*filter", ":OUTPUT ACCEPT [0:0]", ...lines, "COMMIT", "*nat", ":OUTPUT ACCEPT [0:0]", "COMMIT", ""]
        : ["*filter", ":OUTPUT ACCEPT [0:0]", "COMMIT", "*nat", ":OUTPUT ACCEPT [0:0]", ...lines, "COMMIT", ""]
    await nss.mustExec(ns, "iptables-restore", [], text.join("\n"))
    const count = plan.blastCount(table === "nat-established" ? 0 : k)
    const perPacket = await blast(
      nss,
      ns,
      probe,
      table === "nat" ? Math.min(count, 60_000) : count,
      table === "nat" ? "new" : "same",
      plan.reps,
    )
    points.push([k, perPacket])
  }
  await nss.remove(ns)
  return fitLine(points)
}

/**
 * nat per-rule cost one packet at a time: the median new-flow echo round trip between two
 * namespaces as the server's nat PREROUTING grows (kernel-calibration.md's method 2, natively).
 * `kube-proxy`: K Services' KUBE-SERVICES rules (TCP, never matching the UDP echo) with their
 * KUBE-SVC / KUBE-SEP chains, jumped to from PREROUTING, the rules the simulator charges;
 * `reference`: kernel-calibration.md's own rules, K `-A PREROUTING -d 10.201.X.Y/32 -p udp --dport
 * 9000 -j DNAT` (a DNAT target per rule: a larger rule than kube-proxy's jump).
 */
async function measureNatSparse(
  nss: NamespaceSet,
  probe: string,
  plan: Plan,
  shape: "kube-proxy" | "reference",
): Promise<LinearFit> {
  const client = await nss.add(`nat-client-${shape}`)
  const server = await nss.add(`nat-server-${shape}`)
  await nss.ip(client, [
    `link add eth0 type veth peer name eth0 netns ${server}`,
    "addr add 10.251.0.1/30 dev eth0",
    "link set eth0 up",
  ])
  await nss.ip(server, ["addr add 10.251.0.2/30 dev eth0", "link set eth0 up"])
  const echo = await nss.startServer(server, ...pinnedArgv(probe, ["echo", "10.251.0.2", "7000"]))
  const points: [number, number][] = []
  for (const k of plan.ruleCounts) {
    let text: string
    if (shape === "kube-proxy")
      text = iptablesNat(k).text.replace(
        "\nCOMMIT\n",
        "\n:PREROUTING ACCEPT [0:0]\n-A PREROUTING -j KUBE-SERVICES\nCOMMIT\n",
      )
    else {
      const lines = ["*nat", ":PREROUTING ACCEPT [0:0]"]
      for (let i = 0; i < k; i++)
        lines.push(
          `-A PREROUTING -d ${ruleAddress("10.201", i)}/32 -p udp --dport 9000 -j DNAT --to-destination 10.202.0.1:9000`,
        )
      text = [...lines, "COMMIT", ""].join("\n")
    }
    await nss.mustExec(server, "iptables-restore", [], text)
    await nss.exec(server, "conntrack", ["-F"])
    const [cmd, args] = pinnedArgv(probe, ["ping", "10.251.0.2", "7000", String(plan.sparseCount), "new", "20"])
    const out = await nss.mustExec(client, cmd, args)
    const rtts = out
      .split("\n")
      .filter((l) => l !== "")
      .map(Number)
      .filter((v) => v >= 0)
      .sort((a, b) => a - b)
    if (rtts.length < plan.sparseCount * 0.99)
      throw new Error(`nat sparse echoes: ${rtts.length} of ${plan.sparseCount} answered`)
    points.push([k, quantileOfSorted(rtts, 0.5)])
  }
  echo.kill("SIGKILL")
  await nss.remove(client)
  await nss.remove(server)
  return fitLine(points)
}

export interface SparseFilterFits {
  /** Slopes of the RTT quantiles over K (ns per rule): min, p10, p50, p90 and mean. */
  readonly min: LinearFit
  readonly p10: LinearFit
  readonly p50: LinearFit
  readonly p90: LinearFit
  readonly mean: LinearFit
}

/**
 * filter per-rule cost one packet at a time, kernel-calibration.md's method 1 natively: ICMP echo
 * round trips (64-byte echoes, ICMP_GAP_US apart as `ping -i 0.002`, answered by the peer's
 * kernel) to a namespace whose filter INPUT holds K rules `-s 10.200.X.Y/32 -p tcp --dport 80 -j
 * DROP` (none matches an ICMP echo). Slopes of min, p10, p50, p90 and mean RTT over K.
 */
async function measureFilterSparse(nss: NamespaceSet, probe: string, plan: Plan): Promise<SparseFilterFits> {
  const client = await nss.add("icmp-client")
  const server = await nss.add("icmp-server")
  await nss.ip(client, [
    `link add eth0 type veth peer name eth0 netns ${server}`,
    "addr add 10.253.0.1/30 dev eth0",
    "link set eth0 up",
  ])
  await nss.ip(server, ["addr add 10.253.0.2/30 dev eth0", "link set eth0 up"])
  const series: Record<keyof SparseFilterFits, [number, number][]> = { min: [], p10: [], p50: [], p90: [], mean: [] }
  for (const k of plan.ruleCounts) {
    const lines = ["*filter", ":INPUT ACCEPT [0:0]"]
    for (let i = 0; i < k; i++) lines.push(`-A INPUT -s ${ruleAddress("10.200", i)}/32 -p tcp --dport 80 -j DROP`)
    await nss.mustExec(server, "iptables-restore", [], [...lines, "COMMIT", ""].join("\n"))
    const [cmd, args] = pinnedArgv(probe, ["icmp", "10.253.0.2", String(plan.icmpCount), String(ICMP_GAP_US)])
    const out = await nss.mustExec(client, cmd, args)
    const rtts = out
      .split("\n")
      .filter((l) => l !== "")
      .map(Number)
      .filter((v) => v >= 0)
      .sort((a, b) => a - b)
    if (rtts.length < plan.icmpCount * 0.99)
      throw new Error(`ICMP echoes: ${rtts.length} of ${plan.icmpCount} answered`)
    series.min.push([k, rtts[0] ?? 0])
    series.p10.push([k, quantileOfSorted(rtts, 0.1)])
    series.p50.push([k, quantileOfSorted(rtts, 0.5)])
    series.p90.push([k, quantileOfSorted(rtts, 0.9)])
    series.mean.push([k, rtts.reduce((a, b) => a + b, 0) / rtts.length])
  }
  await nss.remove(client)
  await nss.remove(server)
  return {
    min: fitLine(series.min),
    p10: fitLine(series.p10),
    p50: fitLine(series.p50),
    p90: fitLine(series.p90),
    mean: fitLine(series.mean),
  }
}

async function measureNft(nss: NamespaceSet, probe: string, plan: Plan): Promise<{ cmp: LinearFit; vmap: LinearFit }> {
  const ns = await blastNamespace(nss, "nft")
  const elements = Array.from({ length: 1_000 }, (_, i) => `${ruleAddress("172.30", i)} . tcp . 80 : drop`)
  const fits: LinearFit[] = []
  for (const shape of ["cmp", "vmap"] as const) {
    const points: [number, number][] = []
    for (const k of plan.ruleCounts) {
      const lines = [
        "table ip t {",
        "  map m { type ipv4_addr . inet_proto . inet_service : verdict; }",
        "  chain o { type filter hook output priority 0; }",
        "}",
        `add element ip t m { ${elements.join(", ")} }`,
      ]
      for (let i = 0; i < k; i++)
        lines.push(
          shape === "cmp"
            ? `add rule ip t o ip daddr ${ruleAddress("10.9", i)} counter`
            : "add rule ip t o ip daddr . meta l4proto . th dport vmap @m",
        )
      await nss.exec(ns, "nft", ["delete", "table", "ip", "t"])
      await nftLoad(nss, ns, lines.join("\n") + "\n")
      points.push([k, await blast(nss, ns, probe, plan.blastCount(k), "same", plan.reps)])
    }
    fits.push(fitLine(points))
  }
  await nss.remove(ns)
  const [cmp, vmap] = fits as [LinearFit, LinearFit]
  return { cmp, vmap }
}

/** kube-proxy-shaped tables (as bench/calibration/sync-cost.sh builds them). */
function iptablesNat(services: number): { text: string; rules: number } {
  const head = ["*nat", ":KUBE-SERVICES - [0:0]", ":KUBE-MARK-MASQ - [0:0]"]
  const rules: string[] = []
  for (let i = 0; i < services; i++) {
    const c = ruleAddress("172.30", i)
    const e = ruleAddress("10.180", i)
    const id = i.toString(16).toUpperCase().padStart(16, "0")
    head.push(`:KUBE-SVC-${id} - [0:0]`, `:KUBE-SEP-${id} - [0:0]`)
    rules.push(
      `-A KUBE-SERVICES -m comment --comment "ns/svc${i}:http cluster IP" -m tcp -p tcp -d ${c} --dport 80 -j KUBE-SVC-${id}`,
      `-A KUBE-SVC-${id} -m comment --comment "ns/svc${i}:http -> ${e}:80" -j KUBE-SEP-${id}`,
      `-A KUBE-SEP-${id} -m comment --comment ns/svc${i}:http -s ${e} -j KUBE-MARK-MASQ`,
      `-A KUBE-SEP-${id} -m comment --comment ns/svc${i}:http -m tcp -p tcp -j DNAT --to-destination ${e}:80`,
    )
  }
  return {
    text: [...head, ...rules, "-A KUBE-MARK-MASQ -j MARK --or-mark 0x4000", "COMMIT", ""].join("\n"),
    rules: rules.length + 1,
  }
}

function nftTransaction(services: number): { text: string; commands: number } {
  const out = [
    "add table ip kube-proxy",
    "add map ip kube-proxy service-ips { type ipv4_addr . inet_proto . inet_service : verdict ; }",
    "add chain ip kube-proxy services",
    "add rule ip kube-proxy services ip daddr . meta l4proto . th dport vmap @service-ips",
  ]
  for (let i = 0; i < services; i++) {
    const c = ruleAddress("172.30", i)
    const e = ruleAddress("10.180", i)
    const id = i.toString(16).toUpperCase().padStart(8, "0")
    const s = `service-${id}-ns/svc${i}/tcp/http`
    const p = `endpoint-${id}-ns/svc${i}/tcp/http__${e}/80`
    out.push(
      `add chain ip kube-proxy ${s}`,
      `add chain ip kube-proxy ${p}`,
      `add rule ip kube-proxy ${s} ip daddr ${c} tcp dport 80 ip saddr != 10.0.0.0/8 meta mark set mark or 0x4000`,
      `add rule ip kube-proxy ${s} numgen random mod 1 vmap { 0 : goto ${p} }`,
      `add rule ip kube-proxy ${p} ip saddr ${e} meta mark set mark or 0x4000`,
      `add rule ip kube-proxy ${p} meta l4proto tcp dnat to ${e}:80`,
      `add element ip kube-proxy service-ips { ${c} . tcp . 80 : goto ${s} }`,
    )
  }
  return { text: out.join("\n") + "\n", commands: out.length }
}

async function timed(nss: NamespaceSet, ns: string, probe: string, args: readonly string[]): Promise<number> {
  const out = await nss.mustExec(ns, probe, ["time", ...args], "", 600_000)
  const [wall, status] = out.trim().split(/\s+/).map(Number)
  if (status !== 0) throw new Error(`${args.join(" ")} failed in ${ns} (exit ${status})`)
  return wall ?? 0
}

async function measureSync(
  nss: NamespaceSet,
  probe: string,
  plan: Plan,
  dir: string,
): Promise<{ restore: LinearFit; nft: LinearFit }> {
  const restore: [number, number][] = []
  const nft: [number, number][] = []
  for (const services of plan.syncServices) {
    const ipt = iptablesNat(services)
    const nf = nftTransaction(services)
    const iptFile = join(dir, `nat-${services}.txt`)
    const nftFile = join(dir, `kube-proxy-${services}.nft`)
    writeFileSync(iptFile, ipt.text)
    writeFileSync(nftFile, nf.text)
    const ns = await nss.add(`sync${services}`)
    await timed(nss, ns, probe, ["iptables-restore", iptFile])
    restore.push([ipt.rules, await timed(nss, ns, probe, ["iptables-restore", iptFile])])
    nft.push([nf.commands, await timed(nss, ns, probe, ["nft", "-f", nftFile])])
    await nss.remove(ns)
  }
  // Both grow superlinearly with the table (nft 1.0.6: name lookups over its cache; iptables-nft:
  // the ruleset is fetched and compared): the fit uses the two smallest sizes, the ones closest to
  // kube-proxy's usual (partial) syncs, and the method lists every point.
  return {
    restore: { ...fitLine(restore.slice(0, 2)), points: restore },
    nft: { ...fitLine(nft.slice(0, 2)), points: nft },
  }
}

/** The table `kube-netsim calibrate` prints: one row per measured figure and per parameter. */
export function renderCalibration(result: CalibrationResult): string {
  const lines: string[] = []
  const params = Object.entries(result.profile.parameters).map(([name, p]) => {
    const d = p.distribution
    const value =
      d.kind === "empirical"
        ? `p50 ${fmt(d.quantiles.p50 ?? 0)}  p90 ${fmt(d.quantiles.p90 ?? 0)}  p99 ${fmt(d.quantiles.p99 ?? 0)}  max ${fmt(d.quantiles.p100 ?? 0)}`
        : d.kind === "fixed"
          ? fmt(d.valueNs)
          : d.kind
    return [name, value] as const
  })
  const w = Math.max(...result.rows.map((r) => r.parameter.length), ...params.map(([n]) => n.length))
  lines.push(`kernel ${result.profile.kernel}; ${result.profile.host ?? ""}`)
  lines.push(`${result.profile.tools?.iptables ?? ""}; ${result.profile.tools?.nft ?? ""}`, "")
  lines.push("measured")
  for (const r of result.rows) lines.push(`  ${r.parameter.padEnd(w)}  ${r.value.padEnd(24)} ${r.detail}`)
  lines.push("", "profile parameters")
  for (const [name, value] of params) lines.push(`  ${name.padEnd(w)}  ${value}`)
  return lines.join("\n") + "\n"
}

function fmt(ns: number): string {
  if (ns < 1_000) return `${Math.round(ns)} ns`
  if (ns < 1_000_000) return `${(ns / 1_000).toFixed(2)} us`
  return `${(ns / 1_000_000).toFixed(2)} ms`
}
