/**
 * Goal: `kube-netsim trace` in IPVS mode says that IPVS, not a conntrack NAT binding, rewrote the
 * packet: ip_vs_in schedules the connection at LOCAL_IN and transmits it (ip_vs_nat_xmit, NF_STOLEN,
 * then OUTPUT), and ip_vs_out gives the reply the virtual service's address back (ip_vs_core.c
 * handle_response, at FORWARD for a reply routed through the client's node).
 * Method: quickstart.yaml with kubeProxy.mode ipvs, traced from the client pod to the Service.
 */
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { decodeScenarioText } from "../../src/scenario/load.ts"
import type { HookEvent, IpvsStep, VerdictEvent } from "../../src/trace/events.ts"
import { formatTrace } from "../../src/trace/format.ts"
import { traceScenario } from "../../src/trace/engine.ts"
import { withMode } from "../cluster/mode-helpers.ts"

const QUICKSTART = join(import.meta.dirname, "..", "..", "scenarios", "quickstart.yaml")

describe("trace in IPVS mode", () => {
  it("labels the virtual service DNAT and the reply's source rewrite as IPVS's", () => {
    const loaded = decodeScenarioText(QUICKSTART, withMode(readFileSync(QUICKSTART, "utf8"), "ipvs"))
    if (!loaded.ok) throw new Error(loaded.issues.map((i) => i.message).join("\n"))
    const r = traceScenario(loaded.scenario.spec, { from: "pod/busybox", to: "http-go-svc:80" })
    const hooks = r.events.filter((e): e is HookEvent => e.kind === "hook")
    const ipvsHooks = hooks.filter((h) => h.steps.some((s) => s.kind === "ipvs"))
    // The SYN: scheduled at INPUT (LOCAL_IN) on the client's node.
    const input = ipvsHooks.find((h) => h.hook === "INPUT")
    expect(input).toBeDefined()
    const scheduled = input!.steps.find((s): s is IpvsStep => s.kind === "ipvs")!
    expect(scheduled.action).toBe("schedule")
    expect(scheduled.service).toMatch(/^TCP {2}10\.\d+\.\d+\.\d+:80 rr$/)
    expect(input!.nat).toEqual([expect.objectContaining({ type: "DNAT", by: "ipvs", to: scheduled.realServer })])
    expect(input!.verdict).toBe(scheduled.local ? "ACCEPT" : "STOLEN")
    // The SYN,ACK: ip_vs_out rewrites its source back to the virtual service.
    const reply = ipvsHooks.find((h) => h.steps.some((s) => s.kind === "ipvs" && s.action === "reply"))
    expect(reply).toBeDefined()
    expect(reply!.nat).toEqual([expect.objectContaining({ type: "SNAT", by: "ipvs", from: scheduled.realServer })])
    // No hook claims a conntrack NAT binding did what IPVS did.
    for (const h of ipvsHooks) for (const c of h.nat) expect(c.by).toBe("ipvs")
    const text = formatTrace(r, { verbose: false })
    expect(text).toContain("by IPVS (the connection's real server)")
    expect(text).not.toContain("by conntrack (NAT of the connection)")
  })

  it("translates the real server's ICMP port unreachable back to the VIP (ip_vs_out_icmp): the client's socket gets refused", () => {
    // A UDP Service whose pods listen on nothing at the target port: the real server answers
    // port unreachable about client -> pod:9999; IPVS on the client's node rewrites it to be about
    // client -> VIP:9999, so the connected socket sees ECONNREFUSED, as in iptables mode.
    const text = withMode(readFileSync(QUICKSTART, "utf8"), "ipvs").replace(
      "  - inline:\n      apiVersion: v1\n      kind: Pod",
      "  - inline:\n      apiVersion: v1\n      kind: Service\n      metadata: { name: udp-svc }\n" +
        "      spec: { selector: { app: http-go }, ports: [ { protocol: UDP, port: 9999, targetPort: 9999 } ] }\n" +
        "  - inline:\n      apiVersion: v1\n      kind: Pod",
    )
    const loaded = decodeScenarioText(QUICKSTART, text)
    if (!loaded.ok) throw new Error(loaded.issues.map((i) => i.message).join("\n"))
    const r = traceScenario(loaded.scenario.spec, { from: "pod/busybox", to: "udp-svc:9999/udp" })
    const verdict = r.events[r.events.length - 1] as VerdictEvent
    expect(verdict.socket).toBe("recv() failed: refused")
    const hooks = r.events.filter((e): e is HookEvent => e.kind === "hook")
    const translated = hooks.find((h) => h.steps.some((s) => s.kind === "ipvs" && s.action === "reply"))!
    expect(translated.hook).toBe("FORWARD")
    const step = translated.steps.find((s): s is IpvsStep => s.kind === "ipvs")!
    expect(step.service).toMatch(/^UDP {2}10\.\d+\.\d+\.\d+:9999 rr$/)
    expect(translated.nat).toEqual([
      expect.objectContaining({ type: "SNAT", by: "ipvs", from: step.realServer.split(":")[0] }),
    ])
    const vip = step.service.split(/\s+/)[1]
    expect(formatTrace(r, { verbose: false })).toContain(`-> ${vip}: error reported to the sending socket`)

    // A VIP port without a virtual server never reaches IPVS: kube-ipvs0 holds the VIP, so the
    // packet goes up to INPUT, where kube-proxy's KUBE-IPVS-FILTER REJECTs it (icmp-port-unreachable,
    // TCP included; proxier.go writes it for KUBE-IPVS-IPS destinations not in a service set).
    const wrong = traceScenario(loaded.scenario.spec, { from: "pod/busybox", to: "http-go-svc:81" })
    const rejected = wrong.events[wrong.events.length - 1] as VerdictEvent
    expect(rejected.probe).toMatch(
      /^rejected \(icmp-port-unreachable\) in node\/\S+ at INPUT by filter KUBE-IPVS-FILTER /,
    )
    expect(rejected.socket).toBe("connect() failed: refused")
  })
})
