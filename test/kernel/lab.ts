/**
 * Real network namespaces building topology.ts's cluster (the test node with its cni0 bridge and
 * pods, the other node, the edge router and the external clients), with real iptables-restore,
 * conntrack and UDP/TCP traffic.
 *
 * Traffic goes only to addresses inside the lab's own namespaces (they have no link to the host's
 * namespace at all); every wait is bounded; `teardown` deletes the namespaces and is also run from a
 * process exit hook so a failing test leaves nothing behind.
 */
import { execFileSync, spawn } from "node:child_process"
import { existsSync, readdirSync } from "node:fs"
import { join } from "node:path"
import {
  BRIDGE_IP,
  EDGE_IP,
  ENDPOINT_PODS,
  EXTERNAL_CIDR,
  EXTERNAL_GATEWAY,
  EXTERNAL_HIGH_IPS,
  EXTERNAL_LOW_IPS,
  NODE_CIDR,
  NODE_IP,
  NODE_POD_CIDR,
  NODE_POD_PREFIX_LENGTH,
  OTHER_BRIDGE_IP,
  OTHER_NODE_IP,
  OTHER_NODE_POD_CIDR,
  POD_CLIENT_IPS,
  SINK_GATEWAY,
  SINK_INTERFACE,
  TARGET_PORTS,
  VIP_CIDRS,
} from "./topology.ts"
import type { ClientKind } from "./topology.ts"

const AGENTS = join(import.meta.dirname, "agents")

export type Proto = "tcp" | "udp"

export interface Probe {
  readonly proto: Proto
  readonly src: string
  readonly sport: number
  readonly dst: string
  readonly dport: number
}

export type Outcome = "reply" | "refused" | "timeout" | "unreachable" | "eperm" | "error"

export interface ProbeResult {
  readonly outcome: Outcome
  readonly code?: string
  /** Endpoint "ip:port" that answered (reply only). */
  readonly ep?: string
  /** Client "ip:port" as the endpoint saw it (reply only). */
  readonly peer?: string
  /** Routers that decremented the first packet's TTL on its way to the endpoint (reply only). */
  readonly hops?: number
}

export interface CtTuple {
  readonly src: string
  readonly dst: string
  readonly sport: number
  readonly dport: number
}

export interface CtEntry {
  readonly proto: string
  readonly orig: CtTuple
  readonly reply: CtTuple
}

export interface RunResult {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

/** Runs a command with optional stdin, killing it after `timeoutMs`. Never throws. */
export function run(cmd: string, args: readonly string[], input = "", timeoutMs = 20_000): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: ["pipe", "pipe", "pipe"] })
    let stdout = ""
    let stderr = ""
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs)
    child.stdout.setEncoding("utf8").on("data", (c: string) => (stdout += c))
    child.stderr.setEncoding("utf8").on("data", (c: string) => (stderr += c))
    child.on("error", (err) => {
      clearTimeout(timer)
      resolve({ code: -1, stdout, stderr: stderr + String(err) })
    })
    child.on("close", (code) => {
      clearTimeout(timer)
      resolve({ code, stdout, stderr })
    })
    child.stdin.on("error", () => {})
    child.stdin.end(input)
  })
}

/** `ip [-n ns] -batch -`: many iproute2 commands in one process; throws naming the failing line. */
async function batch(ns: string | null, lines: readonly string[]): Promise<void> {
  const r = await run("ip", [...(ns === null ? [] : ["-n", ns]), "-batch", "-"], lines.join("\n") + "\n")
  if (r.code !== 0)
    throw new Error(
      `ip ${ns === null ? "" : `-n ${ns} `}-batch failed (${r.code}): ${r.stderr.trim()}\n${lines.join("\n")}`,
    )
}

