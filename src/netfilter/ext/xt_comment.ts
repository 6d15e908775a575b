/** `-m comment --comment TEXT` (net/netfilter/xt_comment.c): always matches. */
import type { MatchExtension, NextArg } from "../xt.ts"
import { Match } from "../xt.ts"

export class CommentMatch extends Match {
  readonly sideEffect = false
  constructor(readonly comment: string) {
    super()
  }
  override get alwaysMatches(): boolean {
    return true
  }
  matches(): boolean {
    return true
  }
}

export const commentMatch: MatchExtension = {
  name: "comment",
  options: ["comment"],
  create: () => new CommentMatch(""),
  parse: (_m: Match, option: string, next: NextArg): Match => new CommentMatch(next(`--${option}`)),
}
