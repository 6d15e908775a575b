/**
 * userspace mode (`kubeProxy.mode: userspace`, kube-proxy <= v1.25): the ProxyBackend that runs
 * the userspace proxier of proxy/userspace/ on a node: proxy sockets in the node's namespace and
 * the KUBE-PORTALS-* / KUBE-NODEPORT-* iptables rules that redirect service traffic to them.
 *
 * A sync (syncProxyRules) merges the Service changes when it starts; when it ends the sockets of
 * changed ports are closed and opened and the proxier's chains are written (the real proxier runs
 * one `iptables` command per rule; the end state is the same). Endpoints reach the load balancer
 * from the watch directly (onObjectsChanged), not through syncs.
 *
 * Sync duration: the proxier runs `iptables` once per rule check/append/delete (EnsureRule,
 * DeleteRule) and ensurePortals re-checks every portal rule of every service each sync; with the
 * legacy backend each invocation reads the whole table. Each is charged as one iptables run of the
 * measured iptables cost model (fixed + per table rule), DERIVED from the iptables-restore
 * measurements (MODEL.md "userspace mode").
 */
import type { ApiStore } from "../k8s/store.ts"
import type { EndpointSlice, Service } from "../k8s/types.ts"
import type { NetfilterStack } from "../netfilter/stack.ts"
import { TableId } from "../netfilter/constants.ts"
import { Protocol } from "../wire/protocol.ts"
import { parseIpv4 } from "../wire/ipv4.ts"
import { Rng } from "../sim/rng.ts"
import type { EventHandler, Scheduler } from "../sim/scheduler.ts"
import {
  USERSPACE_CHAINS,
  USERSPACE_JUMP_RULES,
  UserspaceProxier,
  type UserspacePlan,
  type UserspaceProxyJournal,
} from "../proxy/userspace/proxier.ts"
import { DEFAULT_IPTABLES_SYNC_COST } from "../proxy/sync-cost.ts"
import { type CompiledSync, type ProxyBackend, kubeProxyChainsOnly } from "./kube-proxy.ts"
import type { KubeProxySpec, UserspaceProxySpec } from "./spec.ts"
import type { Network } from "../net/network.ts"
import type { NetNs } from "../net/netns.ts"
import type { ProxyNode } from "../proxy/service-port.ts"

/** What the backend uses of proxy-backends.ts's ProxyBackendContext (not imported: no cycle). */
export interface UserspaceBackendContext {
  readonly scheduler: Scheduler
  readonly node: ProxyNode
  readonly ns: NetNs
  readonly network: Network
  readonly stack: NetfilterStack
  readonly spec: KubeProxySpec
  readonly seed: number
  /**
   * The cluster's journal of userspace proxier operations: a node's proxier defers its work until
   * a packet or a reader needs it (proxy/userspace/deferral.ts). Absent: every node does its own.
   */
  readonly journal?: UserspaceProxyJournal | null
}

/** Defaults of kubeProxy.userspace (MODEL.md "userspace mode" gives the sources). */
export const DEFAULT_USERSPACE_PROXY: UserspaceProxySpec = {
  proxyPortRange: null,
  udpIdleTimeoutNs: 250_000_000,
  connectCostNs: 20_000,
  copyCostPerMessageNs: 5_000,
  copyCostPerKiBNs: 250,
}

export class UserspaceBackend implements ProxyBackend<UserspacePlan>, EventHandler {
  readonly mode = "userspace"
  /** The userspace proxier created no ServiceHealthServer: healthCheckNodePorts go unanswered. */
  readonly serviceHealthServers = false
  /**
   * Endpoints changes do not sync (v1.25 pkg/proxy/userspace/proxier.go: the Proxier embeds
   * config.NoopEndpointSliceHandler; OnEndpointsAdd/Update/Delete call only
   * loadBalancer.OnEndpoints*; serviceChange is the only caller of syncRunner.Run()).
   */
  readonly endpointWritesSync = false
  readonly proxier: UserspaceProxier
  private readonly stack: NetfilterStack
  private readonly scheduler: Scheduler
  private readonly kindWatch: number
  private readonly fixedNs: number
  private readonly perTableRuleNs: number
  private store: ApiStore | null = null
  private watchPending = false
  /** Told when the scheduled watch handling ran (ProxyBackend.onObjectsTaken). */
  onObjectsTaken: (() => void) | null = null
  private pending: UserspacePlan | null = null
  private jumpsInstalled = false
  /** The proxier's chains after its last restore (null before the first). */
  private written: (object | undefined)[] | null = null
  /** Restores this node's syncs wrote (a sync that changes nothing writes none). */
  restoresWritten = 0

  constructor(c: UserspaceBackendContext) {
    const u = c.spec.userspace ?? DEFAULT_USERSPACE_PROXY
    this.stack = c.stack
    this.scheduler = c.scheduler
    const cost = c.spec.syncCost.iptables ?? DEFAULT_IPTABLES_SYNC_COST
    this.fixedNs = cost.fixedNs
    this.perTableRuleNs = cost.perTableRuleNs
    this.proxier = new UserspaceProxier(
      c.node,
      c.network,
      c.ns,
      c.scheduler,
      {
        proxyPortRange: u.proxyPortRange,
        udpIdleTimeoutNs: u.udpIdleTimeoutNs,
        costs: { connectNs: u.connectCostNs, perMessageNs: u.copyCostPerMessageNs, perKiBNs: u.copyCostPerKiBNs },
      },
      Rng.stream(c.seed, `node/${c.node.name}/userspace-proxy`),
      c.stack.natParams,
      c.journal ?? null,
    )
    // The host IP the shared portal rules' `{host}` names (DNAT --to-destination hostIP:proxyPort).
    c.stack.natParams.hostAddress = parseIpv4(this.proxier.hostIP) ?? 0
    this.kindWatch = c.scheduler.registerKind(`userspace-proxy/${c.node.name}/endpoints-watch`, this)
  }

