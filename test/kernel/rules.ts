/**
 * The node's complete rule set as one iptables-restore text: the kube-proxy compiler's output
 * (what `kube-netsim rules` prints) plus the jump rules kube-proxy and kubelet insert into the
 * built-in chains (`iptables -I`, so each chain holds them in reverse order of insertion).
 * The same text is loaded into the kernel and into the simulator.
 */
import { compileIptables, jumpRules } from "../../src/proxy/iptables/compile.ts"
import type { IptablesCompileResult, IptablesConfig } from "../../src/proxy/iptables/compile.ts"
import type { EndpointSlice, Service } from "../../src/k8s/types.ts"
import { NODE_IP, NODE_NAME } from "./topology.ts"

const BUILTIN: Readonly<Record<string, readonly string[]>> = {
  filter: ["INPUT", "FORWARD", "OUTPUT"],
  nat: ["PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"],
}

/** Adds the built-in chain declarations and jump rules to each table section of `restoreInput`. */
export function withJumpRules(restoreInput: string): string {
  const lines = restoreInput.split("\n")
  const out: string[] = []
  let table = ""
  let declared = new Set<string>()
  for (const line of lines) {
    if (line.startsWith("*")) {
      table = line.slice(1)
      declared = new Set()
      out.push(line)
      for (const chain of BUILTIN[table] ?? []) out.push(`:${chain} ACCEPT [0:0]`)
      continue
    }
    if (line.startsWith(":")) declared.add(line.slice(1).split(" ")[0] ?? "")
    if (line === "COMMIT") {
      const jumps = jumpRules().filter((j) => j.table === table && declared.has(j.target))
      // `iptables -I` inserts at position 1: the last ensured jump ends up first.
      for (const j of [...jumps].reverse()) out.push(`-A ${j.chain} ${j.spec}`)
    }
    out.push(line)
  }
  return out.join("\n")
}

export interface CompiledRules {
  readonly text: string
  readonly compiled: IptablesCompileResult
}

export function compileNodeRules(
  services: readonly Service[],
  slices: readonly EndpointSlice[],
  config: IptablesConfig,
): CompiledRules {
  const compiled = compileIptables(services, slices, { name: NODE_NAME, ips: [NODE_IP] }, config)
  return { text: withJumpRules(compiled.restoreInput), compiled }
}
