/**
 * A node's ingress queues and the NAPI order its softirq CPUs serve them in (issue 12 item 4;
 * MODEL.md "Contention").
 *
 * - A packet arriving from a veth or over lo goes through netif_rx -> enqueue_to_backlog
 *   (net/core/dev.c): it joins the per-CPU `softnet_data.input_pkt_queue`, admitted while that
 *   queue holds at most net.core.netdev_max_backlog packets (`qlen <= max_backlog`, so at most
 *   max_backlog + 1 wait) and otherwise dropped (SKB_DROP_REASON_CPU_BACKLOG, the `dropped`
 *   column of /proc/net/softnet_stat) before any netfilter hook runs.
 * - A packet arriving on a NIC waits in that NIC's RX ring until NAPI polls it; a full ring has no
 *   descriptor for it and the NIC drops it (ENA `rx_drops`/`rx_overruns`, virtio `rx_missed`),
 *   again before the stack sees it. One RX queue per CPU (RSS), `rxRingSize` descriptors each.
 *
 * Serving order (net_rx_action / napi_poll, net/core/dev.c): each CPU has two NAPI instances, the
 * NIC queue's (weight NAPI_POLL_WEIGHT 64) and the backlog's (process_backlog, weight dev_rx_weight
 * = net.core.dev_weight 64 x dev_weight_rx_bias 1). An instance is polled for up to its weight of
 * packets (it also takes the packets that arrive while it is polled), then the next instance on the
 * poll list gets its turn; one that used its whole weight goes to the tail of the list, one that
 * ran dry leaves it (napi_complete_done) and rejoins at the tail when a packet comes
 * (napi_schedule). net_rx_action's budget (netdev_budget 300) and time limit (netdev_budget_usecs
 * 2,000) end a softirq run and hand the rest to the next run or ksoftirqd; with two instances the
 * order after that is the same (the unpolled rest of the list, then newly scheduled instances,
 * then the repolled ones), and the model has no process-context work competing with ksoftirqd, so
 * they do not change which packet starts when: not modelled beyond that.
 *
 * A packet's start is therefore known at arrival only while it falls in the turn being served (its
 * instance is polled now, has no packets deferred ahead of it and has used less than its weight);
 * any other packet is deferred with its continuation and started when its CPU picks it
 * (Network.napiPoll). A packet that finds its CPU idle and both queues empty starts at once.
 *
 * The model's CPUs take whichever packet is ready first (no RSS / RPS steering), so the queues a
 * packet joins are those of the CPU free first, counting the work deferred there (freeFirst).
 */

/** net.core.netdev_max_backlog's default (Documentation/admin-guide/sysctl/net.rst: 1000). */
export const NETDEV_MAX_BACKLOG_DEFAULT = 1000
/**
 * RX descriptors per NIC queue: ENA_DEFAULT_RING_SIZE = 1024 (drivers/net/ethernet/amazon/ena/
 * ena_netdev.h), the Elastic Network Adapter of the EC2 nodes the scenarios' instance types name.
 */
export const RX_RING_SIZE_DEFAULT = 1024
/** NAPI_POLL_WEIGHT (include/linux/netdevice.h): the NIC queue's weight (netif_napi_add's default). */
export const NAPI_POLL_WEIGHT = 64
/**
 * dev_rx_weight = net.core.dev_weight (64, Documentation/admin-guide/sysctl/net.rst) x
 * net.core.dev_weight_rx_bias (1): process_backlog's quota (net/core/dev.c).
 */
export const DEV_RX_WEIGHT_DEFAULT = 64

/** Which of a CPU's two ingress queues (NAPI instances) a packet joins. */
export const INGRESS_QUEUE_BACKLOG = 0
export const INGRESS_QUEUE_RX_RING = 1

/** Initial capacity of a queue's rings (grown by doubling). */
const INITIAL_CAPACITY = 16

