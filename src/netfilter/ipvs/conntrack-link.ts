/**
 * The nf_conntrack side of `net.ipv4.vs.conntrack=1` over src/netfilter/conntrack.ts.
 *
 * ip_vs_conn_drop_conntrack (ip_vs_nfct.c): when an IPVS connection that uses conntrack expires,
 * the kernel looks the tuple client:cport -> VIP:vport up with nf_conntrack_find_get (either
 * direction matches) and kills the entry, so a port reused later starts a fresh conntrack entry.
 */
import type { Conntrack } from "../conntrack.ts"
import type { IpvsConntrackLink } from "./ipvs.ts"

export class ConntrackDropLink implements IpvsConntrackLink {
  /** Entries killed on behalf of IPVS (for results and tests). */
  dropped = 0

  constructor(private readonly conntrack: Conntrack) {}

  dropConntrack(protocol: number, caddr: number, cport: number, vaddr: number, vport: number): void {
    const node = this.conntrack.find(caddr, vaddr, cport, vport, protocol)
    if (node < 0) return
    this.conntrack.remove(node >> 1)
    this.dropped++
  }
}
