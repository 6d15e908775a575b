/**
 * `kube-netsim trace`: one packet through the simulated data plane.
 *
 * Goal: the trace shows what the kernel's TRACE would for the cases people debug most (a ClusterIP
 * DNATed to an endpoint and the reply un-NATed by conntrack; a Service without endpoints REJECTing
 * with an ICMP port unreachable back; a NodePort with externalTrafficPolicy Local DROPped on a node
 * without a local endpoint), that the reconstructed rule walk charges exactly the cost the engine
 * charged, and that the same scenario and seed give the same trace byte for byte.
 * Method: the real runtime on the shipped scenarios (each traced once, in beforeAll), the CLI
 * in-process, and fast-check on the pure parsers and formatters.
 */
import { readFileSync } from "node:fs"
import { join } from "node:path"
import fc from "fast-check"
import { beforeAll, describe, expect, it } from "vitest"
import { runCli } from "../../src/cli/app.ts"
import type { CliIo } from "../../src/cli/commands.ts"
import { TraceInputError, parseTraceSource, parseTraceTarget, traceScenario } from "../../src/trace/engine.ts"
import type { ScenarioSpec } from "../../src/cluster/spec.ts"
import { loadScenario } from "../../src/scenario/load.ts"
import type {
  DeliverEvent,
  HookEvent,
  RuleStep,
  SendEvent,
  TraceEvent,
  TraceResult,
  VerdictEvent,
} from "../../src/trace/events.ts"
import { formatCost, formatMs, formatTrace, traceJson } from "../../src/trace/format.ts"

const ROOT = join(import.meta.dirname, "..", "..")
const QUICKSTART = join(ROOT, "scenarios", "quickstart.yaml")
const ETP = join(ROOT, "scenarios", "etp-local-vs-cluster.yaml")

function spec(path: string): ScenarioSpec {
  const loaded = loadScenario(path)
  if (!loaded.ok) throw new Error(loaded.issues.map((i) => i.message).join("\n"))
  return loaded.scenario.spec
}

/** The spec with dns.mode static: no CoreDNS pods, so kube-system/kube-dns has no endpoints. */
function withoutCoreDns(path: string): ScenarioSpec {
  const s = spec(path)
  return { ...s, dns: { ...s.dns, mode: "static" } }
}

const hooks = (r: TraceResult): HookEvent[] => r.events.filter((e): e is HookEvent => e.kind === "hook")
const verdictOf = (r: TraceResult): VerdictEvent => r.events[r.events.length - 1] as VerdictEvent
const rules = (h: HookEvent): RuleStep[] => h.steps.filter((s): s is RuleStep => s.kind === "rule")
const probeId = (r: TraceResult): number =>
  (r.events.find((e): e is SendEvent => e.kind === "send" && e.role === "probe") as SendEvent).packet.id

/**
 * The cost the engine charged (its own count of rules, NetfilterStack.runHook) equals the
 * reconstructed walk's count x 50 ns plus exactly the conntrack work of that hook: a lookup (100 ns)
 * in PREROUTING (except for looped-back packets, already tracked on OUTPUT) and OUTPUT, and 400 ns
 * more when the hook created an entry. Exact, so a walk off by any number of rules fails.
 */
function expectCostsMatchWalk(r: TraceResult): void {
  for (const h of hooks(r)) {
    const lookupNs = h.hook === "OUTPUT" || (h.hook === "PREROUTING" && h.in !== "lo") ? 100 : 0
    const newNs = h.steps.some((s) => s.kind === "conntrack" && s.event === "new") ? 400 : 0
    expect(h.costNs, `${h.ns} ${h.hook}: cost ${h.costNs} for ${h.rulesEvaluated} rules`).toBe(
      h.rulesEvaluated * 50 + lookupNs + newNs,
    )
    // The per-chain counts the trace prints add up to the hook's total it prints.
    const sum = h.steps.reduce((n, s) => n + (s.kind === "conntrack" || s.kind === "ipvs" ? 0 : s.evaluated), 0)
    expect(sum).toBe(h.rulesEvaluated)
  }
}