export class IngressBacklog {
  // Read per packet: `declare`d and assigned in the constructor rather than declared without a
  // value or as parameter properties, which are first defined as undefined, so V8 tracks them as
  // any value (see sim/empty.ts); assigned once, a field keeps the type of what it holds.
  /**
   * Start times of the started-at-arrival packets that still wait, one ring per CPU and queue kind
   * (index cpu * 2 + kind): non-decreasing (a CPU's free time only grows), popped once started.
   */
  declare private readonly rings: Float64Array[]
  declare private readonly heads: Int32Array
  declare private readonly lengths: Int32Array
  /** Packets a queue may hold when a new one arrives, per kind (above it the arrival is dropped). */
  declare private readonly admitBelow: Int32Array
  /** NAPI weight per kind: the packets an instance is polled for per turn. */
  declare readonly weights: Int32Array

  // Deferred packets (start not known yet), a FIFO per CPU and kind (index cpu * 2 + kind).
  declare private readonly dHandles: Int32Array[]
  declare private readonly dCostNs: Float64Array[]
  /** Not before (the time the work became ready: its arrival, or a local packet's ready time). */
  declare private readonly dReadyNs: Float64Array[]
  /** Interface the packet leaves by after its work; -1: delivered locally. */
  declare private readonly dOutIf: Int32Array[]
  declare private readonly dNextHop: Float64Array[]
  /** 1: counted against the queue's bound (a received packet); 0: a locally generated one. */
  declare private readonly dBounded: Uint8Array[]
  declare private readonly dHeads: Int32Array
  declare private readonly dLengths: Int32Array
  /** Deferred packets counted against each queue's bound. */
  declare private readonly dBoundedCount: Int32Array
  /** Work deferred per CPU (both kinds), so the CPU free first is found as before. */
  declare readonly deferredWorkNs: Float64Array
  /** Deferred packets per CPU (both kinds). */
  declare readonly deferredPerCpu: Int32Array
  /** Deferred packets on the node: 0 keeps every CPU on the started-at-arrival path. */
  deferredPackets = 0

  /** The instance whose turn the CPU serves (or served last); -1 none yet. */
  declare readonly active: Int8Array
  /** Packets the active instance has taken in its turn. */
  declare readonly turnCount: Int32Array
  /** The poll list per CPU: up to two kinds, head first (index cpu * 2 + position). */
  declare private readonly pollList: Int8Array
  declare private readonly pollLength: Int8Array
  /** 1 while a poll event is pending for the CPU. */
  declare readonly pollPending: Uint8Array

  declare readonly cpus: number
  declare readonly netdevMaxBacklog: number
  declare readonly rxRingSize: number

  /**
   * @param cpus softirq CPUs of the node
   * @param netdevMaxBacklog net.core.netdev_max_backlog (per CPU): a queue of q packets admits one
   *   more while q <= netdevMaxBacklog
   * @param rxRingSize RX descriptors per NIC queue (one queue per CPU): admits while q < rxRingSize
   * @param napiWeight the NIC queue's NAPI weight; devRxWeight the backlog's (dev_rx_weight)
   */
  constructor(
    cpus: number,
    netdevMaxBacklog: number,
    rxRingSize: number,
    napiWeight = NAPI_POLL_WEIGHT,
    devRxWeight = DEV_RX_WEIGHT_DEFAULT,
  ) {
    this.cpus = cpus
    this.netdevMaxBacklog = netdevMaxBacklog
    this.rxRingSize = rxRingSize
    this.rings = []
    this.dHandles = []
    this.dCostNs = []
    this.dReadyNs = []
    this.dOutIf = []
    this.dNextHop = []
    this.dBounded = []
    for (let i = 0; i < cpus * 2; i++) {
      this.rings.push(new Float64Array(INITIAL_CAPACITY))
      this.dHandles.push(new Int32Array(INITIAL_CAPACITY))
      this.dCostNs.push(new Float64Array(INITIAL_CAPACITY))
      this.dReadyNs.push(new Float64Array(INITIAL_CAPACITY))
      this.dOutIf.push(new Int32Array(INITIAL_CAPACITY))
      this.dNextHop.push(new Float64Array(INITIAL_CAPACITY))
      this.dBounded.push(new Uint8Array(INITIAL_CAPACITY))
    }
    this.heads = new Int32Array(cpus * 2)
    this.lengths = new Int32Array(cpus * 2)
    this.admitBelow = Int32Array.of(netdevMaxBacklog + 1, rxRingSize)
    this.weights = Int32Array.of(devRxWeight, napiWeight)
    this.dHeads = new Int32Array(cpus * 2)
    this.dLengths = new Int32Array(cpus * 2)
    this.dBoundedCount = new Int32Array(cpus * 2)
    this.deferredWorkNs = new Float64Array(cpus)
    this.deferredPerCpu = new Int32Array(cpus)
    this.active = new Int8Array(cpus).fill(-1)
    this.turnCount = new Int32Array(cpus)
    this.pollList = new Int8Array(cpus * 2)
    this.pollLength = new Int8Array(cpus)
    this.pollPending = new Uint8Array(cpus)
  }

