/**
 * pcapng block writer (draft-ietf-opsawg-pcapng, the format Wireshark and tshark write): a Section
 * Header Block, one Interface Description Block per interface (name, description, link type,
 * if_tsresol = 9 for nanosecond timestamps) and Enhanced Packet Blocks with the packet bytes and
 * the direction flag (epb_flags bits 0-1: 1 inbound, 2 outbound). Little-endian throughout (the
 * byte-order magic tells readers). No npm package writes pcapng (the `pcap` package captures with
 * libpcap; `pcap-parser` reads classic pcap), and the format is a few fixed layouts, so it is here.
 */

/** LINKTYPE_RAW: the packet starts with the IPv4 header (the model has no MAC addresses). */
export const LINKTYPE_RAW = 101

export const Direction = { INBOUND: 1, OUTBOUND: 2 } as const

const BLOCK_SHB = 0x0a0d0d0a
const BLOCK_IDB = 0x00000001
const BLOCK_EPB = 0x00000006
const BYTE_ORDER_MAGIC = 0x1a2b3c4d

const OPT_END = 0
const OPT_COMMENT = 1
const SHB_USERAPPL = 4
const IF_NAME = 2
const IF_DESCRIPTION = 3
const IF_TSRESOL = 9
const EPB_FLAGS = 2

const encoder = new TextEncoder()

function pad4(n: number): number {
  return (n + 3) & ~3
}

/** Options area: each option (code, length, value padded to 4 bytes), then opt_endofopt. */
function options(list: readonly (readonly [number, Uint8Array])[]): Uint8Array {
  if (list.length === 0) return new Uint8Array(0)
  let length = 4
  for (const [, value] of list) length += 4 + pad4(value.length)
  const out = new Uint8Array(length)
  const view = new DataView(out.buffer)
  let at = 0
  for (const [code, value] of list) {
    view.setUint16(at, code, true)
    view.setUint16(at + 2, value.length, true)
    out.set(value, at + 4)
    at += 4 + pad4(value.length)
  }
  view.setUint16(at, OPT_END, true)
  return out
}

/** A block: type, total length, body, total length again. */
function block(type: number, body: Uint8Array): Uint8Array {
  const total = 12 + body.length
  const out = new Uint8Array(total)
  const view = new DataView(out.buffer)
  view.setUint32(0, type, true)
  view.setUint32(4, total, true)
  out.set(body, 8)
  view.setUint32(total - 4, total, true)
  return out
}

/** Section Header Block (section length unknown: -1). */
export function sectionHeaderBlock(application: string, comment?: string): Uint8Array {
  const opts = options([
    ...(comment === undefined ? [] : [[OPT_COMMENT, encoder.encode(comment)] as const]),
    [SHB_USERAPPL, encoder.encode(application)],
  ])
  const body = new Uint8Array(16 + opts.length)
  const view = new DataView(body.buffer)
  view.setUint32(0, BYTE_ORDER_MAGIC, true)
  view.setUint16(4, 1, true)
  view.setUint16(6, 0, true)
  view.setInt32(8, -1, true)
  view.setInt32(12, -1, true)
  body.set(opts, 16)
  return block(BLOCK_SHB, body)
}

/** Interface Description Block; interfaces are numbered 0, 1, ... in the order of their IDBs. */
export function interfaceDescriptionBlock(
  name: string,
  description: string,
  linkType = LINKTYPE_RAW,
  snapLength = 0,
): Uint8Array {
  const opts = options([
    [IF_NAME, encoder.encode(name)],
    [IF_DESCRIPTION, encoder.encode(description)],
    [IF_TSRESOL, Uint8Array.of(9)],
  ])
  const body = new Uint8Array(8 + opts.length)
  const view = new DataView(body.buffer)
  view.setUint16(0, linkType, true)
  view.setUint16(2, 0, true)
  view.setUint32(4, snapLength, true)
  body.set(opts, 8)
  return block(BLOCK_IDB, body)
}

/** Enhanced Packet Block: `timeNs` in the interface's units (if_tsresol = 9: nanoseconds). */
export function enhancedPacketBlock(interfaceId: number, timeNs: number, data: Uint8Array, direction = 0): Uint8Array {
  const flags = new Uint8Array(4)
  new DataView(flags.buffer).setUint32(0, direction, true)
  const opts = direction === 0 ? new Uint8Array(0) : options([[EPB_FLAGS, flags]])
  const body = new Uint8Array(20 + pad4(data.length) + opts.length)
  const view = new DataView(body.buffer)
  view.setUint32(0, interfaceId, true)
  // 64-bit timestamp split in two 32-bit words, high first (each little-endian).
  const high = Math.floor(timeNs / 4294967296)
  view.setUint32(4, high, true)
  view.setUint32(8, timeNs - high * 4294967296, true)
  view.setUint32(12, data.length, true)
  view.setUint32(16, data.length, true)
  body.set(data, 20)
  body.set(opts, 20 + pad4(data.length))
  return block(BLOCK_EPB, body)
}