describe("trace: ClusterIP with endpoints (quickstart)", () => {
  let r: TraceResult
  let s: ScenarioSpec
  beforeAll(() => {
    s = spec(QUICKSTART)
    r = traceScenario(s, { from: "pod/busybox", to: "http-go-svc:80" })
  })

  it("starts after the cluster settled, at the Service's ClusterIP", () => {
    const start = r.events[0]
    expect(start.kind).toBe("start")
    if (start.kind !== "start") return
    expect(start.atReason).toMatch(/^settled/)
    expect(start.service).toBe("default/http-go-svc")
    expect(start.port).toBe(80)
  })

  it("shows the DNAT to an endpoint by a KUBE-SEP rule, with the conntrack entry made", () => {
    const start = r.events[0]
    if (start.kind !== "start") throw new Error("no start")
    const pre = hooks(r).find((h) => h.hook === "PREROUTING" && h.before.id === probeId(r)) as HookEvent
    expect(pre.ns).toMatch(/^node\//)
    const dnat = rules(pre).find((step) => step.target === "DNAT") as RuleStep
    expect(dnat.table).toBe("nat")
    expect(dnat.chain).toMatch(/^KUBE-SEP-/)
    expect(dnat.text).toMatch(/^-A KUBE-SEP-\S+ .*-j DNAT --to-destination 10\.244\.\d+\.\d+:8080$/)
    expect(rules(pre)[0].text).toBe('-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES')
    expect(pre.nat).toEqual([{ type: "DNAT", from: `${start.address}:80`, to: pre.after.dst + ":8080", by: "rule" }])
    expect(pre.steps.some((step) => step.kind === "conntrack" && step.event === "new")).toBe(true)
    const confirmed = hooks(r).some((h) =>
      h.steps.some(
        (step) =>
          step.kind === "conntrack" &&
          step.event === "confirm" &&
          step.entry.includes(`src=${pre.after.dst} dst=10.244.`),
      ),
    )
    expect(confirmed).toBe(true)
  })

  it("shows the SYN-ACK un-NATed by conntrack back to the ClusterIP", () => {
    const start = r.events[0]
    if (start.kind !== "start") throw new Error("no start")
    const reply = r.events.find((e): e is SendEvent => e.kind === "send" && e.role === "reply") as SendEvent
    expect(reply.packet.detail).toBe("SYN,ACK")
    const unNat = hooks(r).flatMap((h) => (h.before.id === reply.packet.id ? h.nat : []))
    expect(unNat).toEqual([
      { type: "SNAT", from: `${reply.packet.src}:8080`, to: `${start.address}:80`, by: "conntrack" },
    ])
    const back = r.events.find(
      (e): e is DeliverEvent => e.kind === "deliver" && e.packet.id === reply.packet.id,
    ) as DeliverEvent
    expect(back.ns).toBe("pod/busybox")
    expect(`${back.packet.src}:${back.packet.srcPort}`).toBe(`${start.address}:80`)
    const v = verdictOf(r)
    expect(v.fate).toBe("delivered")
    expect(v.socket).toBe("connect() succeeded: handshake complete")
    const text = formatTrace(r, { verbose: false })
    expect(text).toContain(`DNAT ${start.address}:80 -> `)
    expect(text).toContain(`-> ${start.address}:80 by conntrack (un-NAT of the reply)`)
  })

  it("charges exactly the rules the reconstructed walk evaluated", () => {
    expectCostsMatchWalk(r)
  })

  it("is deterministic: same scenario and seed, same trace text and JSON", () => {
    const again = traceScenario(s, { from: "pod/busybox", to: "http-go-svc:80" })
    expect(formatTrace(again, { verbose: false })).toBe(formatTrace(r, { verbose: false }))
    expect(traceJson(again)).toBe(traceJson(r))
  })

  it("verbose lists exactly the rules evaluated without matching", () => {
    const v = traceScenario(s, { from: "pod/busybox", to: "http-go-svc:80", verbose: true })
    expectCostsMatchWalk(v)
    for (const h of hooks(v)) {
      for (const step of h.steps) {
        if (step.kind === "conntrack" || step.kind === "ipvs") continue
        const unmatched = step.notMatched ?? []
        expect(unmatched.length).toBe(step.kind === "rule" ? step.evaluated - 1 : step.evaluated)
        for (const ref of unmatched) expect(ref.text.startsWith(`-A ${step.chain}`)).toBe(true)
      }
    }
    const text = formatTrace(v, { verbose: true })
    expect(text).toMatch(/did not match: -A KUBE-/)
    // The verbose walk is the same walk: without the not-matched lists, the same events.
    const strip = (e: TraceEvent): unknown =>
      e.kind === "hook"
        ? { ...e, steps: e.steps.map((st) => (st.kind === "conntrack" ? st : { ...st, notMatched: undefined })) }
        : e
    expect(JSON.stringify(v.events.map(strip))).toBe(JSON.stringify(r.events.map(strip)))
  })
})

describe("trace: Service without endpoints", () => {
  it("REJECTs in filter KUBE-SERVICES and an ICMP port unreachable goes back (udp)", () => {
    const r = traceScenario(withoutCoreDns(QUICKSTART), { from: "pod/busybox", to: "kube-dns.kube-system:53/udp" })
    const rejecting = hooks(r).find((h) => h.verdict === "REJECT") as HookEvent
    expect(rejecting.ns).toMatch(/^node\//)
    expect(rejecting.rejectWith).toBe("icmp-port-unreachable")
    const last = rules(rejecting).pop() as RuleStep
    expect(last.table).toBe("filter")
    expect(last.chain).toBe("KUBE-SERVICES")
    expect(last.text).toContain('"kube-system/kube-dns:dns has no endpoints"')
    expect(last.text).toMatch(/-j REJECT$/)
    const error = r.events.find((e): e is SendEvent => e.kind === "send" && e.role === "error") as SendEvent
    expect(error.ns).toBe(rejecting.ns)
    expect(error.packet.detail).toMatch(/^port-unreachable about udp 10\.244\.\d+\.\d+:\d+ -> 10\.96\.0\.10:53$/)
    const back = r.events.find(
      (e): e is DeliverEvent => e.kind === "deliver" && e.packet.id === error.packet.id,
    ) as DeliverEvent
    expect(back.ns).toBe("pod/busybox")
    const v = verdictOf(r)
    expect(v.fate).toBe("dropped")
    expect(v.probe).toMatch(
      /^rejected \(icmp-port-unreachable\) in node\/\S+ at FORWARD by filter KUBE-SERVICES rule 1: /,
    )
    expect(v.socket).toBe("recv() failed: refused")
    expectCostsMatchWalk(r)
    // The drop is listed right after the REJECT, before the error it caused.
    const kinds = r.events.map((e) => e.kind)
    expect(kinds.indexOf("drop")).toBeLessThan(r.events.indexOf(error))
  })

  it("REJECTs a TCP SYN the same way; connect() is refused", () => {
    const r = traceScenario(withoutCoreDns(QUICKSTART), { from: "pod/busybox", to: "10.96.0.10:53/tcp" })
    expect(
      hooks(r).some(
        (h) => h.verdict === "REJECT" && rules(h).some((st) => st.text.includes("kube-dns:dns-tcp has no endpoints")),
      ),
    ).toBe(true)
    expect(verdictOf(r).socket).toBe("connect() failed: refused")
  })
})

describe("trace: NodePort, externalTrafficPolicy Local", () => {
  let s: ScenarioSpec
  beforeAll(() => {
    s = spec(ETP)
  })

  it("DROPs in filter KUBE-EXTERNAL-SERVICES on a node without a local endpoint", () => {
    const r = traceScenario(s, { from: "external/client", to: "10.0.0.13:31001" })
    const dropping = hooks(r).find((h) => h.verdict === "DROP") as HookEvent
    expect(dropping.ns).toBe("node/node-3")
    const last = rules(dropping).pop() as RuleStep
    expect([last.table, last.chain, last.target]).toEqual(["filter", "KUBE-EXTERNAL-SERVICES", "DROP"])
    // The rule number is its position in the chain (other Services' rules may come first).
    expect(last.evaluated).toBe(last.rule)
    expect(last.text).toContain('"default/web-local has no local endpoints"')
    const v = verdictOf(r)
    expect(v.fate).toBe("dropped")
    expect(v.reply).toBeNull()
    expect(v.probe).toContain(`by filter KUBE-EXTERNAL-SERVICES rule ${last.rule}: -A KUBE-EXTERNAL-SERVICES`)
    expect(r.events.some((e) => e.kind === "send" && e.role !== "probe")).toBe(false)
    expectCostsMatchWalk(r)
    expect(formatTrace(r, { verbose: false })).toContain(
      `filter: KUBE-EXTERNAL-SERVICES rule ${last.rule} matched (${last.evaluated} evaluated): ${last.text}`,
    )
  })

  it("delivers via a node with a local endpoint, client address preserved", () => {
    const r = traceScenario(s, { from: "external/client", to: "10.0.0.11:31001" })
    const v = verdictOf(r)
    expect(v.fate).toBe("delivered")
    const delivered = r.events.find(
      (e): e is DeliverEvent => e.kind === "deliver" && e.packet.id === probeId(r),
    ) as DeliverEvent
    expect(delivered.ns).toBe("pod/web-1")
    expect(delivered.packet.src).toBe("203.0.113.10")
    expect(v.socket).toBe("connect() succeeded: handshake complete")
  })
})

describe("trace: input errors", () => {
  it("rejects unknown sources and unresolvable targets with TraceInputError", () => {
    const s = spec(ETP)
    expect(() => traceScenario(s, { from: "node/node-9", to: "10.0.0.13:31001" })).toThrow(TraceInputError)
    expect(() => traceScenario(s, { from: "external/nobody", to: "10.0.0.13:31001" })).toThrow(
      /no external host "nobody"/,
    )
    expect(() => traceScenario(s, { from: "external/client", to: "no-such-svc:80" })).toThrow(
      /cannot resolve "no-such-svc"/,
    )
  })

  it("parses targets and sources", () => {
    expect(parseTraceTarget("http-go-svc:80")).toEqual({ host: "http-go-svc", port: 80, protocol: "tcp" })
    expect(parseTraceTarget("10.96.0.10:53/udp")).toEqual({ host: "10.96.0.10", port: 53, protocol: "udp" })
    expect(parseTraceTarget("10.96.0.10/icmp")).toEqual({ host: "10.96.0.10", port: 0, protocol: "icmp" })
    for (const bad of ["svc", "svc:0", "svc:70000", "svc:80/sctp", ":80", "a b:80"])
      expect(() => parseTraceTarget(bad), bad).toThrow(TraceInputError)
    expect(parseTraceSource("pod/kube-system/coredns")).toEqual({
      kind: "pod",
      namespace: "kube-system",
      name: "coredns",
    })
    expect(parseTraceSource("external/client")).toEqual({ kind: "external", name: "client" })
    for (const bad of ["busybox", "svc/x", "node/ns/x", "pod/"])
      expect(() => parseTraceSource(bad), bad).toThrow(TraceInputError)
  })

  it("round-trips any HOST:PORT/PROTO target", () => {
    const host = fc.oneof(fc.ipV4(), fc.stringMatching(/^[a-z][a-z0-9-]{0,20}(\.[a-z][a-z0-9-]{0,10}){0,3}$/))
    fc.assert(
      fc.property(host, fc.integer({ min: 1, max: 65535 }), fc.constantFrom("tcp", "udp"), (h, port, protocol) => {
        expect(parseTraceTarget(`${h}:${port}/${protocol}`)).toEqual({ host: h, port, protocol })
      }),
      { numRuns: 200 },
    )
  })
})

describe("trace: formatting", () => {
  it("formats times and costs with exact integers", () => {
    expect(formatMs(0)).toBe("0.000000ms")
    expect(formatMs(20_000)).toBe("0.020000ms")
    expect(formatMs(5_250_079)).toBe("5.250079ms")
    expect(formatCost(750)).toBe("750ns")
    expect(formatCost(1250)).toBe("1.250us")
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 53 - 1 }), (ns) => {
        const [whole, frac] = formatMs(ns).slice(0, -2).split(".")
        expect(BigInt(whole) * 1_000_000n + BigInt(frac)).toBe(BigInt(ns))
      }),
    )
  })
})