  /** Packets waiting in `cpu`'s queue of `kind` at `nowNs` (those whose work has not started). */
  waiting(cpu: number, kind: number, nowNs: number): number {
    const q = cpu * 2 + kind
    const ring = this.rings[q]
    let head = this.heads[q]
    let length = this.lengths[q]
    while (length > 0 && ring[head] <= nowNs) {
      head = head + 1 === ring.length ? 0 : head + 1
      length--
    }
    this.heads[q] = head
    this.lengths[q] = length
    return length + this.dBoundedCount[q]
  }

  /** Whether `cpu`'s queue of `kind` has room at `nowNs` for one more received packet. */
  admits(cpu: number, kind: number, nowNs: number): boolean {
    return this.waiting(cpu, kind, nowNs) < this.admitBelow[kind]
  }

  /** The CPU free first, counting the work deferred on each (`cpuFreeAtNs`: their started work). */
  freeFirst(cpuFreeAtNs: Float64Array): number {
    let best = 0
    if (this.deferredPackets === 0) {
      for (let i = 1; i < cpuFreeAtNs.length; i++) if (cpuFreeAtNs[i] < cpuFreeAtNs[best]) best = i
      return best
    }
    const work = this.deferredWorkNs
    for (let i = 1; i < cpuFreeAtNs.length; i++) if (cpuFreeAtNs[i] + work[i] < cpuFreeAtNs[best] + work[best]) best = i
    return best
  }

  /** Records that a received packet of `kind` started at arrival waits until `startNs` on `cpu`. */
  recordStart(cpu: number, kind: number, startNs: number): void {
    const q = cpu * 2 + kind
    let ring = this.rings[q]
    const length = this.lengths[q]
    if (length === ring.length) ring = this.grow(q)
    let tail = this.heads[q] + length
    if (tail >= ring.length) tail -= ring.length
    ring[tail] = startNs
    this.lengths[q] = length + 1
  }

  /** Doubles queue `q`'s full ring of start times, unrolled so the head is at 0. */
  private grow(q: number): Float64Array {
    const old = this.rings[q]
    const ring = new Float64Array(old.length * 2)
    const head = this.heads[q]
    ring.set(old.subarray(head))
    ring.set(old.subarray(0, head), old.length - head)
    this.rings[q] = ring
    this.heads[q] = 0
    return ring
  }

  /** Deferred packets in `cpu`'s queue of `kind`. */
  deferredLength(cpu: number, kind: number): number {
    return this.dLengths[cpu * 2 + kind]
  }

  /** Appends a packet whose start is not known yet to `cpu`'s queue of `kind`. */
  defer(
    cpu: number,
    kind: number,
    handle: number,
    costNs: number,
    readyNs: number,
    outIfIndex: number,
    nextHop: number,
    bounded: boolean,
  ): void {
    const q = cpu * 2 + kind
    const length = this.dLengths[q]
    if (length === this.dHandles[q].length) this.growDeferred(q)
    let tail = this.dHeads[q] + length
    if (tail >= this.dHandles[q].length) tail -= this.dHandles[q].length
    this.dHandles[q][tail] = handle
    this.dCostNs[q][tail] = costNs
    this.dReadyNs[q][tail] = readyNs
    this.dOutIf[q][tail] = outIfIndex
    this.dNextHop[q][tail] = nextHop
    this.dBounded[q][tail] = bounded ? 1 : 0
    this.dLengths[q] = length + 1
    if (bounded) this.dBoundedCount[q]++
    this.deferredWorkNs[cpu] += costNs
    this.deferredPerCpu[cpu]++
    this.deferredPackets++
  }

