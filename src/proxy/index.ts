/** kube-proxy: shared service/endpoint view, the iptables compiler, sync timing, conntrack cleanup. */
export * from "./service-port.ts"
export * from "./topology.ts"
export * from "./iptables/names.ts"
export * from "./iptables/compile.ts"
export * from "./iptables/sort.ts"
export * from "./sync.ts"
export * from "./conntrack-cleanup.ts"
export * from "./iptables/proxier.ts"
