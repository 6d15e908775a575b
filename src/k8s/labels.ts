/**
 * Label selectors, as apimachinery evaluates them (pkg/labels/selector.go, metav1.LabelSelectorAsSelector).
 *
 * - matchLabels and matchExpressions are ANDed.
 * - A LabelSelector with neither field (`{}`) matches everything; a missing selector (undefined)
 *   matches nothing (the ReplicaSet/Deployment convention: "a nil selector selects nothing").
 * - Service selectors are plain maps (ServiceSpec.selector): a Service with no selector or an empty
 *   map selects nothing (the endpoint controllers skip it; pkg/controller/endpointslice syncService).
 */
import type { LabelSelector, LabelSelectorRequirement } from "./types.ts"

export type Labels = Readonly<Record<string, string>>

/** True when every key of `selector` is present in `labels` with the same value. */
export function matchesMap(selector: Labels, labels: Labels | undefined): boolean {
  for (const key of Object.keys(selector)) {
    if (labels === undefined || !Object.hasOwn(labels, key) || labels[key] !== selector[key]) return false
  }
  return true
}

function matchesRequirement(requirement: LabelSelectorRequirement, labels: Labels | undefined): boolean {
  const has = labels !== undefined && Object.hasOwn(labels, requirement.key)
  const values = requirement.values ?? []
  switch (requirement.operator) {
    case "In":
      return has && values.includes(labels[requirement.key])
    case "NotIn":
      // apimachinery: NotIn matches when the key is absent too.
      return !has || !values.includes(labels[requirement.key])
    case "Exists":
      return has
    case "DoesNotExist":
      return !has
  }
}

/** Evaluates a metav1.LabelSelector. `undefined` selects nothing; `{}` selects everything. */
export function matchesSelector(selector: LabelSelector | undefined, labels: Labels | undefined): boolean {
  if (selector === undefined) return false
  if (selector.matchLabels !== undefined && !matchesMap(selector.matchLabels, labels)) return false
  for (const requirement of selector.matchExpressions ?? []) {
    if (!matchesRequirement(requirement, labels)) return false
  }
  return true
}

/** A Service selector (plain map): absent or empty selects nothing. */
export function matchesServiceSelector(selector: Labels | undefined, labels: Labels | undefined): boolean {
  if (selector === undefined || Object.keys(selector).length === 0) return false
  return matchesMap(selector, labels)
}

/** `a=1,b=2` with keys sorted, as kubectl prints selectors and labels. */
export function formatLabels(labels: Labels | undefined): string {
  if (labels === undefined) return ""
  return Object.keys(labels)
    .sort()
    .map((key) => `${key}=${labels[key]}`)
    .join(",")
}
