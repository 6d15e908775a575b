/**
 * Which stub resolver a client image ships (../shared/reference/dns.md §2.2-2.4). The libc is a
 * property of the image's userland, not of Kubernetes; this table names the images scenarios use.
 *
 * - musl: Alpine-based images (alpine, and images built FROM alpine such as curlimages/curl) —
 *   Alpine's libc is musl (alpinelinux.org "About"). busybox: the choice (the Docker
 *   official image also ships glibc and uclibc variants; the `:musl` tag is musl) — treated as musl.
 * - go: binaries built with the pure-Go resolver (CGO_ENABLED=0 / netgo): CoreDNS itself
 *   (static Go binary on distroless), and this simulator's own `http-go` server image.
 * - glibc: everything else — Debian/Ubuntu bases, nicolaka/netshoot, praqma/network-multitool,
 *   nginx, and the official language images (python, node, golang, openjdk: Debian-based by default).
 */
import type { StubLibc } from "./types.ts"

interface LibcEntry {
  /** Repository name (last path component, no tag/digest), or a prefix of the full reference. */
  readonly repository: string
  readonly libc: StubLibc
}

export const IMAGE_LIBC: readonly LibcEntry[] = [
  { repository: "alpine", libc: "musl" },
  { repository: "busybox", libc: "musl" },
  { repository: "curl", libc: "musl" },
  { repository: "coredns", libc: "go" },
  { repository: "http-go", libc: "go" },
]

/** The stub resolver of `image` ("nicolaka/netshoot:v0.13" -> glibc, "alpine:3.20" -> musl). */
export function imageLibc(image: string): StubLibc {
  const withoutDigest = image.split("@")[0]
  const last = withoutDigest.slice(withoutDigest.lastIndexOf("/") + 1)
  const colon = last.indexOf(":")
  const repository = colon < 0 ? last : last.slice(0, colon)
  const tag = colon < 0 ? "" : last.slice(colon + 1)
  // "python:3.12-alpine", "nginx:alpine": an -alpine tag is an Alpine (musl) build of the image.
  if (tag === "alpine" || tag.endsWith("-alpine") || tag.includes("-alpine")) return "musl"
  for (const entry of IMAGE_LIBC) if (entry.repository === repository) return entry.libc
  return "glibc"
}
