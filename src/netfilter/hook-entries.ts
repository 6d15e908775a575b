/**
 * The hook host: per-hook ordered lists of operations, as the kernel's `struct nf_hook_entries`.
 *
 * Every component that wants packets at a netfilter hook (conntrack, the iptables tables, nftables
 * base chains, IPVS) registers an op = (hook, priority, handler) with `register`, as
 * nf_register_net_hook does. The ops of one hook run in ascending priority; ops of equal priority
 * run in registration order (nf_hook_entries_grow, net/netfilter/core.c, inserts a new op before the
 * first op of strictly greater priority). A hook's traversal stops at the first verdict other than
 * ACCEPT (nf_hook_slow: NF_ACCEPT continues, NF_DROP frees the skb, NF_STOLEN hands it over).
 *
 * Hot path: one plain array of ops per hook, handlers are objects with a `hookFn` method (no
 * closure per packet, nothing allocated per call).
 *
 * Priorities, from include/uapi/linux/netfilter_ipv4.h (enum nf_ip_hook_priorities) and, for IPVS,
 * net/netfilter/ipvs/ip_vs_core.c (ip_vs_ops4): see NfPriority below and MODEL.md.
 */
import type { Hook } from "../net/hooks.ts"
import type { Verdict } from "../net/hooks.ts"
import type { Packet } from "../wire/packet.ts"

/** enum nf_ip_hook_priorities (include/uapi/linux/netfilter_ipv4.h). */
export const NfPriority = {
  FIRST: -2147483648,
  RAW_BEFORE_DEFRAG: -450,
  CONNTRACK_DEFRAG: -400,
  RAW: -300,
  SELINUX_FIRST: -225,
  CONNTRACK: -200,
  MANGLE: -150,
  NAT_DST: -100,
  FILTER: 0,
  SECURITY: 50,
  NAT_SRC: 100,
  SELINUX_LAST: 225,
  CONNTRACK_HELPER: 300,
  CONNTRACK_CONFIRM: 2147483647,
  LAST: 2147483647,
} as const

/**
 * IPVS's hooks (ip_vs_ops4, net/netfilter/ipvs/ip_vs_core.c): ip_vs_reply4 at LOCAL_IN with
 * NF_IP_PRI_NAT_SRC - 2 (after the filter table, before SNAT), ip_vs_remote_request4 at LOCAL_IN
 * with NF_IP_PRI_NAT_SRC - 1, ip_vs_local_reply4 at LOCAL_OUT with NF_IP_PRI_NAT_DST + 1,
 * ip_vs_local_request4 at LOCAL_OUT with NF_IP_PRI_NAT_DST + 2, ip_vs_forward_icmp at FORWARD with
 * 99 and ip_vs_reply4 at FORWARD with 100.
 */
export const IpvsPriority = {
  LOCAL_IN_REPLY: NfPriority.NAT_SRC - 2,
  LOCAL_IN_REQUEST: NfPriority.NAT_SRC - 1,
  LOCAL_OUT_REPLY: NfPriority.NAT_DST + 1,
  LOCAL_OUT_REQUEST: NfPriority.NAT_DST + 2,
  FORWARD_ICMP: 99,
  FORWARD_REPLY: 100,
} as const

/** What a hook function sees besides the packet (struct nf_hook_state). One instance per host, reused. */
export class NfHookState {
  hook: Hook = 0
  inIfIndex = -1
  outIfIndex = -1
  nowNs = 0
  /** Simulated CPU the ops of this traversal charged beyond the rule walk (conntrack, set lookups...). */
  extraNs = 0
}

/** A hook function as an object with a method (`nf_hookfn`); `priv` is the object itself. */
export interface NfHookHandler {
  hookFn(packet: Packet, state: NfHookState): Verdict
  /**
   * Called with the network's packet handle right after this handler returned STOLEN: the handler
   * now owns the packet and must send it on (or free it) through the network, not before `readyNs`.
   */
  takeStolen?(handle: number, packet: Packet, readyNs: number): void
  /**
   * True when `hookFn` returns ACCEPT at once, changing and charging nothing, for every packet that
   * is not ICMP (ip_vs_forward_icmp): the host may skip the call for those packets.
   */
  readonly icmpOnly?: boolean
  /**
   * True when `hookFn` returns ACCEPT at once, changing and charging nothing, for the packet IPVS
   * itself is sending on (skb->ipvs_property, NetfilterStack.ipvsPropertyPacket: ip_vs_in_hook's
   * and ip_vs_out_hook's first test): the host may skip the call for that packet.
   */
  readonly skipsIpvsProperty?: boolean
}

/** struct nf_hook_ops. */
export interface NfHookOp {
  readonly hook: Hook
  readonly priority: number
  readonly handler: NfHookHandler
  /** For listings and errors (e.g. "iptables nat", "conntrack in", "ipvs local request"). */
  readonly name: string
}

const HOOK_COUNT = 5

/** Per-hook op lists of one namespace (net->nf.hooks_ipv4). */
export class NfHookEntries {
  /** ops[hook]: ascending priority, then registration order. */
  readonly ops: NfHookOp[][] = Array.from({ length: HOOK_COUNT }, () => [])
  /** Bumped by every register/unregister, so that run-order caches (NetfilterStack) know to rebuild. */
  version = 0

  /** nf_register_net_hook. The same op object registered twice is refused (it would run twice). */
  register(op: NfHookOp): void {
    if (op.hook < 0 || op.hook >= HOOK_COUNT) throw new Error(`netfilter: no hook ${op.hook} (${op.name})`)
    if (!Number.isInteger(op.priority)) throw new Error(`netfilter: priority of ${op.name} must be an integer`)
    const list = this.ops[op.hook]
    if (list.includes(op)) throw new Error(`netfilter: ${op.name} is already registered at hook ${op.hook}`)
    let i = 0
    while (i < list.length && list[i].priority <= op.priority) i++
    list.splice(i, 0, op)
    this.version++
  }

  /** nf_unregister_net_hook. Returns false when the op was not registered. */
  unregister(op: NfHookOp): boolean {
    const list = this.ops[op.hook]
    const i = list.indexOf(op)
    if (i < 0) return false
    list.splice(i, 1)
    this.version++
    return true
  }

  /** "PRIORITY NAME" lines of one hook, in run order (for tests and `rules` listings). */
  describe(hook: Hook): string[] {
    return this.ops[hook].map((op) => `${op.priority} ${op.name}`)
  }
}
