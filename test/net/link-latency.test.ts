/**
 * Link latencies drawn per packet from a cost profile (net/network.ts transmit, net/cni.ts): the
 * draws vary, they follow the profile's distribution, each link stays FIFO (a packet never
 * overtakes the one before it on the same link), and a fixed profile reproduces the constants.
 */
import { describe, expect, it } from "vitest"
import type { NetworkSpec } from "../../src/cluster/spec.ts"
import { constantCosts } from "../constant-costs.ts"
import { defaultCosts } from "../../src/scenario/profile.ts"
import { run, SPEC, UdpLog, world } from "./helpers.ts"

function sendBurst(spec: NetworkSpec, sameNode: boolean, count: number, seed = 1): number[] {
  const w = world("bridge", spec, seed)
  const n1 = w.cluster.addNode("n1", "a")
  const n2 = sameNode ? n1 : w.cluster.addNode("n2", "b")
  const a = w.cluster.addPod(n1, "a")
  const b = w.cluster.addPod(n2, "b")
  const server = new UdpLog(w.scheduler)
  w.net.udpBind(b.ns, 0, 53, server)
  const sock = w.net.udpBind(a.ns, 0, 0, new UdpLog(w.scheduler))
  if (sock === null) throw new Error("bind")
  // All sent at time 0, back to back: tags in send order.
  for (let i = 0; i < count; i++) sock.sendTo(b.ip, 53, 40, i)
  run(w)
  expect(server.messages.map((m) => m.tag)).toEqual(Array.from({ length: count }, (_, i) => i))
  return server.messages.map((m) => m.atNs)
}

describe("link latency from a cost profile", () => {
  it("one packet at a time: latencies vary and follow the veth/bridge distributions", () => {
    const spec: NetworkSpec = { ...SPEC, costs: defaultCosts().costs }
    const oneWay: number[] = []
    // Separate runs, one packet each: no FIFO clamping, so each is a pure sum of draws.
    for (let seed = 1; seed <= 100; seed++) oneWay.push(sendBurst(spec, true, 1, seed)[0])
    oneWay.sort((x, y) => x - y)
    const median = oneWay[50]
    // Two veth hops (median 6 us each) and a bridge hop (1 us): a median near 13-14 us.
    expect(median).toBeGreaterThan(10_000)
    expect(median).toBeLessThan(18_000)
    expect(oneWay[99]).toBeGreaterThan(oneWay[0] * 2)
  })

  it("a burst on one link arrives in send order (FIFO), across nodes too", () => {
    const spec: NetworkSpec = { ...SPEC, costs: defaultCosts().costs }
    for (const sameNode of [true, false]) {
      const at = sendBurst(spec, sameNode, 200)
      for (let i = 1; i < at.length; i++) expect(at[i]).toBeGreaterThanOrEqual(at[i - 1])
      expect(new Set(at).size).toBeGreaterThan(1)
    }
  })

  it("profiles/constant.yaml gives exactly the constant model's timing", () => {
    const constant = sendBurst({ ...SPEC, costs: constantCosts() }, false, 3)
    const plain = sendBurst(SPEC, false, 3)
    expect(constant).toEqual(plain)
  })

  it("is deterministic per seed", () => {
    const spec: NetworkSpec = { ...SPEC, costs: defaultCosts().costs }
    expect(sendBurst(spec, false, 20, 7)).toEqual(sendBurst(spec, false, 20, 7))
    expect(sendBurst(spec, false, 20, 7)).not.toEqual(sendBurst(spec, false, 20, 8))
  })
})
