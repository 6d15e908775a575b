/**
 * The `kube-netsim rules` printing path for nftables mode (to be plugged into the CLI when the mode
 * is wired): what kube-proxy's first (full) sync writes for the given views, in one of the three
 * forms — the `nft -f` transaction text, `nft list table ip kube-proxy`, or the sorted dump
 * upstream's unit tests compare (`sortNFTablesTransaction(nft.Dump())`).
 */
import type { ProxyNode } from "../service-port.ts"
import type { ServicePortView } from "../view.ts"
import { compileNftables } from "./compile.ts"
import type { NftablesConfig, NftablesRulesForm } from "./compile.ts"
import { listTable } from "./list.ts"
import { KUBE_PROXY_TABLE } from "./names.ts"
import { sortNftablesTransaction } from "./sort.ts"
import { formatTransaction, NftTable } from "./table.ts"

/** The table after a full sync from an empty kernel, printed in `form` (default: `nft list`). */
export function nftablesRulesText(
  views: readonly ServicePortView[],
  node: ProxyNode,
  config: NftablesConfig,
  form: NftablesRulesForm = "list",
): string {
  const result = compileNftables(views, node, config, { fullSync: true, recreateBaseChains: true })
  const table = new NftTable("ip", KUBE_PROXY_TABLE)
  table.apply(result.ops)
  switch (form) {
    case "transaction":
      return formatTransaction(result.ops, table.family, table.name)
    case "list":
      return listTable(table)
    case "sorted":
      return sortNftablesTransaction(table.dump()) + "\n"
  }
}