describe("trace: command line", () => {
  async function cli(args: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    let stdout = ""
    let stderr = ""
    const io: CliIo = {
      stdout: (t) => void (stdout += t),
      stderr: (t) => void (stderr += t),
      stderrIsTTY: false,
      env: {},
      readFile: (p) => readFileSync(p, "utf8"),
      writeFile: () => {},
      mkdir: () => {},
      wallClockMs: () => 0,
    }
    const code = await runCli(args, io)
    return { code, stdout, stderr }
  }

  it("exits 0 for a DROP (a result), with the text trace", async () => {
    const run = await cli(["trace", ETP, "--from", "external/client", "--to", "10.0.0.13:31001"])
    expect(run.code).toBe(0)
    expect(run.stdout).toMatch(
      /^trace tcp external\/client \(203\.0\.113\.10\) -> 10\.0\.0\.13:31001 \(Service default\/web-local\)\n/,
    )
    expect(run.stdout).toMatch(
      /\nverdict: dropped in node\/node-3 at INPUT by filter KUBE-EXTERNAL-SERVICES rule \d+: -A KUBE-EXTERNAL-SERVICES .*"default\/web-local has no local endpoints".* -j DROP\n/,
    )
  })

  it("--json prints the events as an array, start first and verdict last", async () => {
    const run = await cli([
      "trace",
      ETP,
      "--from",
      "external/client",
      "--to",
      "10.0.0.11:31001",
      "--json",
      "--at",
      "2s",
    ])
    expect(run.code).toBe(0)
    const events = JSON.parse(run.stdout) as TraceEvent[]
    expect(events[0]).toMatchObject({ kind: "start", timeNs: 2_000_000_000, atReason: "--at" })
    expect(events[events.length - 1]).toMatchObject({ kind: "verdict", fate: "delivered" })
  })

  it("exits 2 for bad input, naming the flag", async () => {
    const unknownPod = await cli(["trace", QUICKSTART, "--from", "pod/nope", "--to", "http-go-svc:80"])
    expect(unknownPod.code).toBe(2)
    expect(unknownPod.stderr).toMatch(/^kube-netsim trace: --from: no pod "nope" in namespace default/)
    const badTarget = await cli(["trace", QUICKSTART, "--from", "pod/busybox", "--to", "http-go-svc"])
    expect(badTarget.code).toBe(2)
    expect(badTarget.stderr).toContain("--to: invalid target")
    const badAt = await cli(["trace", QUICKSTART, "--from", "pod/busybox", "--to", "http-go-svc:80", "--at", "soon"])
    expect(badAt.code).toBe(2)
    const missing = await cli(["trace", QUICKSTART, "--from", "pod/busybox"])
    expect(missing.code).toBe(2)
  })
})
