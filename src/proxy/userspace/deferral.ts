/**
 * Idle userspace proxiers deferred (issue 10, MODEL.md "userspace mode: idle nodes deferred").
 *
 * Every node's userspace proxier opens a proxy port per service port and shuffles every Service's
 * endpoints with its own random streams: at 5,000 nodes x 10,000 Services that is 50 million ports
 * and shuffles, most on nodes no packet to a Service ever reaches. What the nodes' proxiers do is
 * the same sequence of operations on the same inputs (the same Endpoints writes read at the same
 * store revisions, syncs of the same Service lists, their commits); only the values drawn from each
 * node's streams (proxy ports, shuffles) differ, and nothing outside the proxier reads them until a
 * packet or a reader needs the node's ports.
 *
 * So a node's proxier starts as a position in this journal: a tree of those operations, shared by
 * the cluster's nodes (a node that does what another did before it follows the same branch). What
 * a sync needs of a node meanwhile (its iptables command count, the restore input, which ports open
 * and close) is the same for every node on the branch, and is computed once per step from a shape
 * of the proxier's state that holds no ports. When something needs the node's own values (a packet
 * delivered in its host namespace or NAT'd to a proxy port, a bind there, a printout), the proxier
 * replays its path through the real code, with its own streams, in the same order: the ports, ids,
 * shuffles and bindings it gets are those it would have had (nothing else drew from those streams or
 * bound in that namespace meanwhile: each such use replays first). A step a node cannot share (a
 * portal on one of its own addresses, a NodePort filter rule that names its proxy port, a port
 * range that could run out) replays it at once and it goes on as before.
 */
import type { Service } from "../../k8s/types.ts"

/** What the journal reads of a plan (proxier.ts UserspacePlan). */
export interface JournalPlan {
  readonly serviceMap: object
  readonly services: ReadonlyMap<string, Service>
  readonly claims: ReadonlyMap<string, string>
  readonly opened: readonly unknown[]
  readonly closed: readonly unknown[]
  readonly allocated: readonly unknown[]
}

/** What the journal reads of a batch of Endpoints writes (proxier.ts EndpointsBatch). */
export interface JournalBatch {
  readonly from: number
  readonly end: number
  readonly revision: number
}

export const StepKind = {
  ROOT: 0,
  /** The watch read a range of Endpoints writes (syncEndpoints). */
  ENDPOINTS: 1,
  /** A sync started: the Service changes merged into a plan (plan). */
  PLAN: 2,
  /** The sync's kernel write ended: the plan committed (commit). */
  COMMIT: 3,
  /** The sync's kernel write failed: the plan discarded (discard). */
  DISCARD: 4,
} as const
export type StepKind = (typeof StepKind)[keyof typeof StepKind]

/** The proxier's state after a step, without the node's own values (ports, shuffles). */
export interface ShapeState<P extends JournalPlan> {
  /** The state a plan starts from: the last committed service map, Services and claims. */
  readonly serviceMap: P["serviceMap"]
  readonly services: ReadonlyMap<string, Service>
  readonly claims: ReadonlyMap<string, string>
  /** The plan made and not yet committed or discarded (a sync lasts; the watch reads meanwhile). */
  readonly pending: P | null
  /** Proxy ports bound after the last commit (each service port's, until closed). */
  readonly portsBound: number
  /** `--proxy-port-range`: ports the range allocator holds (allocated and not released). */
  readonly rangeUsed: number
}

/** A plan's shape and what a node must check before taking it (JournalStep of kind PLAN). */
export interface PlanShape<P extends JournalPlan> {
  readonly plan: P
  /** Ports the range allocator holds after it (allocations taken, none released yet). */
  readonly rangeUsed: number
  /**
   * False when the plan's effect differs per node whatever its addresses: its restore input holds
   * a line per node (the NodePort filter rule names the node's proxy port).
   */
  readonly shareable: boolean
  /** The portal addresses of the ports it opens: a node owning one claims them (openPortal). */
  readonly portalAddrs: ReadonlySet<number>
}

export class JournalStep<P extends JournalPlan, B extends JournalBatch> {
  readonly children: JournalStep<P, B>[] = []

  constructor(
    readonly parent: JournalStep<P, B> | null,
    readonly kind: StepKind,
    readonly state: ShapeState<P>,
    /** ENDPOINTS: the writes read (with the feed they came from). */
    readonly batch: B | null,
    readonly feed: object | null,
    /** PLAN: the Service list the sync saw (the store's array: one per Service revision). */
    readonly services: readonly Service[] | null,
    /** PLAN: its shape. */
    readonly shape: PlanShape<P> | null,
    /**
     * PLAN: proxy ports bound at most while it runs (those bound before, and those it opens while
     * the ports it closes stay bound until the commit): with the random allocator a node whose
     * namespace held fewer than the ephemeral range minus this could not fail to get one.
     */
    readonly portsNeeded: number,
  ) {}
}

