/**
 * A node's ingress backlog: the packets received and waiting for a softirq CPU, held BEFORE their
 * work runs, as Linux holds them (issue 12 item 4; MODEL.md "Contention").
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
 * The model's CPUs take whichever packet is ready first (no RSS / RPS steering), so the queue a
 * packet joins is the one of the CPU it will run on: the CPU free first (Network.processed). A
 * packet "waits" from its arrival until its work starts on that CPU; one the CPU takes at once
 * never counts. Per CPU, start times of admitted packets are non-decreasing (a CPU's free time only
 * grows and arrivals come in time order), so each queue is a FIFO of start times whose head is
 * popped once started.
 */

/** net.core.netdev_max_backlog's default (Documentation/admin-guide/sysctl/net.rst: 1000). */
export const NETDEV_MAX_BACKLOG_DEFAULT = 1000
/**
 * RX descriptors per NIC queue: ENA_DEFAULT_RING_SIZE = 1024 (drivers/net/ethernet/amazon/ena/
 * ena_netdev.h), the Elastic Network Adapter of the EC2 nodes the scenarios' instance types name.
 */
export const RX_RING_SIZE_DEFAULT = 1024

/** Which of a CPU's two ingress queues a packet joins. */
export const INGRESS_QUEUE_BACKLOG = 0
export const INGRESS_QUEUE_RX_RING = 1

/** Initial capacity of a queue's ring of start times (grows by doubling up to its bound + 1). */
const INITIAL_CAPACITY = 16

export class IngressBacklog {
  /** Start times, one ring per CPU and queue kind (index cpu * 2 + kind). */
  private readonly rings: Float64Array[]
  private readonly heads: Int32Array
  private readonly lengths: Int32Array
  /** Packets a queue may hold when a new one arrives, per kind (above it the arrival is dropped). */
  private readonly admitBelow: Int32Array

  /**
   * @param cpus softirq CPUs of the node
   * @param netdevMaxBacklog net.core.netdev_max_backlog (per CPU): a queue of q packets admits one
   *   more while q <= netdevMaxBacklog
   * @param rxRingSize RX descriptors per NIC queue (one queue per CPU): admits while q < rxRingSize
   */
  constructor(
    readonly cpus: number,
    readonly netdevMaxBacklog: number,
    readonly rxRingSize: number,
  ) {
    this.rings = []
    for (let i = 0; i < cpus * 2; i++) this.rings.push(new Float64Array(INITIAL_CAPACITY))
    this.heads = new Int32Array(cpus * 2)
    this.lengths = new Int32Array(cpus * 2)
    this.admitBelow = Int32Array.of(netdevMaxBacklog + 1, rxRingSize)
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
    return length
  }

  /**
   * Admits a packet arriving at `nowNs` into `cpu`'s queue of `kind` if it has room, recording that
   * its work starts at `startNs` (>= nowNs); false = dropped. A packet started at once is admitted
   * without entering the queue.
   */
  admit(cpu: number, kind: number, nowNs: number, startNs: number): boolean {
    if (startNs <= nowNs) return true
    const length = this.waiting(cpu, kind, nowNs)
    if (length >= this.admitBelow[kind]) return false
    const q = cpu * 2 + kind
    let ring = this.rings[q]
    if (length === ring.length) ring = this.grow(q)
    let tail = this.heads[q] + length
    if (tail >= ring.length) tail -= ring.length
    ring[tail] = startNs
    this.lengths[q] = length + 1
    return true
  }

  /** Doubles queue `q`'s full ring (capped at its bound), unrolled so the head is at 0. */
  private grow(q: number): Float64Array {
    const old = this.rings[q]
    const ring = new Float64Array(Math.min(old.length * 2, this.admitBelow[q & 1]))
    const head = this.heads[q]
    ring.set(old.subarray(head))
    ring.set(old.subarray(0, head), old.length - head)
    this.rings[q] = ring
    this.heads[q] = 0
    return ring
  }
}