async function must(cmd: string, args: readonly string[], input = ""): Promise<string> {
  const r = await run(cmd, args, input)
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(" ")} failed (${r.code}): ${r.stderr.trim()}`)
  return r.stdout
}

function which(tool: string): boolean {
  return ["/usr/sbin", "/usr/bin", "/sbin", "/bin", "/usr/local/sbin", "/usr/local/bin"].some((dir) =>
    existsSync(join(dir, tool)),
  )
}

export interface Availability {
  readonly ok: boolean
  readonly reason: string
}

/**
 * Can this machine run the lab? Needs root, ip/iptables-restore/iptables-save/conntrack and a
 * network namespace we can create and delete. Returns the reason when not.
 */
export function kernelAvailability(): Availability {
  if (process.platform !== "linux")
    return { ok: false, reason: `platform is ${process.platform}, network namespaces need Linux` }
  if (typeof process.getuid === "function" && process.getuid() !== 0)
    return { ok: false, reason: "not running as root (network namespaces and iptables need CAP_NET_ADMIN)" }
  for (const tool of ["ip", "iptables-restore", "iptables-save", "conntrack"]) {
    if (!which(tool))
      return { ok: false, reason: `${tool} not installed (apt-get install iproute2 iptables conntrack)` }
  }
  const probe = `kndprobe${process.pid}`
  try {
    execFileSync("ip", ["netns", "add", probe], { stdio: "pipe", timeout: 10_000 })
  } catch (err) {
    return {
      ok: false,
      reason: `cannot create a network namespace: ${String((err as { stderr?: unknown }).stderr ?? err).trim()}`,
    }
  }
  try {
    execFileSync("ip", ["netns", "exec", probe, "iptables-restore"], {
      input: "*nat\n:KNDPROBE - [0:0]\n-A KNDPROBE -m statistic --mode random --probability 0.5 -j RETURN\nCOMMIT\n",
      stdio: "pipe",
      timeout: 10_000,
    })
  } catch (err) {
    return {
      ok: false,
      reason: `iptables-restore does not work in a namespace: ${String((err as { stderr?: unknown }).stderr ?? err).trim()}`,
    }
  } finally {
    try {
      execFileSync("ip", ["netns", "del", probe], { stdio: "pipe", timeout: 10_000 })
    } catch {
      // best effort
    }
  }
  return { ok: true, reason: "" }
}

/** The iptables backend `iptables --version` names: "nf_tables", "legacy", or the raw text. */
export function iptablesBackend(): string {
  try {
    const text = execFileSync("iptables", ["--version"], { stdio: "pipe", timeout: 10_000 }).toString().trim()
    const m = /\((nf_tables|legacy)\)/.exec(text)
    return m === null ? text : `${m[1]} (${text})`
  } catch (err) {
    return `unknown (${String(err)})`
  }
}

/** Which optional iptables matches the kernel accepts (probed by loading one rule each). */
export async function probeMatches(ns: string): Promise<Record<string, boolean>> {
  const rules: Record<string, string> = {
    statistic: "-m statistic --mode random --probability 0.5000000000 -j RETURN",
    recent: "-m recent --name KNDP --rcheck --seconds 10 --reap -j RETURN",
    addrtype: "-m addrtype --dst-type LOCAL -j RETURN",
    conntrack: "-m conntrack --ctstate NEW -j RETURN",
    comment: '-m comment --comment "a b" -j RETURN',
    mark: "-m mark --mark 0x4000/0x4000 -j RETURN",
    nfacct: "-m nfacct --nfacct-name kndp -j RETURN",
    randomFully: "-j MASQUERADE --random-fully",
  }
  const out: Record<string, boolean> = {}
  for (const [name, rule] of Object.entries(rules)) {
    const r = await run(
      "ip",
      ["netns", "exec", ns, "iptables-restore"],
      `*nat\n:KNDP - [0:0]\n-A POSTROUTING ${rule}\nCOMMIT\n`,
    )
    out[name] = r.code === 0
  }
  await run("ip", ["netns", "exec", ns, "iptables-restore"], "*nat\nCOMMIT\n")
  return out
}

const live = new Set<KernelLab>()
let exitHookInstalled = false

function installExitHook(): void {
  if (exitHookInstalled) return
  exitHookInstalled = true
  process.on("exit", () => {
    for (const lab of live) lab.teardownSync()
  })
}

/** Deletes namespaces left by earlier runs whose process is gone (prefix `knd<pid>`). */
export function removeStaleNamespaces(): void {
  if (!existsSync("/var/run/netns")) return
  for (const name of readdirSync("/var/run/netns")) {
    const m = /^knd(\d+)-/.exec(name)
    if (m === null) continue
    const pid = Number(m[1])
    let alive = true
    try {
      process.kill(pid, 0)
    } catch {
      alive = false
    }
    if (!alive) {
      try {
        execFileSync("ip", ["netns", "del", name], { stdio: "pipe", timeout: 10_000 })
      } catch {
        // ignore
      }
    }
  }
}

/** Node network (lab.ts and sim-world.ts share it): one prefix length for every address on it. */
const NODE_PREFIX = Number(NODE_CIDR.split("/")[1])
const EXTERNAL_PREFIX = Number(EXTERNAL_CIDR.split("/")[1])
const POD_PREFIX = NODE_POD_PREFIX_LENGTH

/**
 * Endpoints report how many routers decremented the TTL of the connection's first packet: the
 * endpoint namespace REDIRECTs a packet that arrives with TTL 63 / 62 / less to a shadow port
 * (HOP_PORT_BASE * hops + index of the target port), where the same server answers and reports
 * the original port and the hop count. Locally generated packets start at TTL 64 (ip_default_ttl).
 */
export const HOP_PORT_BASE = 10_000
const HOP_CLASSES: readonly (readonly [number, string])[] = [
  [1, "--ttl-eq 63"],
  [2, "--ttl-eq 62"],
  [3, "--ttl-lt 62"],
]

function endpointTtlRules(): string {
  const lines = ["*nat", ":PREROUTING ACCEPT [0:0]"]
  for (const [hops, match] of HOP_CLASSES) {
    TARGET_PORTS.forEach((port, i) => {
      for (const proto of ["tcp", "udp"])
        lines.push(
          `-A PREROUTING -p ${proto} -m ${proto} --dport ${port} -m ttl ${match} -j REDIRECT --to-ports ${HOP_PORT_BASE * hops + i}`,
        )
    })
  }
  lines.push("COMMIT", "")
  return lines.join("\n")
}

export interface LabNamespaces {
  readonly node: string
  readonly other: string
  readonly edge: string
  readonly ext: string
  readonly pc: string
  readonly sink: string
  /** Endpoint pod name (topology.ts ENDPOINT_PODS) -> namespace. */
  readonly ep: ReadonlyMap<string, string>
}

/** A persistent client.mjs --serve: one request line in, one result line out, in order. */
class ClientAgent {
  dead = ""
  private buffer = ""
  private stderr = ""
  private readonly waiting: ((line: string | Error) => void)[] = []

  constructor(
    readonly child: ReturnType<typeof spawn>,
    private readonly ns: string,
  ) {
    child.stdout?.setEncoding("utf8").on("data", (c: string) => {
      this.buffer += c
      let nl
      while ((nl = this.buffer.indexOf("\n")) >= 0) {
        const line = this.buffer.slice(0, nl)
        this.buffer = this.buffer.slice(nl + 1)
        this.waiting.shift()?.(line)
      }
    })
    child.stderr?.setEncoding("utf8").on("data", (c: string) => (this.stderr += c))
    child.on("close", (code) => {
      this.dead = `client in ${ns} exited (${code}): ${this.stderr}`
      for (const w of this.waiting.splice(0)) w(new Error(this.dead))
    })
  }

  ask(request: string, timeoutMs: number): Promise<string> {
    if (this.dead !== "") return Promise.reject(new Error(this.dead))
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.child.kill("SIGKILL")
        reject(new Error(`client in ${this.ns} did not answer within ${timeoutMs} ms: ${this.stderr}`))
      }, timeoutMs)
      this.waiting.push((line) => {
        clearTimeout(timer)
        if (line instanceof Error) reject(line)
        else resolve(line)
      })
      this.child.stdin?.write(request + "\n")
    })
  }
}

export class KernelLab {
  readonly prefix: string
  readonly ns: LabNamespaces
  private created: string[] = []
  private servers: ReturnType<typeof spawn>[] = []
  private readonly agents = new Map<string, ClientAgent>()
  private events: { readonly child: ReturnType<typeof spawn>; out: string } | null = null

  constructor(tag = "") {
    // The pid keeps concurrent runs (other vitest forks, other checkouts) apart.
    this.prefix = `knd${process.pid}${tag}-`
    const p = this.prefix
    this.ns = {
      node: `${p}node`,
      other: `${p}other`,
      edge: `${p}edge`,
      ext: `${p}ext`,
      pc: `${p}pc`,
      sink: `${p}sink`,
      ep: new Map(ENDPOINT_PODS.map((e) => [e.name, `${p}${e.name}`])),
    }
  }

  private all(): string[] {
    const { node, other, edge, ext, pc, sink, ep } = this.ns
    return [node, other, edge, ext, pc, sink, ...ep.values()]
  }

  /** Namespace a probe of `client` from `src` runs in (hairpin: the endpoint pod owning `src`). */
  nsOf(client: ClientKind, src: string): string {
    switch (client) {
      case "pod":
        return this.ns.pc
      case "external":
        return this.ns.ext
      case "node":
        return this.ns.node
      case "hairpin": {
        const pod = ENDPOINT_PODS.find((e) => e.ip === src)
        if (pod === undefined) throw new Error(`hairpin source ${src} is no endpoint pod`)
        return this.ns.ep.get(pod.name) ?? ""
      }
    }
  }

  /**
   * Checks br_netfilter in a scratch namespace of this lab: the bridge topology needs iptables to
   * see bridged frames (net.bridge.bridge-nf-call-iptables=1), as Kubernetes requires. Returns the
   * reason when it cannot be had.
   */
  static bridgeNetfilter(): Availability {
    const probe = `kndbr${process.pid}`
    try {
      execFileSync("ip", ["netns", "add", probe], { stdio: "pipe", timeout: 10_000 })
      execFileSync("ip", ["netns", "exec", probe, "sysctl", "-q", "-w", "net.bridge.bridge-nf-call-iptables=1"], {
        stdio: "pipe",
        timeout: 10_000,
      })
      const value = execFileSync(
        "ip",
        ["netns", "exec", probe, "cat", "/proc/sys/net/bridge/bridge-nf-call-iptables"],
        { stdio: "pipe", timeout: 10_000 },
      )
        .toString()
        .trim()
      if (value !== "1") return { ok: false, reason: `bridge-nf-call-iptables is ${value}` }
      return { ok: true, reason: "" }
    } catch (err) {
      return {
        ok: false,
        reason: `br_netfilter unavailable (modprobe br_netfilter): ${String((err as { stderr?: unknown }).stderr ?? err).trim()}`,
      }
    } finally {
      try {
        execFileSync("ip", ["netns", "del", probe], { stdio: "pipe", timeout: 10_000 })
      } catch {
        // best effort
      }
    }
  }

  async setup(): Promise<void> {
    installExitHook()
    live.add(this)
    const { node, other, edge, ext, pc, sink, ep } = this.ns
    // `ip -batch`: one process per namespace and phase (process start-up dominates on a busy machine).
    await batch(
      null,
      this.all().map((name) => `netns add ${name}`),
    )
    this.created.push(...this.all())
    await Promise.all(
      this.all().map(async (name) => {
        const routerSysctls = [node, other, edge].includes(name) ? ["net.ipv4.ip_forward=1"] : []
        const nodeSysctls =
          name === node
            ? [
                "net.ipv4.conf.all.route_localnet=1",
                "net.ipv4.conf.default.route_localnet=1",
                "net.bridge.bridge-nf-call-iptables=1",
              ]
            : []
        // Defaults first so interfaces created later inherit them.
        await must("ip", [
          "netns",
          "exec",
          name,
          "sysctl",
          "-q",
          "-w",
          "net.ipv4.conf.all.rp_filter=0",
          "net.ipv4.conf.default.rp_filter=0",
          "net.ipv4.icmp_ratelimit=0",
          "net.ipv4.icmp_msgs_per_sec=100000",
          "net.ipv4.icmp_msgs_burst=100000",
          "net.ipv4.conf.all.send_redirects=0",
          "net.ipv4.conf.default.send_redirects=0",
          ...routerSysctls,
          ...nodeSysctls,
        ])
      }),
    )
    // Edge router: lan0 switches the node network (src/net: the fabric), ext0 the external hosts.
    await batch(edge, [
      "link set lo up",
      "link add lan0 type bridge",
      "link add ext0 type bridge",
      `addr add ${EDGE_IP}/${NODE_PREFIX} dev lan0`,
      `addr add ${EXTERNAL_GATEWAY}/${EXTERNAL_PREFIX} dev ext0`,
      "link set lan0 up",
      "link set ext0 up",
      `link add ext-0 type veth peer name eth0 netns ${ext}`,
      "link set ext-0 master ext0",
      "link set ext-0 up",
    ])
    // Nodes: eth0 on lan0, cni0 with the pod CIDR's .1 and one hairpin-mode veth port per pod
    // (kubelet's hairpin-veth), default via the edge.
    const nodes = [
      {
        ns: node,
        ip: NODE_IP,
        bridgeIp: BRIDGE_IP,
        podCidr: NODE_POD_CIDR,
        port: "lan-test",
        otherCidr: OTHER_NODE_POD_CIDR,
        otherIp: OTHER_NODE_IP,
      },
      {
        ns: other,
        ip: OTHER_NODE_IP,
        bridgeIp: OTHER_BRIDGE_IP,
        podCidr: OTHER_NODE_POD_CIDR,
        port: "lan-other",
        otherCidr: NODE_POD_CIDR,
        otherIp: NODE_IP,
      },
    ]
    const pods: { ns: string; node: string; ips: readonly string[]; gateway: string; port: string }[] = [
      { ns: pc, node, ips: POD_CLIENT_IPS, gateway: BRIDGE_IP, port: "veth-pc" },
      ...ENDPOINT_PODS.map((e) => ({
        ns: ep.get(e.name) ?? "",
        node: e.node === "test" ? node : other,
        ips: [e.ip],
        gateway: e.node === "test" ? BRIDGE_IP : OTHER_BRIDGE_IP,
        port: `veth-${e.name}`,
      })),
    ]
    await Promise.all(
      nodes.map((n) =>
        batch(n.ns, [
          "link set lo up",
          `link add eth0 type veth peer name ${n.port} netns ${edge}`,
          `addr add ${n.ip}/${NODE_PREFIX} dev eth0`,
          "link set eth0 up",
          "link add cni0 type bridge",
          `addr add ${n.bridgeIp}/${POD_PREFIX} dev cni0`,
          "link set cni0 up",
          `route add default via ${EDGE_IP}`,
          `route add ${n.otherCidr} via ${n.otherIp}`,
          ...pods
            .filter((pod) => pod.node === n.ns)
            .flatMap((pod) => [
              `link add ${pod.port} type veth peer name eth0 netns ${pod.ns}`,
              `link set ${pod.port} master cni0`,
              `link set ${pod.port} type bridge_slave hairpin on`,
              `link set ${pod.port} up`,
            ]),
          // The test node routes Service VIPs into the sink, whose next hop is a neighbour with a MAC
          // nobody owns: frames are discarded without ARP or ICMP.
          ...(n.ns === node
            ? [
                `link add ${SINK_INTERFACE} type veth peer name eth0 netns ${sink}`,
                `link set ${SINK_INTERFACE} up`,
                `neigh add ${SINK_GATEWAY} lladdr 02:00:00:00:00:01 dev ${SINK_INTERFACE} nud permanent`,
                ...VIP_CIDRS.map((vip) => `route add ${vip} via ${SINK_GATEWAY} dev ${SINK_INTERFACE} onlink`),
              ]
            : []),
        ]),
      ),
    )
    await Promise.all([
      // The edge routes pod CIDRs to their nodes and Service VIPs to the test node.
      batch(edge, [
        ...nodes.flatMap((n) => [`link set ${n.port} master lan0`, `link set ${n.port} up`]),
        ...nodes.map((n) => `route add ${n.podCidr} via ${n.ip}`),
        ...VIP_CIDRS.map((vip) => `route add ${vip} via ${NODE_IP}`),
      ]),
      batch(sink, ["link set lo up", "link set eth0 up"]),
      // Pods: eth0 podIP/24, default via the bridge's .1.
      ...pods.map((pod) =>
        batch(pod.ns, [
          "link set lo up",
          ...pod.ips.map((ip) => `addr add ${ip}/${POD_PREFIX} dev eth0`),
          "link set eth0 up",
          `route add default via ${pod.gateway}`,
        ]),
      ),
      // External clients: one host behind ext0 holding every external source address.
      batch(ext, [
        "link set lo up",
        ...[...EXTERNAL_LOW_IPS, ...EXTERNAL_HIGH_IPS].map((ip) => `addr add ${ip}/${EXTERNAL_PREFIX} dev eth0`),
        "link set eth0 up",
        `route add default via ${EXTERNAL_GATEWAY}`,
      ]),
    ])
    // src/net has no ARP: its bridge and fabric deliver by address (static L3 neighbours). The lab
    // gets the same: permanent neighbour entries for every address on each L2 segment, so no
    // connection depends on ARP timing (a wave's burst towards an unresolved neighbour overflows
    // its queue, which drops the oldest packets, __neigh_event_send).
    const member = (ns: string, dev: string, ips: readonly string[]) => ({ ns, dev, ips })
    const segments = [
      [
        member(node, "cni0", [BRIDGE_IP]),
        member(pc, "eth0", POD_CLIENT_IPS),
        ...ENDPOINT_PODS.filter((e) => e.node === "test").map((e) => member(ep.get(e.name) ?? "", "eth0", [e.ip])),
      ],
      [
        member(other, "cni0", [OTHER_BRIDGE_IP]),
        ...ENDPOINT_PODS.filter((e) => e.node === "other").map((e) => member(ep.get(e.name) ?? "", "eth0", [e.ip])),
      ],
      [member(edge, "lan0", [EDGE_IP]), member(node, "eth0", [NODE_IP]), member(other, "eth0", [OTHER_NODE_IP])],
      [member(edge, "ext0", [EXTERNAL_GATEWAY]), member(ext, "eth0", [...EXTERNAL_LOW_IPS, ...EXTERNAL_HIGH_IPS])],
    ]
    const macs = new Map<string, string>()
    await Promise.all(
      segments.flat().map(async (m) => {
        const links = JSON.parse(await must("ip", ["-n", m.ns, "-j", "link", "show", "dev", m.dev])) as {
          address?: string
        }[]
        macs.set(`${m.ns}/${m.dev}`, links[0]?.address ?? "")
      }),
    )
    const neighbours = new Map<string, string[]>()
    for (const segment of segments) {
      for (const m of segment) {
        const lines = neighbours.get(m.ns) ?? []
        for (const o of segment) {
          if (o === m) continue
          for (const ip of o.ips)
            lines.push(`neigh replace ${ip} lladdr ${macs.get(`${o.ns}/${o.dev}`)} dev ${m.dev} nud permanent`)
        }
        neighbours.set(m.ns, lines)
      }
    }
    await Promise.all([...neighbours].map(([ns, lines]) => batch(ns, lines)))
    // Endpoint servers, each in its pod, with the TTL shadow ports.
    await Promise.all(
      ENDPOINT_PODS.map(async (e) => {
        const name = ep.get(e.name) ?? ""
        await must("ip", ["netns", "exec", name, "iptables-restore"], endpointTtlRules())
        await this.startServer(name, e.ip)
      }),
    )
  }

  private startServer(ns: string, ip: string): Promise<void> {
    const config = { ip, ports: TARGET_PORTS, hopPortBase: HOP_PORT_BASE, hopClasses: HOP_CLASSES.length }
    const child = spawn(
      "ip",
      ["netns", "exec", ns, process.execPath, join(AGENTS, "server.mjs"), JSON.stringify(config)],
      { stdio: ["pipe", "pipe", "pipe"] },
    )
    this.servers.push(child)
    return new Promise((resolve, reject) => {
      let out = ""
      let err = ""
      const timer = setTimeout(() => reject(new Error(`endpoint server in ${ns} not ready after 20 s: ${err}`)), 20_000)
      child.stderr?.setEncoding("utf8").on("data", (c: string) => (err += c))
      child.stdout?.setEncoding("utf8").on("data", (c: string) => {
        out += c
        if (out.includes("READY")) {
          clearTimeout(timer)
          resolve()
        }
      })
      child.on("close", (code) => {
        clearTimeout(timer)
        reject(new Error(`endpoint server in ${ns} exited (${code}): ${err}`))
      })
    })
  }

  /**
   * Replaces the node's tables with `text` and empties conntrack. iptables-restore (without
   * --noflush) flushes every table the text names; a text must name filter and nat (kube-proxy's
   * always do) and the lab never loads raw or mangle rules, so nothing of an earlier case survives.
   */
  async loadRules(text: string): Promise<void> {
    if (!text.includes("*filter\n") || !text.includes("*nat\n"))
      throw new Error("rules must restore both the filter and the nat table")
    const r = await run("ip", ["netns", "exec", this.ns.node, "iptables-restore"], text)
    if (r.code !== 0) throw new Error(`iptables-restore rejected the rules: ${r.stderr.trim()}\n${text}`)
    await this.flushConntrack()
  }

  /**
   * nftables mode: empties the node's iptables filter and nat tables, then replaces the node's
   * `ip kube-proxy` table with `transaction` (`nft -f`; the add+delete preamble removes a previous
   * table in the same atomic transaction, as knftables does for a full resync).
   */
  async loadNftRules(transaction: string): Promise<void> {
    const flush = await run(
      "ip",
      ["netns", "exec", this.ns.node, "iptables-restore"],
      "*filter\nCOMMIT\n*nat\nCOMMIT\n",
    )
    if (flush.code !== 0) throw new Error(`iptables-restore (flush) failed: ${flush.stderr.trim()}`)
    const text = `add table ip kube-proxy\ndelete table ip kube-proxy\n${transaction}`
    const r = await run("ip", ["netns", "exec", this.ns.node, "nft", "-f", "-"], text)
    if (r.code !== 0) throw new Error(`nft -f rejected the transaction: ${r.stderr.trim()}\n${transaction}`)
    await this.flushConntrack()
  }

  /** `nft list table ip kube-proxy` in the node. */
  async nftList(): Promise<string> {
    return must("ip", ["netns", "exec", this.ns.node, "nft", "list", "table", "ip", "kube-proxy"])
  }

  /**
   * Empties the test node's conntrack table, or every namespace's with `everywhere` (the endpoint
   * pods keep entries of their TTL REDIRECTs: harmless while source ports are not reused, so the
   * test flushes everywhere only when its port counter wraps).
   */
  async flushConntrack(everywhere = false): Promise<void> {
    // conntrack -F exits non-zero on an empty table on some versions; ignore.
    await Promise.all(
      (everywhere ? this.all() : [this.ns.node]).map((name) => run("ip", ["netns", "exec", name, "conntrack", "-F"])),
    )
  }

  async save(): Promise<string> {
    return must("ip", ["netns", "exec", this.ns.node, "iptables-save"])
  }

  async conntrack(): Promise<CtEntry[]> {
    const r = await run("ip", ["netns", "exec", this.ns.node, "conntrack", "-L"])
    return parseConntrack(r.stdout)
  }

  /**
   * Marks the start of a run on the node's `conntrack -E -e NEW` stream (one process for the whole
   * lab, started on first use); the returned function returns every connection confirmed since.
   * Needed because conntrack deletes a TCP entry at once when the only answer was a RST
   * (nf_conntrack_proto_tcp), so `conntrack -L` alone would miss connections the node accepted
   * towards a closed port.
   */
  async startEvents(): Promise<() => Promise<CtEntry[]>> {
    if (this.events === null || this.events.child.exitCode !== null) {
      const child = spawn("ip", ["netns", "exec", this.ns.node, "conntrack", "-E", "-e", "NEW", "-b", "8388608"], {
        stdio: ["ignore", "pipe", "pipe"],
      })
      const events = { child, out: "" }
      child.stdout.setEncoding("utf8").on("data", (c: string) => (events.out += c))
      child.stderr.resume()
      this.events = events
      // No readiness signal: give the netlink subscription a moment.
      await new Promise((resolve) => setTimeout(resolve, 300))
    }
    const events = this.events
    const from = events.out.length
    return async () => {
      // Events are delivered asynchronously: let the last ones arrive.
      await new Promise((resolve) => setTimeout(resolve, 100))
      return parseConntrack(events.out.slice(from))
    }
  }

  /** Runs waves of probes from one namespace (waves in order, probes of a wave concurrently). */
  async probe(ns: string, waves: readonly (readonly Probe[])[], timeoutMs: number): Promise<ProbeResult[]> {
    const total = waves.reduce((n, w) => n + w.length, 0)
    if (total === 0) return []
    const request = JSON.stringify({ waves: waves.map((w) => w.map((p) => ({ ...p, timeoutMs }))), concurrency: 128 })
    const line = await this.agent(ns).ask(request, 30_000 + waves.length * (timeoutMs + 500))
    const results = JSON.parse(line) as ProbeResult[]
    if (results.length !== total) throw new Error(`client returned ${results.length} results for ${total} probes`)
    return results
  }

  /** The namespace's persistent probe client (client.mjs --serve), started on first use. */
  private agent(ns: string): ClientAgent {
    let agent = this.agents.get(ns)
    if (agent === undefined || agent.dead !== "") {
      agent = new ClientAgent(
        spawn("ip", ["netns", "exec", ns, process.execPath, join(AGENTS, "client.mjs"), "--serve"], {
          stdio: ["pipe", "pipe", "pipe"],
        }),
        ns,
      )
      this.agents.set(ns, agent)
    }
    return agent
  }

  async teardown(): Promise<void> {
    for (const agent of this.agents.values()) agent.child.kill("SIGKILL")
    this.agents.clear()
    this.events?.child.kill("SIGKILL")
    this.events = null
    for (const server of this.servers) {
      server.stdin?.end()
      server.kill("SIGKILL")
    }
    this.servers = []
    await Promise.all(this.created.map((name) => run("ip", ["netns", "del", name])))
    this.created = []
    live.delete(this)
  }

  teardownSync(): void {
    for (const server of [
      ...this.servers,
      ...[...this.agents.values()].map((a) => a.child),
      ...(this.events === null ? [] : [this.events.child]),
    ]) {
      try {
        server.kill("SIGKILL")
      } catch {
        // ignore
      }
    }
    for (const name of this.created) {
      try {
        execFileSync("ip", ["netns", "del", name], { stdio: "pipe", timeout: 10_000 })
      } catch {
        // ignore
      }
    }
    this.created = []
  }
}

/** Parses `conntrack -L` output: the first src/dst/sport/dport group is the original tuple, the second the reply. */
export function parseConntrack(text: string): CtEntry[] {
  const out: CtEntry[] = []
  for (const line of text.split("\n")) {
    const proto = /^\s*(?:\[\w+\]\s+)?(\w+)\s/.exec(line)?.[1]
    if (proto === undefined || (proto !== "tcp" && proto !== "udp")) continue
    const values: string[] = []
    for (const m of line.matchAll(/\b(src|dst|sport|dport)=(\S+)/g)) values.push(m[2] ?? "")
    if (values.length < 8) continue
    const tuple = (i: number): CtTuple => ({
      src: values[i] ?? "",
      dst: values[i + 1] ?? "",
      sport: Number(values[i + 2]),
      dport: Number(values[i + 3]),
    })
    out.push({ proto, orig: tuple(0), reply: tuple(4) })
  }
  return out
}