/** A branch point with this many children takes no more: further nodes replay instead. */
const BRANCHES_MAX = 8

/** The cluster's journal of userspace proxier operations (one per cluster: SharedProxyState). */
export class UserspaceJournal<P extends JournalPlan, B extends JournalBatch> {
  readonly root: JournalStep<P, B>
  /** Steps made (each computed once), and steps taken by a node that found them made. */
  stepsMade = 0
  stepsTaken = 0
  /** Nodes that replayed their path (a packet, a bind, a reader, or a step they could not share). */
  nodesReplayed = 0
  /** Operations replayed over all those nodes. */
  stepsReplayed = 0

  constructor(serviceMap: P["serviceMap"]) {
    this.root = new JournalStep<P, B>(
      null,
      StepKind.ROOT,
      { serviceMap, services: new Map(), claims: new Map(), pending: null, portsBound: 0, rangeUsed: 0 },
      null,
      null,
      null,
      null,
      0,
    )
  }

  /** The watch read `batch` (positions [from, end) of `feed`). Null: the node must replay. */
  endpoints(at: JournalStep<P, B>, feed: object, batch: B): JournalStep<P, B> | null {
    for (const child of at.children)
      if (
        child.kind === StepKind.ENDPOINTS &&
        child.feed === feed &&
        (child.batch as B).from === batch.from &&
        (child.batch as B).end === batch.end &&
        (child.batch as B).revision === batch.revision
      )
        return this.taken(child)
    return this.add(at, new JournalStep<P, B>(at, StepKind.ENDPOINTS, at.state, batch, feed, null, null, 0))
  }

  /**
   * A sync of `services` starts. `shape` computes the plan from the step's state (once per step).
   * Null: the node must replay (no room for a branch); a step whose shape is not shareable is
   * returned, and the node replays on seeing it.
   */
  plan(
    at: JournalStep<P, B>,
    services: readonly Service[],
    shape: (state: ShapeState<P>, services: readonly Service[]) => PlanShape<P>,
  ): JournalStep<P, B> | null {
    if (at.state.pending !== null) return null
    for (const child of at.children)
      if (child.kind === StepKind.PLAN && child.services === services) return this.taken(child)
    if (at.children.length >= BRANCHES_MAX) return null
    const made = shape(at.state, services)
    const state: ShapeState<P> = { ...at.state, pending: made.plan, rangeUsed: made.rangeUsed }
    const portsNeeded = at.state.portsBound + made.plan.opened.length
    return this.add(at, new JournalStep<P, B>(at, StepKind.PLAN, state, null, null, services, made, portsNeeded))
  }

  /** The pending plan committed. Null: the node must replay. */
  commit(at: JournalStep<P, B>): JournalStep<P, B> | null {
    const plan = at.state.pending
    if (plan === null) return null
    for (const child of at.children) if (child.kind === StepKind.COMMIT) return this.taken(child)
    if (at.children.length >= BRANCHES_MAX) return null
    const s = at.state
    const state: ShapeState<P> = {
      serviceMap: plan.serviceMap,
      services: plan.services,
      claims: plan.claims,
      pending: null,
      portsBound: s.portsBound - plan.closed.length + plan.opened.length,
      // commit releases the closed ports' range ports.
      rangeUsed: s.rangeUsed - plan.closed.length,
    }
    return this.add(at, new JournalStep<P, B>(at, StepKind.COMMIT, state, null, null, null, null, 0))
  }

  /** The pending plan discarded (its allocations released). Null: the node must replay. */
  discard(at: JournalStep<P, B>): JournalStep<P, B> | null {
    const plan = at.state.pending
    if (plan === null) return null
    for (const child of at.children) if (child.kind === StepKind.DISCARD) return this.taken(child)
    if (at.children.length >= BRANCHES_MAX) return null
    const state: ShapeState<P> = { ...at.state, pending: null, rangeUsed: at.state.rangeUsed - plan.allocated.length }
    return this.add(at, new JournalStep<P, B>(at, StepKind.DISCARD, state, null, null, null, null, 0))
  }

  /** The steps from the root to `at`, in order (what a node replays). */
  path(at: JournalStep<P, B>): JournalStep<P, B>[] {
    const out: JournalStep<P, B>[] = []
    for (let s: JournalStep<P, B> | null = at; s !== null && s.kind !== StepKind.ROOT; s = s.parent) out.push(s)
    return out.reverse()
  }

  private taken(step: JournalStep<P, B>): JournalStep<P, B> {
    this.stepsTaken++
    return step
  }

  private add(at: JournalStep<P, B>, step: JournalStep<P, B>): JournalStep<P, B> | null {
    if (at.children.length >= BRANCHES_MAX) return null
    at.children.push(step)
    this.stepsMade++
    return step
  }
}
