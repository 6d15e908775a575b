/**
 * `run --pcap DIR`: pcapng files of the run's packets, one file per node (NODE.pcapng) holding
 * the interfaces of that node's network namespace (eth0, cni0, the host ends of the pod veths,
 * kube-ipvs0) and of the pods on it (POD/eth0), one file per external host
 * (external-NAME.pcapng) and one for the edge router (edge.pcapng). Interfaces that exist when the
 * run starts are described up front, so their files exist (possibly without packets); interfaces
 * created later (new pods) are described when they first carry a packet. This is
 * what a Wireshark user gets from `tcpdump -i any` on each machine, except that each interface is
 * its own pcapng interface, so Wireshark's frame.interface_name tells them apart.
 *
 * What is captured, per interface: every packet it receives (at arrival, before PREROUTING: the
 * addresses on the link) and every packet it transmits (when its serialization ends, after
 * POSTROUTING), with epb_flags inbound/outbound. A bridge (cni0), opened in promiscuous mode as
 * tcpdump does, sees every packet entering any of its ports and the packets the node's stack sends
 * out through it (frames bridged between two ports are seen once, on entry). Loopback is not
 * captured. A DUMMY device's transmissions (kube-ipvs0, consumed without leaving) are not captured.
 *
 * Timestamps are simulated nanoseconds (if_tsresol = 9) from the start of the run. Records are in
 * the order the simulator handled them: a transmission is stamped with its departure time, so
 * within a file timestamps can step back by up to one serialization delay across interfaces
 * (Wireshark's "View > Time Display Format" and `editcap`/`reordercap` handle that).
 */
import type { PacketCapture } from "../net/network.ts"
import { InterfaceKind, type NetInterface, type NetNs } from "../net/netns.ts"
import type { Packet } from "../wire/packet.ts"
import { packetBytes } from "../wire/packet-bytes.ts"
import { HttpPayloads } from "./http-payload.ts"
import {
  Direction,
  enhancedPacketBlock,
  interfaceDescriptionBlock,
  LINKTYPE_RAW,
  sectionHeaderBlock,
} from "../wire/pcapng.ts"
import type { World } from "../cluster/world.ts"

/** `--pcap-filter node=GLOB,pod=GLOB,iface=GLOB`: keys AND together, repeated keys OR. */
export interface PcapFilter {
  readonly node: readonly RegExp[]
  readonly pod: readonly RegExp[]
  readonly iface: readonly RegExp[]
}

export const NO_FILTER: PcapFilter = { node: [], pod: [], iface: [] }

function globRegExp(glob: string): RegExp {
  const escaped = glob
    .replace(/[.+^${}()|[\]\\]/g, "\\$&")
    .replace(/\*/g, ".*")
    .replace(/\?/g, ".")
  return new RegExp(`^${escaped}$`)
}

/** Parses the filter text; a string is the error message. */
export function parsePcapFilter(text: string): PcapFilter | string {
  const node: RegExp[] = []
  const pod: RegExp[] = []
  const iface: RegExp[] = []
  for (const part of text.split(",")) {
    const term = part.trim()
    if (term === "") continue
    const eq = term.indexOf("=")
    const key = eq < 0 ? "" : term.slice(0, eq).trim()
    const value = eq < 0 ? "" : term.slice(eq + 1).trim()
    if (value === "") return `"${term}": expected KEY=VALUE with KEY node, pod or iface (e.g. node=node-1,iface=eth0)`
    if (key === "node") node.push(globRegExp(value))
    else if (key === "pod") pod.push(globRegExp(value))
    else if (key === "iface") iface.push(globRegExp(value))
    else return `unknown key "${key}" in "${term}" (keys: node, pod, iface)`
  }
  return { node, pod, iface }
}

/** A file written in pieces (the CLI's FileStream). */
export interface BinaryStream {
  write(data: Uint8Array): void
  close(): void
}

/** Where an interface belongs: its file, its owner (node, pod or host) and names. */
interface CapturedInterface {
  readonly file: CaptureFile
  readonly interfaceId: number
  /** Packets written, by direction. */
  inbound: number
  outbound: number
  readonly name: string
}

interface Owner {
  /** File name stem: the node, external-NAME or edge. */
  readonly file: string
  /** Node the namespace is on ("" for externals and the edge). */
  readonly node: string
  /** Pod name, "" for a node's or host's own namespace. */
  readonly pod: string
  readonly label: string
}

/** Flush threshold of a file's write buffer. */
const CHUNK_BYTES = 1 << 20

class CaptureFile {
  private readonly chunks: Uint8Array[] = []
  private buffered = 0
  interfaceCount = 0

  constructor(
    readonly name: string,
    private readonly stream: BinaryStream,
  ) {
    this.push(
      sectionHeaderBlock("kube-netsim", "simulated capture; timestamps are simulated time from the run's start"),
    )
  }

  push(block: Uint8Array): void {
    this.chunks.push(block)
    this.buffered += block.length
    if (this.buffered >= CHUNK_BYTES) this.flush()
  }

  flush(): void {
    if (this.buffered === 0) return
    const out = new Uint8Array(this.buffered)
    let at = 0
    for (const chunk of this.chunks) {
      out.set(chunk, at)
      at += chunk.length
    }
    this.stream.write(out)
    this.chunks.length = 0
    this.buffered = 0
  }

  close(): void {
    this.flush()
    this.stream.close()
  }
}

