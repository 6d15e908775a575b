/**
 * Random control-plane and packet sequences against the IPVS model: after every step the counters
 * ipvsadm shows (ActiveConn, InActConn, persistent), dest references, hash chains, timers and
 * templates must agree with the live connections (`Ipvs.verify`), the reply hooks' negative test
 * (`mayMatchOut`) must never hide a connection the out lookup finds, and once every timer has run
 * the table is empty. Seeded (KUBE_NETSIM_IPVS_FUZZ_SEED), KUBE_NETSIM_IPVS_FUZZ_RUNS runs.
 */
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { Ipvs, IpvsVerdict } from "../../../src/netfilter/ipvs/ipvs.ts"
import { Scheduler, SvcFlag } from "../../../src/netfilter/ipvs/schedulers.ts"
import { NS_PER_S } from "../../../src/sim/time.ts"
import { Protocol, TcpFlag } from "../../../src/wire/protocol.ts"
import { knobInt } from "../../tier.ts"

const RUNS = knobInt("IPVS_FUZZ_RUNS", 60, 2000)
const SEED = knobInt("IPVS_FUZZ_SEED", 20261202)
const VIP = 0x0a60000a
const FLAG_CHOICES = [TcpFlag.SYN, TcpFlag.ACK, TcpFlag.FIN | TcpFlag.ACK, TcpFlag.RST, TcpFlag.SYN | TcpFlag.ACK]

const step = fc.oneof(
  fc.record({ op: fc.constant("add" as const), ep: fc.nat(4), weight: fc.nat(3) }),
  fc.record({ op: fc.constant("del" as const), ep: fc.nat(4) }),
  fc.record({ op: fc.constant("weight" as const), ep: fc.nat(4), weight: fc.nat(3) }),
  fc.record({
    op: fc.constant("in" as const),
    udp: fc.boolean(),
    client: fc.nat(3),
    port: fc.nat(3),
    flags: fc.nat(FLAG_CHOICES.length - 1),
    confirmed: fc.boolean(),
  }),
  fc.record({ op: fc.constant("out" as const), pick: fc.nat(50), flags: fc.nat(FLAG_CHOICES.length - 1) }),
  fc.record({ op: fc.constant("time" as const), s: fc.nat(400) }),
)

const config = fc.record({
  scheduler: fc.constantFrom(Scheduler.RR, Scheduler.WRR, Scheduler.LC, Scheduler.WLC, Scheduler.SH, Scheduler.MH),
  persistent: fc.boolean(),
  conntrack: fc.boolean(),
  expireNodestConn: fc.boolean(),
  expireQuiescentTemplate: fc.boolean(),
  connReuseMode: fc.constantFrom(0, 1, 3),
  kernelConnReuseFix: fc.boolean(),
  kernelExpireNodestFlush: fc.boolean(),
})

describe("IPVS fuzz", () => {
  it("counters, references, hashes and timers stay consistent", () => {
    fc.assert(
      fc.property(config, fc.array(step, { minLength: 20, maxLength: 150, size: "max" }), (cfg, steps) => {
        const ipvs = new Ipvs(cfg)
        const flags = (cfg.persistent ? SvcFlag.PERSISTENT : 0) | SvcFlag.SCHED2
        const svcs = [Protocol.TCP, Protocol.UDP].map((p) =>
          ipvs.addService({ protocol: p, addr: VIP, port: 80, scheduler: cfg.scheduler, flags, timeoutS: 30 }),
        )
        const present = [new Set<number>(), new Set<number>()]
        let now = 0
        for (const st of steps) {
          switch (st.op) {
            case "add":
            case "del":
            case "weight":
              for (let k = 0; k < 2; k++) {
                const addr = 0x0af40000 + st.ep
                if (st.op === "add" && !present[k].has(st.ep)) {
                  ipvs.addDest(svcs[k], addr, 8080, st.weight)
                  present[k].add(st.ep)
                } else if (st.op === "del" && present[k].has(st.ep)) {
                  ipvs.deleteDest(svcs[k], addr, 8080)
                  present[k].delete(st.ep)
                } else if (st.op === "weight" && present[k].has(st.ep)) ipvs.editDest(svcs[k], addr, 8080, st.weight)
              }
              break
            case "in": {
              const proto = st.udp ? Protocol.UDP : Protocol.TCP
              const v = ipvs.packetIn(
                proto,
                0x0ac80000 + st.client,
                1000 + st.port,
                VIP,
                80,
                st.udp ? 0 : FLAG_CHOICES[st.flags],
                60,
                st.confirmed,
                now,
              )
              if (v === IpvsVerdict.XMIT) expect(ipvs.connDest(ipvs.lastConn)).toBeGreaterThanOrEqual(0)
              break
            }
            case "out": {
              const conns = ipvs.connections(now).filter((c) => !c.template)
              if (conns.length === 0) break
              const c = conns[st.pick % conns.length]
              ipvs.packetOut(
                c.protocol,
                c.daddr,
                c.dport,
                c.caddr,
                c.cport,
                c.protocol === Protocol.TCP ? FLAG_CHOICES[st.flags] : 0,
                100,
                now,
              )
              break
            }
            case "time":
              now += st.s * NS_PER_S
              ipvs.advance(now)
              break
          }
          expect(ipvs.verify()).toEqual([])
          // The reply hooks' negative test (Ipvs.mayMatchOut) never hides a connection the out
          // lookup (ip_vs_conn_out_get) can find: every live connection passes it.
          ipvs.advance(now)
          for (const c of ipvs.connections(now))
            if (!c.template) {
              expect(ipvs.mayMatchOut(c.dport, c.caddr, now)).toBe(true)
              expect(ipvs.lookupOut(c.protocol, c.daddr, c.dport, c.caddr, c.cport)).toBeGreaterThanOrEqual(0)
            }
        }
        ipvs.advance(now + 100000 * NS_PER_S)
        expect(ipvs.verify()).toEqual([])
        expect(ipvs.connectionCount).toBe(0)
        for (const svc of ipvs.snapshot())
          for (const r of svc.realServers) expect([r.activeConns, r.inactConns, r.persistConns]).toEqual([0, 0, 0])
      }),
      { numRuns: RUNS, seed: SEED },
    )
  })
})