  watch(store: ApiStore): void {
    this.store = store
  }

  /**
   * An object changed: the Endpoints handler runs once the writer's step is over (the Endpoints
   * object is written after the EndpointSlices in the same controller pass).
   */
  onObjectsChanged(nowNs: number): void {
    if (this.watchPending) return
    this.watchPending = true
    this.scheduler.schedule(nowNs, this.kindWatch, 0, 0)
  }

  /** onObjectsChanged would do nothing now (ProxyBackend.objectsChangePending). */
  get objectsChangePending(): boolean {
    return this.watchPending
  }

  handleEvent(): void {
    this.watchPending = false
    this.onObjectsTaken?.()
    if (this.store !== null) this.proxier.syncEndpoints(this.store)
  }

  compile(
    _nowNs: number,
    services: readonly Service[],
    _slices: readonly EndpointSlice[],
  ): CompiledSync<UserspacePlan> {
    // OnEndpointsSynced before the first sync; later calls find nothing new.
    if (this.store !== null) this.proxier.syncEndpoints(this.store)
    const plan = this.proxier.plan(services)
    this.pending = plan
    // Each iptables invocation of legacy iptables reads (and a change writes back) the whole table.
    const perCommandNs = this.fixedNs + this.perTableRuleNs * plan.natRules
    return {
      durationNs: plan.commands * perCommandNs,
      fullSync: true,
      natRules: plan.natRules,
      filterRules: plan.filterRules,
      tableObjects: plan.natRules + plan.filterRules,
      // The shared stale-UDP cleanup keys on DNAT to endpoints, which this mode never does (its
      // REDIRECT targets the node itself); its own cleanup runs in apply.
      services: [],
      payload: plan,
    }
  }

  apply(nowNs: number, sync: CompiledSync<UserspacePlan>): void {
    this.pending = null
    // The plan that committed: the node's own, or while it defers, the journal step's (the proxier
    // sets the node's proxy ports in its NAT parameters).
    const plan = this.proxier.commit(sync.payload, nowNs)
    // ensurePortals checks every rule (`iptables -C`) and appends only what is missing: with no
    // port opened or closed and the chains as this proxier last wrote them (a rewrite by anyone
    // else makes new Chain objects, table.ts), nothing is written (the checks' time is charged).
    if (plan.opened.length > 0 || plan.closed.length > 0 || !this.chainsAsWritten()) {
      this.stack.restore(this.proxier.restoreInput(plan.serviceMap), { noflush: true })
      this.restoresWritten++
      this.written = null
    }
    if (!this.jumpsInstalled) {
      const out: string[] = []
      for (const table of ["nat", "filter"] as const) {
        out.push(`*${table}`)
        for (const rule of USERSPACE_JUMP_RULES)
          if (rule.table === table) out.push(`${rule.insert ? "-I" : "-A"} ${rule.chain} ${rule.spec}`)
        out.push("COMMIT")
      }
      this.stack.restore(out.join("\n") + "\n", { noflush: true })
      this.jumpsInstalled = true
    }
    this.written ??= this.currentChains()
    // unmergeService: conntrack.ClearEntriesForIP(svcIP, UDP) for every UDP service port removed.
    const staleIPs = new Set<number>()
    for (const info of plan.closed)
      if (info.protocol === "udp" && plan.deleted.includes(info.name)) {
        const ip = parseIpv4(info.clusterIP)
        if (ip !== undefined) staleIPs.add(ip)
      }
    if (staleIPs.size > 0) {
      const ct = this.stack.conntrack
      for (const id of ct.ids()) if (ct.proto[id] === Protocol.UDP && staleIPs.has(ct.dstOf(id * 2))) ct.remove(id)
    }
  }

  /** The proxier's chains in the node's tables now (identity: copy-on-write, table.ts). */
  private currentChains(): (object | undefined)[] {
    return USERSPACE_CHAINS.map((c) =>
      this.stack.table(c.table === "nat" ? TableId.NAT : TableId.FILTER).chain(c.chain),
    )
  }

  private chainsAsWritten(): boolean {
    const written = this.written
    if (written === null) return false
    const now = this.currentChains()
    for (let i = 0; i < now.length; i++) if (now[i] === undefined || now[i] !== written[i]) return false
    return true
  }

  failed(): void {
    if (this.pending !== null) this.proxier.discard(this.pending)
    this.pending = null
  }

  /** iptables-save (sorted: the proxier's chains only), then the proxy's ports. */
  rules(sorted: boolean): string {
    // The node's own ports are printed: a deferred proxier does its work first.
    this.proxier.settle()
    const saved = this.stack.save()
    return (sorted ? kubeProxyChainsOnly(saved) : saved) + this.proxier.listing()
  }
}

/** The chains this mode owns (for tests). */
export const USERSPACE_CHAIN_NAMES: readonly string[] = USERSPACE_CHAINS.map((c) => c.chain)
