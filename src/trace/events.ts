/**
 * Packet trace events: what `kube-netsim trace` records while one packet (and the replies it
 * causes) crosses the simulated data plane, as plain JSON-ready data (strings and integers only).
 *
 * The events are the simulated counterpart of the kernel's packet tracing (`iptables -t raw -j
 * TRACE`, `nft monitor trace`, pwru): a `hook` event per netfilter hook traversal, holding the rules
 * that matched (and, verbosely, those evaluated without matching) per table and chain, the NAT
 * decisions, the conntrack entries created and the verdict; `send`, `transmit`, `deliver` and
 * `drop` events for what the network stack did around the hooks. trace/engine.ts produces them;
 * format.ts prints them. Rule numbers are 1-based, as TRACE prints them (`nat:KUBE-SERVICES:rule:3`).
 *
 * Every field is a pure function of (scenario, seed, trace options, program version).
 */

/** A packet's headers as seen at one point of its path. ICMP echo: `srcPort` is the identifier. */
export interface PacketView {
  readonly id: number
  readonly protocol: string
  readonly src: string
  readonly srcPort: number
  readonly dst: string
  readonly dstPort: number
  /** TCP flags ("SYN", "SYN,ACK", "RST,ACK"), ICMP type ("echo-request id=1 seq=1"), or "". */
  readonly detail: string
  readonly bytes: number
}

/** A rule evaluated without matching (only with `verbose`). */
export interface RuleRef {
  readonly rule: number
  /** The rule as iptables-save prints it: `-A CHAIN ...`. */
  readonly text: string
}

/** A rule matched: its target ran. */
export interface RuleStep {
  readonly kind: "rule"
  readonly table: string
  readonly chain: string
  /** 1-based position in the chain. */
  readonly rule: number
  readonly text: string
  /** Target kind: ACCEPT, DROP, REJECT, RETURN, JUMP, GOTO, MARK, DNAT, SNAT, MASQUERADE, NOTRACK, LOG, NONE. */
  readonly target: string
  /** Rules a linear walk evaluated in this chain to reach this one (this one included). */
  readonly evaluated: number
  readonly notMatched?: readonly RuleRef[]
}

/** The end of a user chain was reached without a verdict: back to the calling chain. */
export interface ReturnStep {
  readonly kind: "return"
  readonly table: string
  readonly chain: string
  /** 1-based number of the first rule evaluated in this stretch of the chain (length + 1 if none). */
  readonly from: number
  readonly evaluated: number
  readonly notMatched?: readonly RuleRef[]
}

/** The end of a built-in chain was reached: its policy decides. */
export interface PolicyStep {
  readonly kind: "policy"
  readonly table: string
  readonly chain: string
  /** 1-based number of the first rule evaluated in this stretch of the chain (length + 1 if none). */
  readonly from: number
  readonly policy: "ACCEPT" | "DROP"
  readonly evaluated: number
  readonly notMatched?: readonly RuleRef[]
}

/** A conntrack event: entry created, NAT binding set up, confirmed (inserted), failed, released. */
export interface ConntrackStep {
  readonly kind: "conntrack"
  readonly event: "new" | "nat" | "confirm" | "insert-failed" | "table-full" | "released"
  /** The entry as `conntrack -L` prints it ("" when there is none, e.g. table full). */
  readonly entry: string
}

/**
 * An nftables base chain ran (nftables mode): the chains entered from it, in order (jumps and
 * gotos included), its verdict, and the kernel expressions evaluated (the cost charged).
 */
export interface NftStep {
  readonly kind: "nft"
  /** "ip kube-proxy". */
  readonly table: string
  /** The base chain. */
  readonly chain: string
  /** The base chain first, then every chain entered. */
  readonly chains: readonly string[]
  readonly verdict: "accept" | "drop" | "reject"
  /** Kernel expressions evaluated (nft has no per-rule walk to report; the cost is per expression). */
  readonly evaluated: number
  /** Set and map lookups among them. */
  readonly lookups: number
  /** Not reported for nft chains (the interpreter does not record failed rules). */
  readonly notMatched?: readonly RuleRef[]
}

/**
 * IPVS acted on the packet (ipvs mode): ip_vs_in scheduled a new connection or found one and
 * transmits to its real server (ip_vs_nat_xmit), or ip_vs_out gave a reply the virtual service's
 * address back.
 */
