/**
 * The simulator's side of the calibration validation (calibration-validation.test.ts): the
 * validation topology (sim-world.ts) driven by this machine's shipped profile, and sequential UDP
 * echoes from the client pod, as the kernel side's native probe sends them.
 */
import { readFileSync } from "node:fs"
import { profileToScenarioOverrides } from "../../src/calibrate/overrides.ts"
import { medianNs, parseProfile } from "../../src/calibrate/profile.ts"
import type { UdpListener, UdpSocket } from "../../src/net/udp.ts"
import { parseDurationNs } from "../../src/scenario/units.ts"
import { ipv4 } from "../../src/wire/ipv4.ts"
import type { Packet } from "../../src/wire/packet.ts"
import { PROFILE_FILE } from "./calibrated-profile.ts"
import { SimWorld, type SimTuning } from "./sim-world.ts"
import { POD_CLIENT_IPS } from "./topology.ts"
import { PORT, TARGET } from "./validation-rules.ts"

/** The simulator driven by the profile: knobs from profileToScenarioOverrides. */
export function tuningFromProfile(): { tuning: SimTuning; hostRttNs: number; overrides: object } {
  const profile = parseProfile(readFileSync(PROFILE_FILE, "utf8"), PROFILE_FILE)
  const overrides = profileToScenarioOverrides(profile)
  const ns = (text: string | undefined, what: string): number => {
    const v = text === undefined ? `missing ${what}` : parseDurationNs(text)
    if (typeof v === "string") throw new Error(`profile override ${what}: ${v}`)
    return v
  }
  const host = profile.parameters.hostStackNs
  if (host === undefined) throw new Error(`${PROFILE_FILE} has no hostStackNs`)
  // Conntrack costs have no scenario knob yet: the profile's figures go to the node stack directly,
  // as `cluster.network.profile` will do.
  const fixed = (name: string): number | undefined => {
    const p = profile.parameters[name]
    return p === undefined ? undefined : Math.round(medianNs(p))
  }
  const lookup = fixed("conntrackLookupNs")
  const created = fixed("conntrackNewNs")
  return {
    tuning: {
      links: { sameNodeLatencyNs: ns(overrides.cluster?.network?.sameNodeLatency, "cluster.network.sameNodeLatency") },
      stack: {
        ruleCostNs: ns(overrides.kubeProxy?.ruleCost, "kubeProxy.ruleCost"),
        ...(lookup !== undefined ? { conntrackLookupCostNs: lookup } : {}),
        ...(created !== undefined ? { conntrackNewCostNs: created } : {}),
      },
    },
    hostRttNs: 2 * Math.round(medianNs(host)),
    overrides,
  }
}

/** Echo server of the simulated endpoint: answers every datagram to its sender. */
const ECHO: UdpListener = {
  onUdpMessage(socket: UdpSocket, packet: Packet): void {
    socket.sendTo(packet.srcAddr, packet.srcPort, packet.payloadBytes)
  },
  onUdpError(): void {},
}

/** Sequential echoes from the client pod in the simulator; RTTs in simulated ns. */
export function simRtts(
  rulesText: string,
  tuning: SimTuning,
  dst: string,
  mode: "same" | "new",
  count: number,
  inspect?: (world: SimWorld) => void,
): number[] {
  const world = new SimWorld(rulesText, 1, undefined, tuning)
  const net = world.net
  const epNs = world.namespaceOfAddress(TARGET.ip)
  if (net.udpBind(epNs, ipv4(TARGET.ip), PORT, ECHO) === null) throw new Error("cannot bind the simulated echo server")
  const client = POD_CLIENT_IPS[0] ?? "10.0.0.2"
  const clientNs = world.namespaceOfAddress(client)
  const rtts: number[] = []
  let sentAtNs = 0
  let socket: UdpSocket | null = null
  let nextPort = 40_000
  const listener: UdpListener = {
    onUdpMessage(): void {
      rtts.push(world.scheduler.nowNs - sentAtNs)
      if (rtts.length < count) send()
    },
    onUdpError(): void {},
  }
  const send = (): void => {
    if (socket === null || mode === "new") {
      socket?.close()
      socket = net.udpBind(clientNs, ipv4(client), nextPort++, listener)
      if (socket === null) throw new Error("cannot bind the simulated client")
      socket.connect(ipv4(dst), PORT)
    }
    sentAtNs = world.scheduler.nowNs
    socket.send(32)
  }
  send()
  world.scheduler.run({ timeNsMax: 3_600_000_000_000, eventCountMax: 50_000_000 })
  if (rtts.length !== count) throw new Error(`simulated echoes: ${rtts.length} of ${count} answered`)
  inspect?.(world)
  return rtts
}
