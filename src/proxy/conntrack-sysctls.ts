/**
 * The conntrack sysctls kube-proxy writes at start-up, whatever its mode (KubeProxyConfiguration
 * `conntrack`, flags `--conntrack-*`): pkg/proxy/conntrack `setSysctls` and `getConntrackMax`
 * (cmd/kube-proxy/app/conntrack.go before v1.31), called from the server's platform setup.
 *
 * - nf_conntrack_max = max(maxPerCore x numCPU, min) when maxPerCore > 0; maxPerCore 0 leaves the
 *   kernel's value (getConntrackMax returns 0, SetMax is not called). numCPU is the node's CPU
 *   count (detectNumCPU: sysfs topology, else runtime.NumCPU()). SetMax then reads
 *   /sys/module/nf_conntrack/parameters/hashsize and, when it is below max / 4, writes max / 4
 *   (`if hashsize >= (max / 4) { return nil }`): nf_conntrack_buckets. kube-proxy starts before
 *   any simulated packet, so the table is built at its final size (the kernel's live resize,
 *   nf_conntrack_hash_resize, is not modelled: nothing writes hashsize once entries exist).
 * - nf_conntrack_tcp_timeout_established / _close_wait, nf_conntrack_udp_timeout /
 *   _udp_timeout_stream: written when > 0; 0 leaves the kernel default.
 * - nf_conntrack_tcp_be_liberal = 1 when tcpBeLiberal. Its kernel effect (out-of-window TCP
 *   packets not marked INVALID) needs TCP window tracking, which conntrack.ts does not model (every
 *   packet is in window); what it changes here is kube-proxy's own rules: the iptables proxier reads
 *   the sysctl and omits its `--ctstate INVALID -j DROP` rule when it is set
 *   (pkg/proxy/iptables/proxier.go NewProxier, `conntrackTCPLiberal`).
 *
 * The deprecated absolute `--conntrack-max` of old releases is the scenario's `conntrack.max`:
 * mutually exclusive with maxPerCore, as old getConntrackMax enforced ("invalid config: Conntrack
 * Max and Conntrack MaxPerCore are mutually exclusive").
 */
import {
  CONNTRACK_BUCKETS_DEFAULT,
  KUBE_PROXY_CONNTRACK_TIMEOUTS,
  LINUX_CONNTRACK_TIMEOUTS,
  kernelBuckets,
  type ConntrackTimeouts,
} from "../netfilter/conntrack.ts"

/** kube-proxy's conntrack configuration as the scenario gives it (nanoseconds for timeouts). */
export interface KubeProxyConntrackConfig {
  /** --conntrack-max-per-core (default 32768); 0 = leave nf_conntrack_max alone. */
  readonly maxPerCore: number
  /** --conntrack-min (default 131072). */
  readonly min: number
  /** nf_conntrack_max the kernel holds before kube-proxy (used when maxPerCore is 0). */
  readonly kernelMax: number
  /** nf_conntrack_buckets the kernel holds before kube-proxy (default CONNTRACK_BUCKETS_DEFAULT). */
  readonly kernelBuckets?: number
  readonly tcpEstablishedTimeoutNs: number
  readonly tcpCloseWaitTimeoutNs: number
  readonly udpTimeoutNs: number
  readonly udpStreamTimeoutNs: number
  readonly tcpBeLiberal: boolean
}

/** DEF defaults (pkg/proxy/apis/config/v1alpha1/defaults.go). */
export const CONNTRACK_MAX_PER_CORE_DEFAULT = 32768
export const CONNTRACK_MIN_DEFAULT = 131072
/**
 * The kernel's nf_conntrack_max when nothing sets it: nf_conntrack_buckets (max_factor 1,
 * nf_conntrack_init_start), 262144 on the default 8 GiB node (conntrack.ts kernelAutosizeBuckets).
 */
export const KERNEL_CONNTRACK_MAX_DEFAULT = CONNTRACK_BUCKETS_DEFAULT

/** getConntrackMax: the value kube-proxy writes, or 0 when it leaves nf_conntrack_max alone. */
export function kubeProxyConntrackMax(maxPerCore: number, min: number, numCpu: number): number {
  if (maxPerCore <= 0) return 0
  const scaled = maxPerCore * numCpu
  return scaled > min ? scaled : min
}

/**
 * SetMax's hashsize step: the bucket count after kube-proxy wrote nf_conntrack_max = `max` (> 0)
 * on a kernel holding `buckets`: max / 4 (Go integer division) when that is larger, else unchanged;
 * the kernel rounds the written size up to whole pages (conntrack.ts kernelBuckets).
 */
export function kubeProxyHashsize(buckets: number, max: number): number {
  const quarter = Math.floor(max / 4)
  return buckets >= quarter ? buckets : kernelBuckets(quarter)
}

/** What a node's conntrack holds once kube-proxy has started. */
export interface NodeConntrackSysctls {
  readonly max: number
  /** nf_conntrack_buckets. */
  readonly buckets: number
  readonly timeouts: ConntrackTimeouts
  readonly tcpBeLiberal: boolean
}

/** setSysctls on a node with `numCpu` CPUs. */
export function nodeConntrackSysctls(config: KubeProxyConntrackConfig, numCpu: number): NodeConntrackSysctls {
  const written = kubeProxyConntrackMax(config.maxPerCore, config.min, numCpu)
  const orKernel = (valueNs: number, kernelNs: number): number => (valueNs > 0 ? valueNs : kernelNs)
  const timeouts: ConntrackTimeouts = {
    ...KUBE_PROXY_CONNTRACK_TIMEOUTS,
    tcpEstablishedNs: orKernel(config.tcpEstablishedTimeoutNs, LINUX_CONNTRACK_TIMEOUTS.tcpEstablishedNs),
    tcpCloseWaitNs: orKernel(config.tcpCloseWaitTimeoutNs, LINUX_CONNTRACK_TIMEOUTS.tcpCloseWaitNs),
    udpNs: orKernel(config.udpTimeoutNs, LINUX_CONNTRACK_TIMEOUTS.udpNs),
    udpStreamNs: orKernel(config.udpStreamTimeoutNs, LINUX_CONNTRACK_TIMEOUTS.udpStreamNs),
  }
  const kernel = kernelBuckets(config.kernelBuckets ?? CONNTRACK_BUCKETS_DEFAULT)
  return {
    max: written > 0 ? written : config.kernelMax,
    // SetMax runs only when kube-proxy writes nf_conntrack_max.
    buckets: written > 0 ? kubeProxyHashsize(kernel, written) : kernel,
    timeouts,
    tcpBeLiberal: config.tcpBeLiberal,
  }
}

/** CPUs of a node that does not say (eksctl's default node type, m5.large, has 2 vCPUs). */
export const NODE_CPUS_DEFAULT = 2
