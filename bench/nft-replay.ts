/**
 * The nftables interpreter alone, on the star's real traffic: runs the star (nftables mode, `new`
 * connection by default) once while recording every base-chain run (the chain, the packet fields
 * rules read, the time, the interpreter's numgen stream state at the start), then replays those runs
 * through the interpreter `--rounds N` times, timing each round in CPU seconds and checking every
 * replayed result (verdict, DNAT/masquerade, mark, expressions, rules, lookups, set updates) against
 * the recorded one. A cheap way to measure the engine without the rest of the data path.
 * Usage: npx tsx bench/nft-replay.ts [--connection keepAlive|new] [--rounds N]
 */
import type { NftHost, NftResult } from "../src/netfilter/nftables/eval.ts"
import { NftInterpreter } from "../src/netfilter/nftables/eval.ts"
import type { NftChain } from "../src/netfilter/nftables/ruleset.ts"
import type { Rng } from "../src/sim/rng.ts"
import { Packet } from "../src/wire/packet.ts"
import { argValue, loadStar, runStar } from "./star.ts"

const argv = process.argv.slice(2)
const connection = argValue(argv, "connection", "new") === "keepAlive" ? "keepAlive" : "new"
const rounds = Number(argValue(argv, "rounds", "5"))
/** `--chains REGEX`: replay only the runs of base chains whose name matches (timing by chain). */
const chainFilter = new RegExp(argValue(argv, "chains", "."))

interface RngState {
  s0: number
  s1: number
  s2: number
  s3: number
}
const interpreters: NftInterpreter[] = []
const rngStart: number[][] = []
const chains: NftChain[] = []
const chainIndex = new Map<NftChain, number>()
const hosts: NftHost[] = []
const hostIndex = new Map<NftHost, number>()

let n = 0
let cap = 1 << 20
const ints = () => new Int32Array(cap)
let rec = {
  interp: ints(),
  chain: ints(),
  host: ints(),
  protocol: ints(),
  srcAddr: ints(),
  dstAddr: ints(),
  srcPort: ints(),
  dstPort: ints(),
  markIn: ints(),
  ctState: ints(),
  untracked: ints(),
  nowNs: new Float64Array(cap),
  // results
  verdict: ints(),
  dnat: ints(),
  dnatAddress: ints(),
  dnatPort: ints(),
  masq: ints(),
  markOut: ints(),
  expressions: ints(),
  rules: ints(),
  lookups: ints(),
  setUpdates: ints(),
}
type Rec = typeof rec
function grow(): void {
  cap *= 2
  const next = {} as Record<string, Int32Array | Float64Array>
  for (const [k, a] of Object.entries(rec)) {
    const b = a instanceof Float64Array ? new Float64Array(cap) : new Int32Array(cap)
    b.set(a)
    next[k] = b
  }
  rec = next as unknown as Rec
}

function indexOf<T>(list: T[], map: Map<T, number>, item: T): number {
  let i = map.get(item)
  if (i === undefined) {
    i = list.length
    list.push(item)
    map.set(item, i)
  }
  return i
}

const orig = NftInterpreter.prototype.runBaseChain
NftInterpreter.prototype.runBaseChain = function (
  this: NftInterpreter,
  chain: NftChain,
  packet: Packet,
  host: NftHost,
  nowNs: number,
  result: NftResult,
) {
  let ii = interpreters.indexOf(this)
  if (ii < 0) {
    ii = interpreters.length
    interpreters.push(this)
    const rng = (this as unknown as { rng: RngState }).rng
    rngStart.push([rng.s0, rng.s1, rng.s2, rng.s3])
  }
  if (n === cap) grow()
  const r = rec
  r.interp[n] = ii
  r.chain[n] = indexOf(chains, chainIndex, chain)
  r.host[n] = indexOf(hosts, hostIndex, host)
  r.protocol[n] = packet.protocol
  r.srcAddr[n] = packet.srcAddr
  r.dstAddr[n] = packet.dstAddr
  r.srcPort[n] = packet.srcPort
  r.dstPort[n] = packet.dstPort
  r.markIn[n] = packet.mark
  r.ctState[n] = packet.ctState
  r.untracked[n] = packet.untracked ? 1 : 0
  r.nowNs[n] = nowNs
  const v = orig.call(this, chain, packet, host, nowNs, result)
  r.verdict[n] = v
  r.dnat[n] = result.dnat ? 1 : 0
  r.dnatAddress[n] = result.dnatAddress
  r.dnatPort[n] = result.dnatPort
  r.masq[n] = (result.masquerade ? 1 : 0) | (result.masqueradeFullyRandom ? 2 : 0)
  r.markOut[n] = packet.mark
  r.expressions[n] = result.expressions
  r.rules[n] = result.rules
  r.lookups[n] = result.lookups
  r.setUpdates[n] = result.setUpdates
  n++
  return v
}