export class PcapCapture implements PacketCapture {
  /** By interface id; null = not captured (filtered out or loopback); undefined = not seen yet. */
  private readonly byInterface: (CapturedInterface | null | undefined)[] = []
  private readonly files = new Map<string, CaptureFile>()
  private readonly owners = new Map<number, Owner>()
  /** Packets written, over every file. */
  packets = 0

  constructor(
    private readonly world: World,
    private readonly open: (fileName: string) => BinaryStream,
    private readonly filter: PcapFilter = NO_FILTER,
  ) {
    // Interfaces that exist now get their description blocks up front (in creation order), so
    // every file lists them even if they stay silent; later ones (new pods) when first used.
    for (const iface of world.network.interfaces) this.captured(iface)
    world.network.capture = this
  }

  /** HTTP text for the TCP payloads whose sizes allow it (http-payload.ts). */
  private readonly http = new HttpPayloads()

  onInterfacePacket(packet: Packet, iface: NetInterface, outbound: boolean, timeNs: number): void {
    const own = this.captured(iface)
    const master = iface.master
    const onBridge =
      master !== null && (!outbound || packet.inIfIndex !== master.ifIndex) ? this.captured(master) : null
    if (own === null && onBridge === null) return
    const bytes = packetBytes(packet, this.http.payloadOf(packet))
    const direction = outbound ? Direction.OUTBOUND : Direction.INBOUND
    if (own !== null) this.write(own, bytes, timeNs, direction, outbound)
    if (onBridge !== null) this.write(onBridge, bytes, timeNs, direction, outbound)
  }

  private write(to: CapturedInterface, bytes: Uint8Array, timeNs: number, direction: number, outbound: boolean): void {
    to.file.push(enhancedPacketBlock(to.interfaceId, timeNs, bytes, direction))
    if (outbound) to.outbound++
    else to.inbound++
    this.packets++
  }

  /** Closes every file; returns the files written with their interfaces' packet counts. */
  finish(): { file: string; interfaces: { name: string; inbound: number; outbound: number }[] }[] {
    this.world.network.capture = null
    const out: { file: string; interfaces: { name: string; inbound: number; outbound: number }[] }[] = []
    const byFile = new Map<CaptureFile, { name: string; inbound: number; outbound: number }[]>()
    for (const c of this.byInterface) {
      if (c === null || c === undefined) continue
      let list = byFile.get(c.file)
      if (list === undefined) {
        list = []
        byFile.set(c.file, list)
      }
      list.push({ name: c.name, inbound: c.inbound, outbound: c.outbound })
    }
    for (const file of this.files.values()) {
      file.close()
      out.push({ file: file.name, interfaces: byFile.get(file) ?? [] })
    }
    return out.sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0))
  }

  /** The interface's capture record, created (with its IDB) on first use; null when not captured. */
  private captured(iface: NetInterface): CapturedInterface | null {
    const known = this.byInterface[iface.id]
    if (known !== undefined) return known
    let result: CapturedInterface | null = null
    if (iface.kind !== InterfaceKind.LOOPBACK) {
      const owner = this.owner(iface.ns)
      if (this.accepts(owner, iface)) {
        let file = this.files.get(owner.file)
        if (file === undefined) {
          file = new CaptureFile(`${owner.file}.pcapng`, this.open(`${owner.file}.pcapng`))
          this.files.set(owner.file, file)
        }
        const name = owner.pod === "" ? iface.name : `${owner.pod}/${iface.name}`
        file.push(
          interfaceDescriptionBlock(name, `${owner.label} ${iface.name} (${kindName(iface.kind)})`, LINKTYPE_RAW),
        )
        result = { file, interfaceId: file.interfaceCount++, inbound: 0, outbound: 0, name }
      }
    }
    this.byInterface[iface.id] = result
    return result
  }

  private accepts(owner: Owner, iface: NetInterface): boolean {
    const f = this.filter
    if (f.node.length > 0 && !f.node.some((r) => r.test(owner.node))) return false
    if (f.pod.length > 0 && !f.pod.some((r) => r.test(owner.pod))) return false
    if (f.iface.length > 0 && !f.iface.some((r) => r.test(iface.name))) return false
    return true
  }

  private owner(ns: NetNs): Owner {
    const cached = this.owners.get(ns.id)
    if (cached !== undefined) return cached
    let owner: Owner = { file: safeName(ns.name), node: "", pod: "", label: ns.name }
    for (const node of this.world.nodes.values())
      if (node.net.ns === ns)
        owner = { file: safeName(node.name), node: node.name, pod: "", label: `node ${node.name}` }
    if (owner.node === "") {
      for (const pod of this.world.pods.values()) {
        if (pod.ns !== ns || pod.net === null) continue
        const name = pod.key.slice(pod.key.indexOf("/") + 1)
        owner = { file: safeName(pod.node), node: pod.node, pod: name, label: `pod ${pod.key} on ${pod.node}` }
        break
      }
    }
    if (owner.node === "" && ns.name.startsWith("external/"))
      owner = { file: safeName(`external-${ns.name.slice(9)}`), node: "", pod: "", label: ns.name }
    this.owners.set(ns.id, owner)
    return owner
  }
}

function kindName(kind: number): string {
  switch (kind) {
    case InterfaceKind.VETH:
      return "veth"
    case InterfaceKind.BRIDGE:
      return "bridge"
    case InterfaceKind.FABRIC:
      return "nic"
    case InterfaceKind.DUMMY:
      return "dummy"
    default:
      return "interface"
  }
}

/** A file name from a node or host name (no path separators). */
function safeName(name: string): string {
  return name.replace(/[^A-Za-z0-9._-]/g, "_")
}
