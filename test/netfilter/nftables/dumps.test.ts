/**
 * Parse + print round trips of the era-A dumps upstream's nftables proxier tests expect
 * (../shared/reference/proxy-modes.md §2.2–§2.5, transcribed verbatim in fixtures/):
 * - knftables dump form: load the dump, dump the loaded table, compare with upstream's
 *   sortNFTablesTransaction semantics (§2.0);
 * - `nft list table ip kube-proxy` form: compare with what real nft 1.0.6 printed for the same
 *   text (fixtures/*.list, made by fixtures/regen-listings.sh; kernel.test.ts re-checks them live).
 */
import { describe, expect, it } from "vitest"
import { dumpTable, listTable } from "../../../src/netfilter/nftables/print.ts"
import { DUMPS, fixture, loadDump, sortTransaction } from "./helpers.ts"

describe("era-A dumps round trip", () => {
  it("baseRules alone", () => {
    const dump = fixture("base.nft")
    expect(sortTransaction(dumpTable(loadDump(dump).table!))).toBe(sortTransaction(dump))
  })

  for (const name of DUMPS) {
    it(`${name}: dump form`, () => {
      const dump = fixture("base.nft") + fixture(`${name}.nft`)
      const table = loadDump(dump, `${name}.nft`).table!
      expect(sortTransaction(dumpTable(table))).toBe(sortTransaction(dump))
    })
    it(`${name}: nft list form equals real nft's`, () => {
      const dump = fixture("base.nft") + fixture(`${name}.nft`)
      expect(listTable(loadDump(dump).table!)).toBe(fixture(`${name}.list`))
    })
  }
})
