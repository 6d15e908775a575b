/**
 * A packet tracer over the compiled `kube-proxy` table, as upstream's nftables unit tests trace
 * (pkg/proxy/nftables/helpers_test.go `tracePacket`, proxy-modes.md §1.8): run
 * filter-prerouting-pre-dnat (a terminal verdict stops), then nat-prerouting collecting every DNAT
 * target (every `numgen` branch is followed), rewrite the destination to the first target, then
 * filter-forward and filter-input. "masq" = some rule jumped to mark-for-masquerade. `ct state new`
 * is taken as true; affinity sets are empty. This interprets only the expressions kube-proxy
 * writes; it is a test oracle, not the simulator's rule engine.
 */
import type { NftTable } from "../../src/proxy/nftables/table.ts"
import { cidrContains, parseCidr, parseIpv4 } from "../../src/wire/ipv4.ts"

export interface TracePacket {
  readonly sourceIP: string
  readonly protocol: "tcp" | "udp" | "sctp"
  readonly destIP: string
  readonly destPort: number
}

type Outcome = "continue" | "return" | "drop" | "reject" | "dnat"

interface TraceState {
  daddr: string
  dport: number
  readonly saddr: string
  readonly protocol: string
  masq: boolean
  readonly dnats: string[]
}

function tokenize(rule: string): string[] {
  return rule.split(" ").filter((t) => t !== "")
}

function inValue(value: string, ip: string): boolean {
  const prefix = parseCidr(value, false)
  const address = parseIpv4(ip)
  return prefix !== undefined && address !== undefined && cidrContains(prefix, address)
}

export class NftTracer {
  constructor(
    private readonly table: NftTable,
    private readonly nodeIPs: readonly string[],
  ) {}

  private setHas(name: string, key: string): boolean {
    return (this.table.elements(name) ?? []).some((e) => e.key.join(" . ") === key)
  }

  private mapGet(name: string, key: string): string | undefined {
    return (this.table.elements(name) ?? []).find((e) => e.key.join(" . ") === key)?.value.join(" . ")
  }

  private verdict(text: string, st: TraceState): Outcome {
    const [word, target] = text.split(" ")
    if (word === "drop") return "drop"
    if (word === "jump") {
      const r = this.runChain(target, st)
      return r === "return" ? "continue" : r
    }
    if (word === "goto") {
      const r = this.runChain(target, st)
      return r === "continue" ? "return" : r
    }
    throw new Error(`verdict ${text}`)
  }

  /** Runs one chain; "continue" = fell off the end. */
  runChain(name: string, st: TraceState): Outcome {
    for (const rule of this.table.rules(name)) {
      const r = this.runRule(tokenize(rule.rule), st)
      if (r !== "continue") return r
    }
    return "continue"
  }

  private runRule(t: string[], st: TraceState): Outcome {
    let i = 0
    const field = (w: string): string => (w === "daddr" ? st.daddr : st.saddr)
    while (i < t.length) {
      const w = t[i]
      if (w === "ct" && t[i + 1] === "state" && t[i + 2] === "new") {
        i += 3
      } else if (w === "ip" && t[i + 2] === "." && t[i + 3] === "meta") {
        // ip daddr . meta l4proto . th dport vmap @map
        const key = `${st.daddr} . ${st.protocol} . ${st.dport}`
        const value = this.mapGet(t[i + 9].slice(1), key)
        return value === undefined ? "continue" : this.verdict(value, st)
      } else if (w === "meta" && t[i + 1] === "l4proto" && t[i + 2] === ".") {
        const value = this.mapGet(t[i + 6].slice(1), `${st.protocol} . ${st.dport}`)
        return value === undefined ? "continue" : this.verdict(value, st)
      } else if (w === "meta" && t[i + 1] === "l4proto" && t[i + 3] === "dnat") {
        if (t[i + 2] !== st.protocol) return "continue"
        st.dnats.push(t[i + 5])
        return "dnat"
      } else if (w === "ip") {
        const value = field(t[i + 1])
        let negate = false
        let j = i + 2
        if (t[j] === "!=") {
          negate = true
          j++
        }
        let matched: boolean
        if (t[j].startsWith("@")) {
          matched = this.setHas(t[j].slice(1), value)
          j++
        } else if (t[j] === "{") {
          const items: string[] = []
          j++
          while (t[j] !== "}") {
            if (t[j] !== ",") items.push(...t[j].split(",").filter((x) => x !== ""))
            j++
          }
          j++
          matched = items.some((c) => inValue(c, value))
        } else {
          matched = inValue(t[j], value)
          j++
        }
        if (matched === negate) return "continue"
        i = j
      } else if (w === "fib") {
        const value = t[i + 1] === "daddr" ? st.daddr : st.saddr
        if (!this.nodeIPs.includes(value)) return "continue"
        i += 4
      } else if (w === "numgen") {
        // numgen random mod N vmap { 0 : goto A , 1 : goto B }: follow every branch.
        let j = i + 6
        const targets: string[] = []
        while (t[j] !== "}") {
          if (t[j] === "goto") targets.push(t[j + 1])
          j++
        }
        for (const target of targets) this.runChain(target, st)
        return "dnat"
      } else if (w === "update") {
        i += 6
      } else if (w === "jump" && t[i + 1] === "mark-for-masquerade") {
        st.masq = true
        i += 2
      } else if (w === "jump" || w === "goto") {
        const r = this.verdict(`${w} ${t[i + 1]}`, st)
        if (r !== "continue") return r
        i += 2
      } else if (w === "drop") {
        return "drop"
      } else if (w === "reject") {
        return "reject"
      } else if (w === "return") {
        return "return"
      } else {
        throw new Error(`tracer: unsupported token "${w}" in "${t.join(" ")}"`)
      }
    }
    return "continue"
  }

  /** Upstream's output string and masq flag. */
  trace(p: TracePacket): { output: string; masq: boolean } {
    const st: TraceState = {
      daddr: p.destIP,
      dport: p.destPort,
      saddr: p.sourceIP,
      protocol: p.protocol,
      masq: false,
      dnats: [],
    }
    const pre = this.runChain("filter-prerouting-pre-dnat", st)
    if (pre === "drop") return { output: "DROP", masq: false }
    if (pre === "reject") return { output: "REJECT", masq: false }
    this.runChain("nat-prerouting", st)
    if (st.dnats.length > 0) {
      const [ip, port] = st.dnats[0].split(":")
      st.daddr = ip
      st.dport = Number(port)
    }
    for (const chain of ["filter-forward", "filter-input"]) {
      const r = this.runChain(chain, st)
      if (r === "drop") return { output: "DROP", masq: false }
      if (r === "reject") return { output: "REJECT", masq: false }
    }
    const output = [...new Set(st.dnats)].sort().join(", ")
    return { output, masq: st.masq }
  }
}
