/**
 * Node pod capacity (kubelet maxPods) and the client-side rate limit of kube-controller-manager.
 *
 * maxPods: KubeletConfiguration.maxPods defaults to 110 (k8s.io/kubelet/config/v1beta1). On EKS
 * with the Amazon VPC CNI, every pod gets a VPC address from an ENI of the node, so the bootstrap
 * sets maxPods from the instance type: ENIs x (IPv4 addresses per ENI - 1) + 2 (the first address
 * of each ENI is the ENI's own; +2 for the hostNetwork pods aws-node and kube-proxy), the figures
 * of aws/amazon-vpc-cni-k8s misc/eni-max-pods.txt. The table below holds the EC2 ENI limits of
 * common instance types (EC2 "IP addresses per network interface per instance type") and the
 * formula derives maxPods; test/k8s/capacity.test.ts checks each against eni-max-pods.txt.
 */
import { NS_PER_S } from "../sim/time.ts"

/** KubeletConfiguration.maxPods default. */
export const MAX_PODS_DEFAULT = 110

export interface EniLimits {
  /** Network interfaces the instance type can attach. */
  readonly enis: number
  /** Private IPv4 addresses per network interface. */
  readonly ipv4PerEni: number
}

/** EC2 ENI limits of common instance types (EC2 User Guide, AvailableIpPerENI). */
export const INSTANCE_TYPES: Readonly<Record<string, EniLimits>> = {
  "t3.micro": { enis: 2, ipv4PerEni: 2 },
  "t3.small": { enis: 3, ipv4PerEni: 4 },
  "t3.medium": { enis: 3, ipv4PerEni: 6 },
  "t3.large": { enis: 3, ipv4PerEni: 12 },
  "t3.xlarge": { enis: 4, ipv4PerEni: 15 },
  "t3.2xlarge": { enis: 4, ipv4PerEni: 15 },
  "m5.large": { enis: 3, ipv4PerEni: 10 },
  "m5.xlarge": { enis: 4, ipv4PerEni: 15 },
  "m5.2xlarge": { enis: 4, ipv4PerEni: 15 },
  "m5.4xlarge": { enis: 8, ipv4PerEni: 30 },
  "m5.8xlarge": { enis: 8, ipv4PerEni: 30 },
  "m5.12xlarge": { enis: 8, ipv4PerEni: 30 },
  "m5.16xlarge": { enis: 15, ipv4PerEni: 50 },
  "m5.24xlarge": { enis: 15, ipv4PerEni: 50 },
  "c5.large": { enis: 3, ipv4PerEni: 10 },
  "c5.xlarge": { enis: 4, ipv4PerEni: 15 },
  "c5.2xlarge": { enis: 4, ipv4PerEni: 15 },
  "c5.4xlarge": { enis: 8, ipv4PerEni: 30 },
  "r5.large": { enis: 3, ipv4PerEni: 10 },
  "r5.xlarge": { enis: 4, ipv4PerEni: 15 },
  "r5.2xlarge": { enis: 4, ipv4PerEni: 15 },
}

/** The EKS formula (eni-max-pods.txt): ENIs x (IPv4 per ENI - 1) + 2. */
export function eniMaxPods(limits: EniLimits): number {
  return limits.enis * (limits.ipv4PerEni - 1) + 2
}

/**
 * A node's maxPods: the node's own setting, else the cluster's, else (aws-vpc with a known
 * instance type) the ENI limit, else 110.
 */
export function resolveMaxPods(
  cni: "bridge" | "aws-vpc",
  node: { readonly maxPods?: number; readonly instanceType?: string },
  clusterMaxPods: number | undefined,
): number {
  if (node.maxPods !== undefined) return node.maxPods
  if (clusterMaxPods !== undefined) return clusterMaxPods
  const limits = node.instanceType === undefined ? undefined : INSTANCE_TYPES[node.instanceType]
  if (cni === "aws-vpc" && limits !== undefined) return eniMaxPods(limits)
  return MAX_PODS_DEFAULT
}

/** kube-controller-manager --kube-api-qps and --kube-api-burst defaults. */
export const CONTROLLER_CLIENT_QPS_DEFAULT = 20
export const CONTROLLER_CLIENT_BURST_DEFAULT = 30

/**
 * A client's token bucket (client-go flowcontrol.NewTokenBucketRateLimiter over
 * golang.org/x/time/rate): it starts full with `burst` tokens and refills at `qps`; each request
 * reserves the next token and waits until it is due. Kept in integer ns: one token = periodNs of
 * refill, the bucket holds burst x periodNs.
 */
export class TokenBucket {
  readonly periodNs: number
  private readonly capacityNs: number
  private levelNs: number
  private lastNs = 0

  constructor(qps: number, burst: number) {
    this.periodNs = Math.round(NS_PER_S / qps)
    this.capacityNs = burst * this.periodNs
    this.levelNs = this.capacityNs
  }

  /** Reserves one token at nowNs; returns how long the request waits for it (0 = at once). */
  reserve(nowNs: number): number {
    this.levelNs = Math.min(this.capacityNs, this.levelNs + (nowNs - this.lastNs))
    this.lastNs = nowNs
    this.levelNs -= this.periodNs
    return this.levelNs >= 0 ? 0 : -this.levelNs
  }
}