const run = runStar(loadStar(connection, "nftables"))
NftInterpreter.prototype.runBaseChain = orig
console.log(
  JSON.stringify({
    connection,
    echoes: run.echoes,
    fingerprint: run.fingerprint,
    baseChainRuns: n,
    chains: chains.length,
  }),
)

// Fresh interpreters on the same rulesets, with each numgen stream back at its recorded start.
// Dynamic sets (`update @set`) are not restored: the star's table has none that its traffic updates.
const replicas = interpreters.map((it) => new NftInterpreter(it.ruleset, (it as unknown as { rng: Rng }).rng))
const { NftResult: ResultClass } = await import("../src/netfilter/nftables/eval.ts")
const result = new ResultClass()
let replayed = 0
const onlyInterp = Number(process.env.ONLY_INTERP ?? "-1")
const selected = chains.map((c) => chainFilter.test(c.name))
const packet = new Packet()
for (let round = 0; round < rounds; round++) {
  interpreters.forEach((it, i) => {
    const rng = (it as unknown as { rng: RngState }).rng
    ;[rng.s0, rng.s1, rng.s2, rng.s3] = rngStart[i]
  })
  const cpu0 = process.cpuUsage()
  const [mismatches, firstMismatch] = replay(rec)
  const cpu = process.cpuUsage(cpu0)
  const cpuSeconds = (cpu.user + cpu.system) / 1e6
  console.log(
    JSON.stringify({
      round,
      cpuSeconds: Number(cpuSeconds.toFixed(3)),
      replayed,
      nsPerReplayed: Math.round((cpuSeconds * 1e9) / replayed),
      mismatches,
      firstMismatch,
    }),
  )
}

/** One replay of every recorded run; returns [mismatches, index of the first]. */
function replay(r: Rec): [number, number] {
  let mismatches = 0
  replayed = 0
  let firstMismatch = -1
  for (let i = 0; i < n; i++) {
    if (!selected[r.chain[i]]) continue
    if (onlyInterp >= 0 && r.interp[i] !== onlyInterp) continue
    replayed++
    packet.protocol = r.protocol[i]
    packet.srcAddr = r.srcAddr[i]
    packet.dstAddr = r.dstAddr[i]
    packet.srcPort = r.srcPort[i]
    packet.dstPort = r.dstPort[i]
    packet.mark = r.markIn[i]
    packet.ctState = r.ctState[i]
    packet.untracked = r.untracked[i] !== 0
    const v = replicas[r.interp[i]].runBaseChain(chains[r.chain[i]], packet, hosts[r.host[i]], r.nowNs[i], result)
    if (
      v !== r.verdict[i] ||
      (result.dnat ? 1 : 0) !== r.dnat[i] ||
      (result.dnat && (result.dnatAddress !== r.dnatAddress[i] || result.dnatPort !== r.dnatPort[i])) ||
      ((result.masquerade ? 1 : 0) | (result.masqueradeFullyRandom ? 2 : 0)) !== r.masq[i] ||
      packet.mark !== r.markOut[i] ||
      result.expressions !== r.expressions[i] ||
      result.rules !== r.rules[i] ||
      result.lookups !== r.lookups[i] ||
      result.setUpdates !== r.setUpdates[i]
    ) {
      mismatches++
      if (firstMismatch < 0) firstMismatch = i
    }
  }
  return [mismatches, firstMismatch]
}
