/**
 * Real network namespaces playing the node under test, a pod client, endpoints and external
 * clients (topology.ts), with real iptables-restore, conntrack and UDP/TCP traffic.
 *
 * Traffic goes only to addresses inside the lab's own namespaces (they have no link to the host's
 * namespace at all); every wait is bounded; `teardown` deletes the namespaces and is also run from a
 * process exit hook so a failing test leaves nothing behind.
 */
import { execFileSync, spawn } from "node:child_process"
import { existsSync, readdirSync } from "node:fs"
import { join } from "node:path"
import {
  ENDPOINT_POOL,
  EXTERNAL_HIGH_IPS,
  EXTERNAL_LOW_IPS,
  LAN_GATEWAY,
  NODE_INTERFACES,
  NODE_ROUTES,
  POD_CLIENT_IPS,
  SINK_GATEWAY,
  TARGET_PORTS,
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

async function must(cmd: string, args: readonly string[], input = ""): Promise<string> {
  const r = await run(cmd, args, input)
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(" ")} failed (${r.code}): ${r.stderr.trim()}`)
  return r.stdout
}

function which(tool: string): boolean {
  return ["/usr/sbin", "/usr/bin", "/sbin", "/bin", "/usr/local/sbin", "/usr/local/bin"].some((dir) => existsSync(join(dir, tool)))
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
  if (process.platform !== "linux") return { ok: false, reason: `platform is ${process.platform}, network namespaces need Linux` }
  if (typeof process.getuid === "function" && process.getuid() !== 0) return { ok: false, reason: "not running as root (network namespaces and iptables need CAP_NET_ADMIN)" }
  for (const tool of ["ip", "iptables-restore", "iptables-save", "conntrack"]) {
    if (!which(tool)) return { ok: false, reason: `${tool} not installed (apt-get install iproute2 iptables conntrack)` }
  }
  const probe = `kndprobe${process.pid}`
  try {
    execFileSync("ip", ["netns", "add", probe], { stdio: "pipe", timeout: 10_000 })
  } catch (err) {
    return { ok: false, reason: `cannot create a network namespace: ${String((err as { stderr?: unknown }).stderr ?? err).trim()}` }
  }
  try {
    execFileSync("ip", ["netns", "exec", probe, "iptables-restore"], { input: "*nat\n:KNDPROBE - [0:0]\n-A KNDPROBE -m statistic --mode random --probability 0.5 -j RETURN\nCOMMIT\n", stdio: "pipe", timeout: 10_000 })
  } catch (err) {
    return { ok: false, reason: `iptables-restore does not work in a namespace: ${String((err as { stderr?: unknown }).stderr ?? err).trim()}` }
  } finally {
    try {
      execFileSync("ip", ["netns", "del", probe], { stdio: "pipe", timeout: 10_000 })
    } catch {
      // best effort
    }
  }
  return { ok: true, reason: "" }
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
    const r = await run("ip", ["netns", "exec", ns, "iptables-restore"], `*nat\n:KNDP - [0:0]\n-A POSTROUTING ${rule}\nCOMMIT\n`)
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

export class KernelLab {
  readonly prefix: string
  readonly ns: { readonly node: string; readonly pc: string; readonly ep: string; readonly lan: string }
  private created: string[] = []
  private server: ReturnType<typeof spawn> | null = null

  constructor(tag = "") {
    this.prefix = `knd${process.pid}${tag}-`
    this.ns = { node: `${this.prefix}node`, pc: `${this.prefix}pc`, ep: `${this.prefix}ep`, lan: `${this.prefix}lan` }
  }

  nsOf(client: ClientKind): string {
    switch (client) {
      case "pod": return this.ns.pc
      case "external": return this.ns.lan
      case "node": return this.ns.node
      case "hairpin": return this.ns.ep
    }
  }

  async setup(): Promise<void> {
    installExitHook()
    live.add(this)
    const { node, pc, ep, lan } = this.ns
    for (const name of [node, pc, ep, lan]) {
      await must("ip", ["netns", "add", name])
      this.created.push(name)
      // Defaults first so interfaces created later inherit them.
      await must("ip", ["netns", "exec", name, "sysctl", "-q", "-w",
        "net.ipv4.conf.all.rp_filter=0", "net.ipv4.conf.default.rp_filter=0",
        "net.ipv4.icmp_ratelimit=0", "net.ipv4.icmp_msgs_per_sec=100000", "net.ipv4.icmp_msgs_burst=100000",
        "net.ipv4.conf.all.send_redirects=0", "net.ipv4.conf.default.send_redirects=0"])
      await must("ip", ["-n", name, "link", "set", "lo", "up"])
    }
    await must("ip", ["netns", "exec", node, "sysctl", "-q", "-w", "net.ipv4.ip_forward=1", "net.ipv4.conf.all.route_localnet=1", "net.ipv4.conf.default.route_localnet=1"])
    const peerNs = { pc, ep, lan } as const
    for (const itf of NODE_INTERFACES) {
      if (itf.name === "lo") continue
      if (itf.peer === "") {
        // A sink for unrouted VIPs (the kernel may lack the dummy driver): a veth whose other end
        // stays in the node namespace, reached through a neighbour with a MAC nobody owns, so the
        // frames are discarded as PACKET_OTHERHOST without ARP or ICMP.
        await must("ip", ["-n", node, "link", "add", itf.name, "type", "veth", "peer", "name", `${itf.name}p`])
        await must("ip", ["-n", node, "link", "set", `${itf.name}p`, "up"])
      } else await must("ip", ["-n", node, "link", "add", itf.name, "type", "veth", "peer", "name", "eth0", "netns", peerNs[itf.peer]])
      if (itf.address !== "") await must("ip", ["-n", node, "addr", "add", `${itf.address}/${itf.prefixLength}`, "dev", itf.name])
      await must("ip", ["-n", node, "link", "set", itf.name, "up"])
    }
    await must("ip", ["-n", node, "neigh", "add", SINK_GATEWAY, "lladdr", "02:00:00:00:00:01", "dev", "svc0", "nud", "permanent"])
    for (const [dest, dev, via] of NODE_ROUTES) {
      await must("ip", ["-n", node, "route", "add", dest, ...(via === "" ? [] : ["via", via]), "dev", dev, ...(via === SINK_GATEWAY ? ["onlink"] : [])])
    }
    // Pod client namespace.
    for (const ip of POD_CLIENT_IPS) await must("ip", ["-n", pc, "addr", "add", `${ip}/24`, "dev", "eth0"])
    await must("ip", ["-n", pc, "link", "set", "eth0", "up"])
    await must("ip", ["-n", pc, "route", "add", "default", "via", "10.0.0.1"])
    // Endpoints namespace.
    for (const ip of ENDPOINT_POOL) await must("ip", ["-n", ep, "addr", "add", `${ip}/24`, "dev", "eth0"])
    await must("ip", ["-n", ep, "link", "set", "eth0", "up"])
    await must("ip", ["-n", ep, "route", "add", "default", "via", "10.180.0.254"])
    // LAN namespace: a neighbour on the node's network plus external clients behind it.
    await must("ip", ["-n", lan, "addr", "add", `${LAN_GATEWAY}/24`, "dev", "eth0"])
    for (const ip of [...EXTERNAL_LOW_IPS, ...EXTERNAL_HIGH_IPS]) await must("ip", ["-n", lan, "addr", "add", `${ip}/32`, "dev", "lo"])
    await must("ip", ["-n", lan, "link", "set", "eth0", "up"])
    await must("ip", ["-n", lan, "route", "add", "default", "via", "192.168.0.2"])
    await this.startServer()
  }

  private startServer(): Promise<void> {
    const config = {
      tcp: TARGET_PORTS,
      udp: ENDPOINT_POOL.flatMap((ip) => TARGET_PORTS.map((port) => ({ ip, port }))),
    }
    const child = spawn("ip", ["netns", "exec", this.ns.ep, process.execPath, join(AGENTS, "server.mjs"), JSON.stringify(config)], { stdio: ["pipe", "pipe", "pipe"] })
    this.server = child
    return new Promise((resolve, reject) => {
      let out = ""
      let err = ""
      const timer = setTimeout(() => reject(new Error(`endpoint server not ready after 15 s: ${err}`)), 15_000)
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
        reject(new Error(`endpoint server exited (${code}): ${err}`))
      })
    })
  }

  /** Replaces the node's filter and nat tables with `text` (flushing first), and empties conntrack. */
  async loadRules(text: string): Promise<void> {
    await must("ip", ["netns", "exec", this.ns.node, "iptables-restore"], "*raw\nCOMMIT\n*mangle\nCOMMIT\n*filter\nCOMMIT\n*nat\nCOMMIT\n")
    const r = await run("ip", ["netns", "exec", this.ns.node, "iptables-restore"], text)
    if (r.code !== 0) throw new Error(`iptables-restore rejected the rules: ${r.stderr.trim()}\n${text}`)
    await this.flushConntrack()
  }

  async flushConntrack(): Promise<void> {
    for (const name of [this.ns.node, this.ns.pc, this.ns.ep, this.ns.lan]) {
      // conntrack -F exits non-zero on an empty table on some versions; ignore.
      await run("ip", ["netns", "exec", name, "conntrack", "-F"])
    }
  }

  async save(): Promise<string> {
    return must("ip", ["netns", "exec", this.ns.node, "iptables-save"])
  }

  async conntrack(): Promise<CtEntry[]> {
    const r = await run("ip", ["netns", "exec", this.ns.node, "conntrack", "-L"])
    return parseConntrack(r.stdout)
  }

  /**
   * Starts `conntrack -E -e NEW` in the node namespace; the returned function stops it and returns
   * every connection confirmed meanwhile. Needed because conntrack deletes a TCP entry at once when
   * the only answer was a RST (nf_conntrack_proto_tcp), so `conntrack -L` alone would miss
   * connections the node accepted towards a closed port.
   */
  async startEvents(): Promise<() => Promise<CtEntry[]>> {
    const child = spawn("ip", ["netns", "exec", this.ns.node, "conntrack", "-E", "-e", "NEW", "-b", "8388608"], { stdio: ["ignore", "pipe", "pipe"] })
    let out = ""
    child.stdout.setEncoding("utf8").on("data", (c: string) => (out += c))
    child.stderr.resume()
    const closed = new Promise<void>((resolve) => child.on("close", () => resolve()))
    // No readiness signal: give the netlink subscription a moment.
    await new Promise((resolve) => setTimeout(resolve, 150))
    return async () => {
      await new Promise((resolve) => setTimeout(resolve, 100))
      child.kill("SIGTERM")
      const killer = setTimeout(() => child.kill("SIGKILL"), 5_000)
      await closed
      clearTimeout(killer)
      return parseConntrack(out)
    }
  }

  /** Runs waves of probes from one client namespace (waves in order, probes of a wave concurrently). */
  async probe(client: ClientKind, waves: readonly (readonly Probe[])[], timeoutMs: number): Promise<ProbeResult[]> {
    const total = waves.reduce((n, w) => n + w.length, 0)
    if (total === 0) return []
    const input = JSON.stringify({ waves: waves.map((w) => w.map((p) => ({ ...p, timeoutMs }))), concurrency: 128 })
    const r = await run("ip", ["netns", "exec", this.nsOf(client), process.execPath, join(AGENTS, "client.mjs")], input, 30_000 + waves.length * (timeoutMs + 500))
    if (r.code !== 0) throw new Error(`client in ${client} failed (${r.code}): ${r.stderr}`)
    const results = JSON.parse(r.stdout) as ProbeResult[]
    if (results.length !== total) throw new Error(`client returned ${results.length} results for ${total} probes`)
    return results
  }

  async teardown(): Promise<void> {
    if (this.server !== null) {
      this.server.stdin?.end()
      this.server.kill("SIGKILL")
      this.server = null
    }
    for (const name of this.created.reverse()) await run("ip", ["netns", "del", name])
    this.created = []
    live.delete(this)
  }

  teardownSync(): void {
    try {
      this.server?.kill("SIGKILL")
    } catch {
      // ignore
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
    const tuple = (i: number): CtTuple => ({ src: values[i] ?? "", dst: values[i + 1] ?? "", sport: Number(values[i + 2]), dport: Number(values[i + 3]) })
    out.push({ proto, orig: tuple(0), reply: tuple(4) })
  }
  return out
}
