import type { NetworkSpec } from "../../src/cluster/spec.ts"
import { ClusterNetwork } from "../../src/net/cni.ts"
import { NetError } from "../../src/net/errors.ts"
import { Network } from "../../src/net/network.ts"
import type { PingListener, Pinger } from "../../src/net/icmp.ts"
import type { NetParams } from "../../src/net/params.ts"
import type { UdpListener, UdpSocket } from "../../src/net/udp.ts"
import { Scheduler } from "../../src/sim/scheduler.ts"
import type { Ipv4 } from "../../src/wire/ipv4.ts"
import type { Packet } from "../../src/wire/packet.ts"

export const SPEC: NetworkSpec = {
  sameNodeLatencyNs: 20_000,
  crossNodeLatencyNs: 250_000,
  crossZoneLatencyNs: 1_000_000,
  externalLatencyNs: 5_000_000,
  bandwidthBitsPerSecond: 10_000_000_000,
  mtuBytes: 1500,
  lossPartsPerMillion: 0,
  queuePacketsMax: 1000,
}

export function serializationNs(ipBytes: number, spec: NetworkSpec = SPEC): number {
  return Math.ceil(((ipBytes + 38) * 8 * 1e9) / spec.bandwidthBitsPerSecond)
}

export interface World {
  scheduler: Scheduler
  net: Network
  cluster: ClusterNetwork
}

export function world(
  cni: "bridge" | "aws-vpc",
  spec: NetworkSpec = SPEC,
  seed = 1,
  params: Partial<NetParams> = {},
): World {
  const scheduler = new Scheduler()
  const net = new Network(scheduler, seed, params)
  const cluster = new ClusterNetwork(net, { cni, network: spec, nodeCidr: "10.0.0.0/16", podCidr: "10.244.0.0/16" })
  return { scheduler, net, cluster }
}

export function run(w: World, timeNsMax = Number.MAX_SAFE_INTEGER): void {
  w.scheduler.run({ timeNsMax, eventCountMax: 50_000_000 })
}

export class PingLog implements PingListener {
  readonly replies: { seq: number; rttNs: number; ttl: number; from: Ipv4 }[] = []
  readonly errors: { seq: number; error: NetError; from: Ipv4 }[] = []
  onEchoReply(_pinger: Pinger, seq: number, rttNs: number, packet: Packet): void {
    this.replies.push({ seq, rttNs, ttl: packet.ttl, from: packet.srcAddr })
  }
  onPingError(_pinger: Pinger, seq: number, error: NetError, remoteAddr: Ipv4): void {
    this.errors.push({ seq, error, from: remoteAddr })
  }
}

export class UdpLog implements UdpListener {
  readonly messages: { from: Ipv4; port: number; bytes: number; tag: number; data: object | null; atNs: number }[] = []
  readonly errors: { error: NetError; remote: Ipv4; port: number; tag: number }[] = []
  echo = false
  constructor(private readonly scheduler: Scheduler) {}
  onUdpMessage(socket: UdpSocket, packet: Packet): void {
    this.messages.push({
      from: packet.srcAddr,
      port: packet.srcPort,
      bytes: packet.payloadBytes,
      tag: packet.appTag,
      data: packet.appData,
      atNs: this.scheduler.nowNs,
    })
    if (this.echo && packet.appTag < 1000)
      socket.sendTo(packet.srcAddr, packet.srcPort, packet.payloadBytes, packet.appTag + 1000)
  }
  onUdpError(_socket: UdpSocket, error: NetError, remoteAddr: Ipv4, remotePort: number, appTag: number): void {
    this.errors.push({ error, remote: remoteAddr, port: remotePort, tag: appTag })
  }
}
