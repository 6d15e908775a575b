/** Running shipped scenarios under another kube-proxy mode. */
import { parseDocument } from "yaml"
import type { KubeProxySpec } from "../../src/cluster/spec.ts"

/** The scenario file's text with kubeProxy.mode set to `mode` (other fields and comments untouched). */
export function withMode(text: string, mode: KubeProxySpec["mode"]): string {
  const doc = parseDocument(text)
  if (doc.get("kubeProxy") === undefined) doc.set("kubeProxy", doc.createNode({}))
  doc.setIn(["kubeProxy", "mode"], mode)
  return doc.toString()
}