export interface IpvsStep {
  readonly kind: "ipvs"
  readonly action: "schedule" | "connection" | "reply"
  /** The virtual service as ipvsadm -Ln lists it: "TCP  10.96.0.10:53 rr". */
  readonly service: string
  /** The connection's real server "ADDR:PORT". */
  readonly realServer: string
  /** The real server is on this host: the packet goes up (NF_ACCEPT) instead of out (NF_STOLEN). */
  readonly local: boolean
}

export type HookStep = RuleStep | ReturnStep | PolicyStep | ConntrackStep | NftStep | IpvsStep

/** An address or port rewrite a hook made, by a NAT rule or by conntrack for a known connection. */
export interface NatChange {
  readonly type: "DNAT" | "SNAT"
  readonly from: string
  readonly to: string
  readonly by: "rule" | "conntrack" | "ipvs"
}

export interface ConntrackView {
  /** ctstate bits as `-m conntrack --ctstate` names them: "NEW", "ESTABLISHED,DNAT"... */
  readonly state: string
  readonly direction: "original" | "reply"
  readonly entry: string
}

export interface StartEvent {
  readonly kind: "start"
  readonly timeNs: number
  readonly scenario: string
  readonly seed: number
  /** Why the trace starts at timeNs: "--at", "settled" (every pod ready, every kube-proxy synced) or "duration". */
  readonly atReason: string
  readonly from: string
  readonly fromAddress: string
  readonly to: string
  readonly protocol: string
  readonly address: string
  readonly port: number
  /** The Service the target reaches ("namespace/name"), or null. */
  readonly service: string | null
}

export interface SendEvent {
  readonly kind: "send"
  readonly timeNs: number
  /** When the stack hands the packet to the output path (after processing costs; >= timeNs). */
  readonly readyNs: number
  readonly ns: string
  readonly packet: PacketView
  /** "probe" (the traced packet), "reply" (an answer to it) or "error" (ICMP error / RST about it). */
  readonly role: "probe" | "reply" | "error"
  /** Output route: "10.96.0.10 via 10.244.0.1 dev eth0", "local", or "no route". */
  readonly route: string
}

export interface HookEvent {
  readonly kind: "hook"
  readonly timeNs: number
  readonly ns: string
  readonly hook: string
  readonly in: string | null
  readonly out: string | null
  readonly before: PacketView
  readonly after: PacketView
  readonly verdict: "ACCEPT" | "DROP" | "REJECT" | "STOLEN"
  /** For REJECT: what answers the sender ("icmp-port-unreachable", "tcp-reset"...). */
  readonly rejectWith: string | null
  /** Simulated CPU charged for this hook (rules x per-rule cost + conntrack work). */
  readonly costNs: number
  readonly rulesEvaluated: number
  readonly steps: readonly HookStep[]
  readonly nat: readonly NatChange[]
  readonly conntrack: ConntrackView | null
}

export interface TransmitEvent {
  readonly kind: "transmit"
  readonly timeNs: number
  readonly ns: string
  readonly packetId: number
  readonly dev: string
  readonly departNs: number
  readonly arriveNs: number
}

export interface DeliverEvent {
  readonly kind: "deliver"
  readonly timeNs: number
  readonly ns: string
  readonly packet: PacketView
  readonly what: string
}

export interface DropEvent {
  readonly kind: "drop"
  readonly timeNs: number
  readonly ns: string
  readonly packet: PacketView
  readonly reason: string
}

export interface VerdictEvent {
  readonly kind: "verdict"
  readonly timeNs: number
  /** The traced packet's fate: "delivered", "dropped" (DROP or REJECT included) or "in-flight". */
  readonly fate: "delivered" | "dropped" | "in-flight"
  /** What happened to the traced packet. */
  readonly probe: string
  /** What came back, or null. */
  readonly reply: string | null
  /** What the sending application saw. */
  readonly socket: string
}

export type TraceEvent = StartEvent | SendEvent | HookEvent | TransmitEvent | DeliverEvent | DropEvent | VerdictEvent

export interface TraceResult {
  /** Start first, verdict last, the rest in simulated-time order. */
  readonly events: readonly TraceEvent[]
}