  // The head of a deferred queue, read before `shift` removes it.
  headHandle = 0
  headCostNs = 0
  headReadyNs = 0
  headOutIf = 0
  headNextHop = 0
  headBounded = false

  /** Removes the head of `cpu`'s deferred queue of `kind` (non-empty) into the head* fields. */
  shift(cpu: number, kind: number): void {
    const q = cpu * 2 + kind
    const head = this.dHeads[q]
    this.headHandle = this.dHandles[q][head]
    this.headCostNs = this.dCostNs[q][head]
    this.headReadyNs = this.dReadyNs[q][head]
    this.headOutIf = this.dOutIf[q][head]
    this.headNextHop = this.dNextHop[q][head]
    this.headBounded = this.dBounded[q][head] === 1
    this.dHeads[q] = head + 1 === this.dHandles[q].length ? 0 : head + 1
    this.dLengths[q]--
    if (this.headBounded) this.dBoundedCount[q]--
    this.deferredWorkNs[cpu] -= this.headCostNs
    this.deferredPerCpu[cpu]--
    this.deferredPackets--
    // Exact zero once empty (sums of integers are exact, but keep the invariant explicit).
    if (this.deferredPerCpu[cpu] === 0) this.deferredWorkNs[cpu] = 0
  }

  private growDeferred(q: number): void {
    const head = this.dHeads[q]
    const n = this.dHandles[q].length
    const unroll = <T extends Int32Array | Float64Array | Uint8Array>(old: T, make: (size: number) => T): T => {
      const ring = make(n * 2)
      ring.set(old.subarray(head))
      ring.set(old.subarray(0, head), n - head)
      return ring
    }
    this.dHandles[q] = unroll(this.dHandles[q], (s) => new Int32Array(s))
    this.dCostNs[q] = unroll(this.dCostNs[q], (s) => new Float64Array(s))
    this.dReadyNs[q] = unroll(this.dReadyNs[q], (s) => new Float64Array(s))
    this.dOutIf[q] = unroll(this.dOutIf[q], (s) => new Int32Array(s))
    this.dNextHop[q] = unroll(this.dNextHop[q], (s) => new Float64Array(s))
    this.dBounded[q] = unroll(this.dBounded[q], (s) => new Uint8Array(s))
    this.dHeads[q] = 0
  }

  /** napi_schedule: `kind` joins the tail of `cpu`'s poll list unless it is on it. */
  schedule(cpu: number, kind: number): void {
    const length = this.pollLength[cpu]
    for (let i = 0; i < length; i++) if (this.pollList[cpu * 2 + i] === kind) return
    this.pollList[cpu * 2 + length] = kind
    this.pollLength[cpu] = length + 1
  }

  /**
   * The end of the active instance's turn on `cpu` (net_rx_action taking the next napi from the
   * poll list): the active instance, when packets of it are still deferred (it used its whole
   * weight: napi_poll's repoll), goes to the tail of the list; the head of the list becomes active
   * with a new turn. Returns it, or -1 when nothing is deferred on the CPU.
   */
  nextTurn(cpu: number): number {
    const active = this.active[cpu]
    if (active >= 0 && this.dLengths[cpu * 2 + active] > 0) this.schedule(cpu, active)
    const length = this.pollLength[cpu]
    if (length === 0) return -1
    const next = this.pollList[cpu * 2]
    this.pollList[cpu * 2] = this.pollList[cpu * 2 + 1]
    this.pollLength[cpu] = length - 1
    this.active[cpu] = next
    this.turnCount[cpu] = 0
    return next
  }
}
