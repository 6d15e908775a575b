/**
 * The proxy modes the runtime can simulate, each with the factory of its backend on one node.
 *
 * A mode is listed here only when its proxier compiles from the objects and its kernel state is
 * executed packet by packet; the scenario loader refuses any other mode (`kubeProxy.mode`), so a
 * run never reports figures a mode does not produce.
 */
import { DEFAULT_NFTABLES_SYNC_COST, IptablesSyncCostModel, NftablesSyncCostModel } from "../proxy/sync-cost.ts"
import type { NetfilterStack } from "../netfilter/stack.ts"
import type { ProxyNode } from "../proxy/service-port.ts"
import type { Scheduler } from "../sim/scheduler.ts"
import type { Network } from "../net/network.ts"
import type { NetNs } from "../net/netns.ts"
import { IptablesBackend, type ProxyBackend } from "./kube-proxy.ts"
import { NftablesBackend } from "./backend-nftables.ts"
import { Rng } from "../sim/rng.ts"
import { IpvsBackend } from "./backend-ipvs.ts"
import type { KubeProxySpec } from "./spec.ts"
import { sharedIptablesCompile, type SharedIptablesCompile } from "../proxy/iptables/proxier.ts"
import type { SharedServicePorts } from "../proxy/shared-service-ports.ts"
import { UserspaceBackend } from "./backend-userspace.ts"
import { NftInternPool } from "../netfilter/nftables/intern.ts"
import { NftSpecPool } from "../proxy/nftables/table.ts"
import { NftSharedSync } from "../proxy/nftables/proxier.ts"
import { type UserspaceProxyJournal, userspaceProxyJournal } from "../proxy/userspace/proxier.ts"

export type ProxyMode = KubeProxySpec["mode"]

/** What a backend may use on its node. */
export interface ProxyBackendContext {
  readonly scheduler: Scheduler
  readonly node: ProxyNode
  /** The node's root network namespace and its netfilter. */
  readonly ns: NetNs
  readonly network: Network
  readonly stack: NetfilterStack
  readonly spec: KubeProxySpec
  /** Seed of the run, for the backend's named random streams. */
  readonly seed: number
  /** The cluster's ServiceCIDRs (the apiserver's default ServiceCIDR); absent = none known. */
  readonly serviceCIDRs?: readonly string[]
  /**
   * What the nodes' proxiers share (compiled per-Service rules, the service-port view): one per
   * cluster. Absent = nothing shared (each node compiles on its own; same output).
   */
  readonly shared?: SharedProxyState
}

/** Per-cluster state every node's backend may share (wall time and memory only; results unchanged). */
export class SharedProxyState {
  private iptablesCompile: SharedIptablesCompile | null = null
  private nftablesPool: NftInternPool | null = null

  private nftablesSpecPool: NftSpecPool | null = null

  /** nftables mode: the committed chains, rules and sets nodes share (netfilter/nftables/intern.ts). */
  get nftables(): NftInternPool {
    if (this.nftablesPool === null) this.nftablesPool = new NftInternPool()
    return this.nftablesPool
  }

  /** nftables mode: the rule and element specs the nodes' proxiers share (proxy/nftables/table.ts). */
  private nftablesSharedSync: NftSharedSync | null = null
  /** nftables mode: the transactions nodes with the same view share (proxy/nftables/proxier.ts). */
  get nftablesSync(): NftSharedSync {
    if (this.nftablesSharedSync === null) this.nftablesSharedSync = new NftSharedSync()
    return this.nftablesSharedSync
  }

  get nftablesSpecs(): NftSpecPool {
    if (this.nftablesSpecPool === null) this.nftablesSpecPool = new NftSpecPool()
    return this.nftablesSpecPool
  }

  /**
   * userspace mode: idle nodes' proxiers defer their work along one journal (proxy/userspace/
   * deferral.ts; same results). False: every node does its own at once (the reference).
   */
  deferIdleUserspace = true
  private userspaceJournalOf: UserspaceProxyJournal | null = null

  userspaceJournal(network: object): UserspaceProxyJournal | null {
    if (!this.deferIdleUserspace) return null
    if (this.userspaceJournalOf === null) this.userspaceJournalOf = userspaceProxyJournal(network)
    return this.userspaceJournalOf
  }

  get iptables(): SharedIptablesCompile {
    if (this.iptablesCompile === null) this.iptablesCompile = sharedIptablesCompile()
    return this.iptablesCompile
  }

  /** The cluster's service-port view (the same lists every mode's proxier builds per node). */
  get servicePorts(): SharedServicePorts {
    return this.iptables.servicePorts
  }
}

/** The stream a node's sync durations are drawn from when a profile varies them. */
export function syncCostRng(c: ProxyBackendContext): Rng {
  return Rng.stream(c.seed, `node/${c.node.name}/kube-proxy/sync-cost`)
}

export type ProxyBackendFactory = (context: ProxyBackendContext) => ProxyBackend

export const PROXY_BACKENDS: Partial<Record<ProxyMode, ProxyBackendFactory>> = {
  iptables: (c) =>
    new IptablesBackend(
      c.node,
      c.stack,
      c.spec,
      new IptablesSyncCostModel(c.spec.syncCost.iptables, syncCostRng(c)),
      c.shared?.iptables,
    ),
  nftables: (c) =>
    new NftablesBackend(
      c.node,
      c.stack,
      c.spec,
      Rng.stream(c.seed, `node/${c.node.name}/nftables/numgen`),
      c.serviceCIDRs ?? [],
      new NftablesSyncCostModel(c.spec.syncCost.nftables ?? DEFAULT_NFTABLES_SYNC_COST, syncCostRng(c)),
      c.shared?.servicePorts,
      c.shared?.nftables,
      c.shared?.nftablesSpecs,
      c.shared?.nftablesSync,
    ),
  userspace: (c) => new UserspaceBackend({ ...c, journal: c.shared?.userspaceJournal(c.network) ?? null }),
  ipvs: (c) => new IpvsBackend(c),
}

/** Modes a scenario may ask for, in the order `compare` runs them by default. */
export function simulatedProxyModes(): ProxyMode[] {
  return (["iptables", "ipvs", "nftables", "userspace"] as const).filter((m) => PROXY_BACKENDS[m] !== undefined)
}
