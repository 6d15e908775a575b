/**
 * Validation of the simulator against this machine's kernel (issue 12 item 5): the same small
 * topology (topology.ts: a client pod and endpoint pods on the test node's cni0 bridge, iptables on
 * bridged frames) runs in real network namespaces (lab.ts) and in the simulator (sim-world.ts), with
 * the simulator's knobs set from the shipped calibration profile of this machine through
 * `profileToScenarioOverrides` (until scenarios read `cluster.network.profile`). Round trips are
 * UDP echoes, one at a time, by the native client and server of `kube-netsim calibrate` (probe.c)
 * on the kernel side and by simulated sockets on the other:
 *
 *   pod-to-pod (client pod -> endpoint pod on the same bridge), and through a ClusterIP whose
 *   rules kube-proxy's iptables compiler (src/proxy/iptables) wrote, with 0 and 5,000 other
 *   Services, for established flows (one socket) and new flows (a socket per echo: a new conntrack
 *   entry and a walk of the nat KUBE-SERVICES chain each).
 *
 * Tolerances (also in MODEL.md "Calibration"):
 * - medians: |sim - kernel| <= max(MEDIAN_TOLERANCE x kernel, MEDIAN_SLACK_NS);
 * - growth of the new-flow median from 0 to 5,000 Services: sim / kernel within GROWTH_FACTOR;
 * - established flows stay flat on both sides: growth < FLAT_SHARE of the new-flow growth.
 * The simulator's echo adds the profile's hostStackNs median twice per round trip (L, the
 * loopback echo round trip: both sockets' send and receive path), which its links do not model.
 * Only medians and growth are compared: the simulator's links are constants until profiles'
 * distributions are sampled, so its RTT spread is zero; the kernel's p10/p90 are logged.
 *
 * Heavy (a dozen namespaces, 5,000 Services loaded, thousands of echoes): extensive tier only; the
 * quick tier skips it with the reason in the suite name. Needs root, namespaces, br_netfilter,
 * iptables, conntrack and gcc, and a machine not loaded beyond 4 x its CPUs (1-minute load
 * average; KUBE_NETSIM_CALIBRATION_MAX_LOAD overrides); skips with the reason otherwise.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process"
import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { cpus, loadavg, tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { quantileOfSorted } from "../../src/calibrate/calibrate.ts"
import { findTool } from "../../src/calibrate/netns.ts"
import { profileToScenarioOverrides } from "../../src/calibrate/overrides.ts"
import { medianNs, parseProfile } from "../../src/calibrate/profile.ts"
import type { EndpointSlice, Service } from "../../src/k8s/types.ts"
import { LABEL_SERVICE_NAME } from "../../src/k8s/types.ts"
import type { UdpListener, UdpSocket } from "../../src/net/udp.ts"
import { DEFAULT_IPTABLES_CONFIG } from "../../src/proxy/iptables/compile.ts"
import { parseDurationNs } from "../../src/scenario/units.ts"
import { ipv4 } from "../../src/wire/ipv4.ts"
import type { Packet } from "../../src/wire/packet.ts"
import { KernelLab, kernelAvailability, removeStaleNamespaces, run } from "./lab.ts"
import { compileNodeRules } from "./rules.ts"
import { extensive, knobInt } from "../tier.ts"
import { PROFILE_FILE } from "./calibrated-profile.ts"
import { SimWorld, type SimTuning } from "./sim-world.ts"
import { CLUSTER_CIDR, ENDPOINT_PODS, NODE_NAME, POD_CLIENT_IPS } from "./topology.ts"

export const MEDIAN_TOLERANCE = 0.25
export const MEDIAN_SLACK_NS = 4_000
export const GROWTH_FACTOR = 2
export const FLAT_SHARE = 0.15
const EXTRA_SERVICES = 5_000
const ESTABLISHED_ECHOES = 2_000
const NEW_FLOW_ECHOES = 600
const PORT = 7000
const CLUSTER_IP = "172.30.0.10"
const TARGET = ENDPOINT_PODS[0] ?? { name: "ep0", ip: "10.0.0.201", node: "test" }
const FILLER_ENDPOINT = ENDPOINT_PODS[1]?.ip ?? "10.0.0.202"

function skipReason(): string {
  if (!extensive)
    return "extensive tier only (KUBE_NETSIM_TIER=extensive): it builds a dozen namespaces and loads 5,000 Services"
  const base = kernelAvailability()
  if (!base.ok) return base.reason
  const bridge = KernelLab.bridgeNetfilter()
  if (!bridge.ok) return `the lab needs iptables on bridged frames: ${bridge.reason}`
  if (findTool("gcc") === undefined) return "gcc not installed (the native echo client/server is compiled at run time)"
  // A timing comparison on a machine whose run queue is many times its CPUs measures the queue.
  const maxLoad = knobInt("CALIBRATION_MAX_LOAD", 4 * cpus().length)
  const load = loadavg()[0] ?? 0
  if (load > maxLoad)
    return `load average ${load.toFixed(1)} on ${cpus().length} CPUs is above ${maxLoad}: too busy for a timing comparison (KUBE_NETSIM_CALIBRATION_MAX_LOAD overrides)`
  return ""
}

const reason = skipReason()
const available = reason === ""
if (!available) console.warn(`[calibration validation] SKIPPED: ${reason}`)

/** The Service under test (UDP ClusterIP -> ep0:7000) and `extra` others (TCP, -> ep1:80). */
function services(extra: number): { services: Service[]; slices: EndpointSlice[] } {
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

function rulesFor(extra: number): { text: string; position: number } {
  const { services: s, slices } = services(extra)
  const { text } = compileNodeRules(s, slices, { ...DEFAULT_IPTABLES_CONFIG, clusterCIDR: CLUSTER_CIDR, nfacct: false })
  // Where the target's jump sits in nat KUBE-SERVICES: the rules a new flow walks before it.
  const lines = text.split("\n").filter((l) => l.startsWith("-A KUBE-SERVICES "))
  const position = lines.findIndex((l) => l.includes(`-d ${CLUSTER_IP} `))
  return { text, position }
}

interface Stats {
  readonly p10: number
  readonly p50: number
  readonly p90: number
}

function stats(values: readonly number[]): Stats {
  const sorted = [...values].sort((a, b) => a - b)
  return {
    p10: quantileOfSorted(sorted, 0.1),
    p50: quantileOfSorted(sorted, 0.5),
    p90: quantileOfSorted(sorted, 0.9),
  }
}

/** The simulator driven by the profile: knobs from profileToScenarioOverrides. */
function tuningFromProfile(): { tuning: SimTuning; hostRttNs: number; overrides: object } {
  const profile = parseProfile(readFileSync(PROFILE_FILE, "utf8"), PROFILE_FILE)
  const overrides = profileToScenarioOverrides(profile)
  const ns = (text: string | undefined, what: string): number => {
    const v = text === undefined ? `missing ${what}` : parseDurationNs(text)
    if (typeof v === "string") throw new Error(`profile override ${what}: ${v}`)
    return v
  }
  const host = profile.parameters.hostStackNs
  if (host === undefined) throw new Error(`${PROFILE_FILE} has no hostStackNs`)
  // Conntrack costs have no scenario knob yet: the profile's figures go to the node stack directly,
  // as `cluster.network.profile` will do.
  const fixed = (name: string): number | undefined => {
    const p = profile.parameters[name]
    return p === undefined ? undefined : Math.round(medianNs(p))
  }
  const lookup = fixed("conntrackLookupNs")
  const created = fixed("conntrackNewNs")
  return {
    tuning: {
      links: { sameNodeLatencyNs: ns(overrides.cluster?.network?.sameNodeLatency, "cluster.network.sameNodeLatency") },
      stack: {
        ruleCostNs: ns(overrides.kubeProxy?.ruleCost, "kubeProxy.ruleCost"),
        ...(lookup !== undefined ? { conntrackLookupCostNs: lookup } : {}),
        ...(created !== undefined ? { conntrackNewCostNs: created } : {}),
      },
    },
    hostRttNs: 2 * Math.round(medianNs(host)),
    overrides,
  }
}

/** Echo server of the simulated endpoint: answers every datagram to its sender. */
const ECHO: UdpListener = {
  onUdpMessage(socket: UdpSocket, packet: Packet): void {
    socket.sendTo(packet.srcAddr, packet.srcPort, packet.payloadBytes)
  },
  onUdpError(): void {},
}

/** Sequential echoes from the client pod in the simulator; RTTs in simulated ns. */
function simRtts(rulesText: string, tuning: SimTuning, dst: string, mode: "same" | "new", count: number): number[] {
  const world = new SimWorld(rulesText, 1, undefined, tuning)
  const net = world.net
  const epNs = world.namespaceOfAddress(TARGET.ip)
  if (net.udpBind(epNs, ipv4(TARGET.ip), PORT, ECHO) === null) throw new Error("cannot bind the simulated echo server")
  const client = POD_CLIENT_IPS[0] ?? "10.0.0.2"
  const clientNs = world.namespaceOfAddress(client)
  const rtts: number[] = []
  let sentAtNs = 0
  let socket: UdpSocket | null = null
  let nextPort = 40_000
  const listener: UdpListener = {
    onUdpMessage(): void {
      rtts.push(world.scheduler.nowNs - sentAtNs)
      if (rtts.length < count) send()
    },
    onUdpError(): void {},
  }
  const send = (): void => {
    if (socket === null || mode === "new") {
      socket?.close()
      socket = net.udpBind(clientNs, ipv4(client), nextPort++, listener)
      if (socket === null) throw new Error("cannot bind the simulated client")
      socket.connect(ipv4(dst), PORT)
    }
    sentAtNs = world.scheduler.nowNs
    socket.send(32)
  }
  send()
  world.scheduler.run({ timeNsMax: 3_600_000_000_000, eventCountMax: 50_000_000 })
  if (rtts.length !== count) throw new Error(`simulated echoes: ${rtts.length} of ${count} answered`)
  return rtts
}

describe(
  available
    ? "calibration validation: kernel vs simulator RTTs with this machine's profile"
    : `calibration validation — SKIPPED: ${reason}`,
  () => {
    let lab: KernelLab | null = null
    let dir = ""
    let probe = ""
    let server: ChildProcess | null = null

    beforeAll(async () => {
      if (!available) return
      removeStaleNamespaces()
      dir = mkdtempSync(join(tmpdir(), "kube-netsim-validation-"))
      probe = join(dir, "probe")
      execFileSync("gcc", ["-O2", "-o", probe, join(import.meta.dirname, "..", "..", "src", "calibrate", "probe.c")])
      lab = new KernelLab("cal")
      await lab.setup()
      const epNs = lab.ns.ep.get(TARGET.name) ?? ""
      // The lab's endpoints REDIRECT by TTL for the differential test's hop count, which turns on
      // conntrack in the pod; a real pod has no rules (and the simulator runs none there).
      const flushed = await run("ip", ["netns", "exec", epNs, "nft", "flush", "ruleset"])
      if (flushed.code !== 0) throw new Error(`nft flush ruleset in ${epNs}: ${flushed.stderr}`)
      await run("ip", ["netns", "exec", epNs, "nft", "delete", "table", "ip", "nat"])
      const child = spawn("ip", ["netns", "exec", epNs, probe, "echo", TARGET.ip, String(PORT)], {
        stdio: ["ignore", "pipe", "pipe"],
      })
      server = child
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error("echo server not ready")), 10_000)
        child.stdout.setEncoding("utf8").on("data", (c: string) => {
          if (c.includes("READY")) {
            clearTimeout(timer)
            resolve()
          }
        })
      })
    }, 120_000)

    afterAll(async () => {
      server?.kill("SIGKILL")
      if (lab !== null) await lab.teardown()
      if (dir !== "") rmSync(dir, { recursive: true, force: true })
    }, 60_000)

    async function kernelRtts(dst: string, mode: "same" | "new", count: number): Promise<number[]> {
      const l = lab
      if (l === null) throw new Error("lab not set up")
      const warmup = mode === "same" ? 200 : 20
      const r = await run(
        "ip",
        ["netns", "exec", l.ns.pc, probe, "ping", dst, String(PORT), String(count), mode, String(warmup)],
        "",
        300_000,
      )
      if (r.code !== 0) throw new Error(`probe ping failed (${r.code}): ${r.stderr}`)
      const values = r.stdout
        .split("\n")
        .filter((x) => x !== "")
        .map(Number)
      const lost = values.filter((v) => v < 0).length
      expect(lost, `${lost} of ${count} kernel echoes to ${dst} lost`).toBeLessThanOrEqual(count / 100)
      return values.filter((v) => v >= 0)
    }

    it.skipIf(!available)(
      "pod-to-pod and ClusterIP (0 and 5,000 Services, new and established flows): medians and growth",
      async () => {
        const l = lab
        if (l === null) throw new Error("lab not set up")
        const { tuning, hostRttNs, overrides } = tuningFromProfile()
        const rows: string[] = [`overrides ${JSON.stringify(overrides)}; host RTT ${hostRttNs} ns`]
        const failures: string[] = []
        const result = new Map<string, { kernel: Stats; sim: Stats }>()
        for (const extra of [0, EXTRA_SERVICES]) {
          const { text, position } = rulesFor(extra)
          rows.push(`${extra} other Services: the target's KUBE-SERVICES rule is number ${position + 1}`)
          await l.loadRules(text)
          const cases: readonly (readonly [string, string, "same" | "new", number])[] = [
            ...(extra === 0 ? ([["pod-to-pod", TARGET.ip, "same", ESTABLISHED_ECHOES]] as const) : []),
            ["ClusterIP established", CLUSTER_IP, "same", ESTABLISHED_ECHOES],
            ["ClusterIP new flows", CLUSTER_IP, "new", NEW_FLOW_ECHOES],
          ]
          for (const [name, dst, mode, count] of cases) {
            await l.flushConntrack(true)
            const kernel = stats(await kernelRtts(dst, mode, count))
            const sim = stats(simRtts(text, tuning, dst, mode, Math.min(count, 200)).map((v) => v + hostRttNs))
            const key = `${name}, ${extra} Services`
            result.set(key, { kernel, sim })
            const tolerance = Math.max(MEDIAN_TOLERANCE * kernel.p50, MEDIAN_SLACK_NS)
            const us = (v: number) => (v / 1000).toFixed(1)
            rows.push(
              `${key.padEnd(36)} kernel p10/p50/p90 ${us(kernel.p10)}/${us(kernel.p50)}/${us(kernel.p90)} us   sim p50 ${us(sim.p50)} us`,
            )
            if (Math.abs(sim.p50 - kernel.p50) > tolerance)
              failures.push(
                `${key}: sim median ${us(sim.p50)} us vs kernel ${us(kernel.p50)} us (tolerance ${us(tolerance)} us)`,
              )
          }
        }
        const growth = (name: string, side: "kernel" | "sim"): number =>
          (result.get(`${name}, ${EXTRA_SERVICES} Services`)?.[side].p50 ?? 0) -
          (result.get(`${name}, 0 Services`)?.[side].p50 ?? 0)
        const kernelNew = growth("ClusterIP new flows", "kernel")
        const simNew = growth("ClusterIP new flows", "sim")
        const kernelEst = growth("ClusterIP established", "kernel")
        const simEst = growth("ClusterIP established", "sim")
        rows.push(
          `growth 0 -> ${EXTRA_SERVICES} Services: new flows kernel ${(kernelNew / 1000).toFixed(1)} us sim ${(simNew / 1000).toFixed(1)} us; established kernel ${(kernelEst / 1000).toFixed(1)} us sim ${(simEst / 1000).toFixed(1)} us`,
        )
        console.log(`[calibration validation]\n  ${rows.join("\n  ")}`)
        const ratio = simNew / kernelNew
        if (!(kernelNew > 0 && ratio >= 1 / GROWTH_FACTOR && ratio <= GROWTH_FACTOR))
          failures.push(
            `new-flow growth: sim / kernel = ${ratio.toFixed(2)}, outside 1/${GROWTH_FACTOR}..${GROWTH_FACTOR}`,
          )
        if (Math.abs(kernelEst) > FLAT_SHARE * kernelNew)
          failures.push(`kernel established flows grew ${kernelEst} ns (> ${FLAT_SHARE} of the new-flow growth)`)
        if (Math.abs(simEst) > FLAT_SHARE * simNew)
          failures.push(`sim established flows grew ${simEst} ns (> ${FLAT_SHARE} of the new-flow growth)`)
        expect(failures).toEqual([])
      },
      600_000,
    )
  },
)
