/**
 * IPVS proxier settings: NewProxier's sysctls and `ipvsadm --set` timeouts, the scheduler default and
 * mh flag, node IPs for NodePorts (pkg/proxy/util/nodeport_addresses.go, ipvs netlink isValidForSet).
 */
import { describe, expect, it } from "vitest"
import {
  compileIpvs,
  DEFAULT_IPVS_CONFIG,
  ipvsNodePortIPs,
  ipvsSysctls,
  ipvsTimeouts,
} from "../../../src/proxy/ipvs/compile.ts"
import { parseManifests } from "../helpers.ts"
import { FAKE_IPVS_CONFIG, fakeNode } from "./helpers.ts"

describe("NewProxier settings", () => {
  it("sets conn_reuse_mode=0 only on kernels from 4.1 up to before 5.9", () => {
    const paths = (major: number, minor: number) =>
      ipvsSysctls(DEFAULT_IPVS_CONFIG, { major, minor }).map((s) => `${s.path}=${s.value}`)
    expect(paths(5, 4)).toEqual([
      "net/ipv4/vs/conntrack=1",
      "net/ipv4/vs/conn_reuse_mode=0",
      "net/ipv4/vs/expire_nodest_conn=1",
      "net/ipv4/vs/expire_quiescent_template=1",
      "net/ipv4/ip_forward=1",
    ])
    expect(paths(5, 9)).not.toContain("net/ipv4/vs/conn_reuse_mode=0")
    expect(paths(6, 1)).not.toContain("net/ipv4/vs/conn_reuse_mode=0")
    expect(paths(4, 0)).not.toContain("net/ipv4/vs/conn_reuse_mode=0")
    expect(
      ipvsSysctls({ ...DEFAULT_IPVS_CONFIG, strictARP: true }, { major: 6, minor: 1 })
        .map((s) => s.path)
        .slice(-2),
    ).toEqual(["net/ipv4/conf/all/arp_ignore", "net/ipv4/conf/all/arp_announce"])
  })

  it("configures IPVS timeouts only when one is set", () => {
    expect(ipvsTimeouts(DEFAULT_IPVS_CONFIG)).toBeNull()
    expect(ipvsTimeouts({ ...DEFAULT_IPVS_CONFIG, udpTimeoutSeconds: 30 })).toEqual({ tcp: 0, tcpFin: 0, udp: 30 })
  })

  it("defaults the scheduler to rr and flags mh services with the source-hash flag", () => {
    const { services, slices } = parseManifests(`
apiVersion: v1
kind: Service
metadata: { name: s, namespace: ns }
spec: { clusterIP: 10.96.0.10, sessionAffinity: ClientIP, ports: [ { port: 53, protocol: UDP } ] }
`)
    const rr = compileIpvs(services, slices, fakeNode([]), FAKE_IPVS_CONFIG)
    expect(rr.virtualServers[0]).toMatchObject({ scheduler: "rr", flags: 0x1, timeoutSeconds: 10800 })
    const mh = compileIpvs(services, slices, fakeNode([]), { ...FAKE_IPVS_CONFIG, scheduler: "mh" })
    expect(mh.virtualServers[0]).toMatchObject({ scheduler: "mh", flags: 0x11 })
  })
})

describe("node IPs for NodePort virtual servers", () => {
  const node = fakeNode(["192.168.0.2", "10.1.0.5", "127.0.0.1", "fd00::2"])
  it("all non-loopback IPv4 addresses when nodePortAddresses matches all", () => {
    expect(ipvsNodePortIPs(null, node)).toEqual(["10.1.0.5", "192.168.0.2"])
    expect(ipvsNodePortIPs(["0.0.0.0/0"], node)).toEqual(["10.1.0.5", "192.168.0.2"])
    // Only IPv6 CIDRs: none left for the IPv4 proxier, which then matches all.
    expect(ipvsNodePortIPs(["fd00::/64"], node)).toEqual(["10.1.0.5", "192.168.0.2"])
  })
  it("the addresses inside the CIDRs, loopback excluded, or the primary IP", () => {
    expect(ipvsNodePortIPs(["192.168.0.0/24", "127.0.0.0/8"], node)).toEqual(["192.168.0.2"])
    expect(ipvsNodePortIPs(["primary"], node)).toEqual(["192.168.0.2"])
    expect(ipvsNodePortIPs(["172.16.0.0/12"], node)).toEqual([])
  })
})
