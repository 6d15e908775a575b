/**
 * The normalisation kube-proxy's own unit tests apply before comparing iptables-restore input
 * (pkg/proxy/iptables/proxier_test.go `sortIPTablesRules` over `iptablestest.ParseIPTablesDump`):
 * - tables sorted by name (filter before nat);
 * - chains: KUBE-NODEPORTS, then KUBE-SERVICES, then other KUBE-* alphabetically, then the rest
 *   alphabetically; declarations and rules are both printed in that chain order;
 * - rules of KUBE-NODEPORTS and KUBE-SERVICES stable-sorted by the service name in their comment
 *   (text up to the first space or colon), keeping nat KUBE-SERVICES' "must be the last rule" last;
 * - other chains keep emission order; `-X` deletions are printed after all rules, in chain order.
 * Real kube-proxy output is not sorted this way (it follows Go map order).
 */

export interface DumpChain {
  readonly name: string
  /** Declaration text after the name, e.g. "- [0:0]". */
  declaration: string
  readonly rules: string[]
  deleted: boolean
}

export interface DumpTable {
  readonly name: string
  readonly chains: DumpChain[]
}

/** Parses iptables-restore / iptables-save text into tables, chains and rules (raw rule lines). */
export function parseIptablesDump(text: string): DumpTable[] {
  const tables: DumpTable[] = []
  let table: DumpTable | null = null
  const chainIndex = new Map<string, DumpChain>()
  const lines = text.split("\n")
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim()
    if (line === "" || line.startsWith("#")) continue
    const where = `line ${i + 1}`
    if (line.startsWith("*")) {
      if (table !== null) throw new Error(`${where}: table ${line} starts before COMMIT of ${table.name}`)
      table = { name: line.slice(1), chains: [] }
      chainIndex.clear()
      continue
    }
    if (table === null) throw new Error(`${where}: content outside a table: ${line}`)
    if (line === "COMMIT") {
      tables.push(table)
      table = null
      continue
    }
    if (line.startsWith(":")) {
      const space = line.indexOf(" ")
      const name = space < 0 ? line.slice(1) : line.slice(1, space)
      if (chainIndex.has(name)) throw new Error(`${where}: duplicate chain ${name}`)
      const chain: DumpChain = { name, declaration: space < 0 ? "" : line.slice(space + 1), rules: [], deleted: false }
      chainIndex.set(name, chain)
      table.chains.push(chain)
      continue
    }
    const parts = line.split(" ")
    const op = parts[0]
    const chainName = parts[1]
    if ((op === "-A" || op === "-X") && chainName !== undefined) {
      const chain = chainIndex.get(chainName)
      if (chain === undefined) throw new Error(`${where}: chain ${chainName} not declared`)
      if (op === "-A") chain.rules.push(line)
      else chain.deleted = true
      continue
    }
    throw new Error(`${where}: unsupported line: ${line}`)
  }
  if (table !== null) throw new Error(`table ${table.name} has no COMMIT`)
  return tables
}

export function formatIptablesDump(tables: readonly DumpTable[]): string {
  const out: string[] = []
  for (const table of tables) {
    out.push(`*${table.name}`)
    for (const chain of table.chains)
      out.push(chain.declaration === "" ? `:${chain.name}` : `:${chain.name} ${chain.declaration}`)
    for (const chain of table.chains) out.push(...chain.rules)
    for (const chain of table.chains) if (chain.deleted) out.push(`-X ${chain.name}`)
    out.push("COMMIT")
  }
  return out.join("\n") + "\n"
}

/** The `--comment` value of a rule line (quotes removed), or null. */
export function ruleComment(rule: string): string | null {
  const at = rule.indexOf("--comment ")
  if (at < 0) return null
  const start = at + "--comment ".length
  if (rule[start] === '"') {
    const end = rule.indexOf('"', start + 1)
    return end < 0 ? rule.slice(start + 1) : rule.slice(start + 1, end)
  }
  const end = rule.indexOf(" ", start)
  return end < 0 ? rule.slice(start) : rule.slice(start, end)
}

function commentServiceName(comment: string): string {
  const space = comment.indexOf(" ")
  const colon = comment.indexOf(":")
  let cut = -1
  if (space >= 0) cut = space
  if (colon >= 0 && (cut < 0 || colon < cut)) cut = colon
  return cut < 0 ? comment : comment.slice(0, cut)
}

/** orderByCommentServiceName as a comparator: rules without comments compare equal. */
function compareByCommentServiceName(a: string, b: string): number {
  const commentA = ruleComment(a)
  const commentB = ruleComment(b)
  if (commentA === null || commentB === null) return 0
  const nameA = commentServiceName(commentA)
  const nameB = commentServiceName(commentB)
  return nameA < nameB ? -1 : nameA > nameB ? 1 : 0
}

function chainRank(name: string): number {
  if (name === "KUBE-NODEPORTS") return 0
  if (name === "KUBE-SERVICES") return 1
  return name.startsWith("KUBE-") ? 2 : 3
}

function compareChains(a: DumpChain, b: DumpChain): number {
  const rank = chainRank(a.name) - chainRank(b.name)
  if (rank !== 0) return rank
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0
}

const LAST_RULE_MARKER = "must be the last rule"

/** Sorts iptables-restore text the way upstream's `sortIPTablesRules` does. */
export function sortIptablesRules(text: string): string {
  const tables = parseIptablesDump(text)
  tables.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
  for (const table of tables) {
    table.chains.sort(compareChains)
    for (const chain of table.chains) {
      if (chain.name === "KUBE-NODEPORTS" || (chain.name === "KUBE-SERVICES" && table.name === "filter")) {
        stableSortInPlace(chain.rules, compareByCommentServiceName)
      } else if (chain.name === "KUBE-SERVICES" && table.name === "nat") {
        stableSortInPlace(chain.rules, (a, b) => {
          const lastA = (ruleComment(a) ?? "").includes(LAST_RULE_MARKER)
          const lastB = (ruleComment(b) ?? "").includes(LAST_RULE_MARKER)
          if (lastA !== lastB) return lastA ? 1 : -1
          if (lastA) return 0
          return compareByCommentServiceName(a, b)
        })
      }
    }
  }
  return formatIptablesDump(tables)
}

function stableSortInPlace(rules: string[], compare: (a: string, b: string) => number): void {
  const sorted = rules
    .map((rule, index) => ({ rule, index }))
    .sort((x, y) => compare(x.rule, y.rule) || x.index - y.index)
  for (let i = 0; i < sorted.length; i++) rules[i] = sorted[i].rule
}
