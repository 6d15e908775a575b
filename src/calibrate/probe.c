/*
 * kube-netsim calibrate: the native load generator (compiled with gcc at run time so the
 * measurement adds no interpreter overhead). Three modes:
 *
 *   probe echo ADDR PORT
 *       UDP echo server: answers every datagram to its sender. Prints READY once bound.
 *   probe ping ADDR PORT COUNT same|new WARMUP [GAP_US]
 *       UDP ping-pong: COUNT echoes (after WARMUP unrecorded ones), one at a time; prints each
 *       round trip in ns (CLOCK_MONOTONIC around send..receive), -1 for a lost one (1 s timeout).
 *       GAP_US (default 0): idle time between echoes (nanosleep), as `ping -i` spaces its echoes:
 *       the machine's other work then runs between two packets, as between a node's sparse flows.
 *       same = one connected socket (one conntrack entry, established after the first answer);
 *       new  = a new socket per echo (a new source port, so a new conntrack entry each time).
 *   probe icmp ADDR COUNT GAP_US
 *       ICMP echo (raw socket, as `ping -i` sends them): COUNT echo requests one at a time, GAP_US
 *       of idle time between them; prints each round trip in ns (CLOCK_MONOTONIC around
 *       send..matching reply), -1 for a lost one (1 s timeout). The reply comes from the peer's
 *       kernel (icmp_echo in softirq): no user-space server on the far side.
 *   probe time CMD ARGS...
 *       Runs CMD (fork + execvp, as kube-proxy execs iptables-restore) and prints its wall time in
 *       ns and its exit status: "WALL_NS STATUS".
 *   probe blast COUNT same|new
 *       Sends COUNT 16-byte datagrams from one unconnected socket towards 10.99.0.0/16 (routed by
 *       the caller into a dummy interface, which frees them: the whole cost is the send path, in
 *       this process's system calls). same = one destination; new = a different destination
 *       address/port per datagram (a new 5-tuple, so a new conntrack entry when conntrack runs).
 *       Prints "CPU_NS WALL_NS": this process's CPU time and the wall time of the loop.
 *
 * Every mode exits by itself: alarm() bounds its life so nothing outlives the calibration.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/ip_icmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int64_t now_ns(clockid_t clock) {
  struct timespec ts;
  clock_gettime(clock, &ts);
  return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void die(const char *what) {
  fprintf(stderr, "probe: %s: %s\n", what, strerror(errno));
  exit(1);
}

static struct sockaddr_in addr_of(const char *ip, int port) {
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_port = htons((uint16_t)port);
  if (inet_pton(AF_INET, ip, &a.sin_addr) != 1) {
    fprintf(stderr, "probe: bad address %s\n", ip);
    exit(1);
  }
  return a;
}

static int echo(const char *ip, int port) {
  int s = socket(AF_INET, SOCK_DGRAM, 0);
  if (s < 0) die("socket");
  struct sockaddr_in a = addr_of(ip, port);
  if (bind(s, (struct sockaddr *)&a, sizeof a) < 0) die("bind");
  printf("READY\n");
  fflush(stdout);
  char buf[2048];
  for (;;) {
    struct sockaddr_in from;
    socklen_t len = sizeof from;
    ssize_t n = recvfrom(s, buf, sizeof buf, 0, (struct sockaddr *)&from, &len);
    if (n < 0) {
      if (errno == EINTR) continue;
      die("recvfrom");
    }
    sendto(s, buf, (size_t)n, 0, (struct sockaddr *)&from, len);
  }
  return 0;
}

static int open_connected(const struct sockaddr_in *dst) {
  int s = socket(AF_INET, SOCK_DGRAM, 0);
  if (s < 0) die("socket");
  struct timeval tv = {1, 0};
  setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  if (connect(s, (const struct sockaddr *)dst, sizeof *dst) < 0) die("connect");
  return s;
}

static int64_t one_echo(int s) {
  char buf[64] = "kube-netsim-calibrate";
  int64_t t0 = now_ns(CLOCK_MONOTONIC);
  if (send(s, buf, 32, 0) < 0) return -1;
  for (;;) {
    ssize_t n = recv(s, buf, sizeof buf, 0);
    if (n >= 0) break;
    if (errno == EINTR) continue;
    return -1;
  }
  return now_ns(CLOCK_MONOTONIC) - t0;
}

static int ping(const char *ip, int port, long count, int fresh, long warmup, long gap_us) {
  struct sockaddr_in dst = addr_of(ip, port);
  int s = fresh ? -1 : open_connected(&dst);
  struct timespec gap = {gap_us / 1000000, (gap_us % 1000000) * 1000};
  for (long i = 0; i < warmup + count; i++) {
    if (gap_us > 0 && i > 0) nanosleep(&gap, NULL);
    if (fresh) s = open_connected(&dst);
    int64_t rtt = one_echo(s);
    if (fresh) close(s);
    if (i >= warmup) printf("%lld\n", (long long)rtt);
  }
  return 0;
}

static uint16_t icmp_checksum(const void *data, size_t len) {
  const uint8_t *p = data;
  uint32_t sum = 0;
  for (size_t i = 0; i + 1 < len; i += 2) sum += (uint32_t)(p[i] << 8 | p[i + 1]);
  if (len & 1) sum += (uint32_t)(p[len - 1] << 8);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return htons((uint16_t)~sum);
}

static int icmp_ping(const char *ip, long count, long gap_us) {
  int s = socket(AF_INET, SOCK_RAW, IPPROTO_ICMP);
  if (s < 0) die("socket(SOCK_RAW, IPPROTO_ICMP)");
  struct timeval tv = {1, 0};
  setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  struct sockaddr_in dst = addr_of(ip, 0);
  struct timespec gap = {gap_us / 1000000, (gap_us % 1000000) * 1000};
  uint16_t id = (uint16_t)getpid();
  for (long i = 0; i < count; i++) {
    if (gap_us > 0 && i > 0) nanosleep(&gap, NULL);
    /* 8-byte header + 56 bytes of data: ping's default 64-byte echo. */
    uint8_t pkt[64];
    memset(pkt, 0, sizeof pkt);
    struct icmphdr *h = (struct icmphdr *)pkt;
    h->type = ICMP_ECHO;
    h->un.echo.id = htons(id);
    h->un.echo.sequence = htons((uint16_t)i);
    h->checksum = icmp_checksum(pkt, sizeof pkt);
    int64_t t0 = now_ns(CLOCK_MONOTONIC), rtt = -1;
    if (sendto(s, pkt, sizeof pkt, 0, (struct sockaddr *)&dst, sizeof dst) < 0) die("sendto");
    for (;;) {
      uint8_t buf[1500];
      ssize_t n = recv(s, buf, sizeof buf, 0);
      if (n < 0) {
        if (errno == EINTR) continue;
        break; /* timeout: lost */
      }
      const struct iphdr *iph = (const struct iphdr *)buf;
      size_t hl = (size_t)iph->ihl * 4;
      if ((size_t)n < hl + sizeof(struct icmphdr)) continue;
      const struct icmphdr *r = (const struct icmphdr *)(buf + hl);
      if (r->type == ICMP_ECHOREPLY && r->un.echo.id == htons(id) && r->un.echo.sequence == htons((uint16_t)i)) {
        rtt = now_ns(CLOCK_MONOTONIC) - t0;
        break;
      }
    }
    printf("%lld\n", (long long)rtt);
  }
  return 0;
}

static int blast(long count, int fresh) {
  int s = socket(AF_INET, SOCK_DGRAM, 0);
  if (s < 0) die("socket");
  struct sockaddr_in dst = addr_of("10.99.0.2", 9000);
  char buf[16] = {0};
  int64_t c0 = now_ns(CLOCK_PROCESS_CPUTIME_ID), w0 = now_ns(CLOCK_MONOTONIC);
  for (long i = 0; i < count; i++) {
    if (fresh) {
      /* 10.99.h.l with h.l in 1..65000, port 9000 + i / 65000: unique per datagram. */
      uint32_t host = 1 + (uint32_t)(i % 65000);
      dst.sin_addr.s_addr = htonl((10u << 24) | (99u << 16) | host);
      dst.sin_port = htons((uint16_t)(9000 + i / 65000));
    }
    if (sendto(s, buf, sizeof buf, 0, (struct sockaddr *)&dst, sizeof dst) < 0 && errno != ENOBUFS &&
        errno != EPERM)
      die("sendto");
  }
  int64_t c1 = now_ns(CLOCK_PROCESS_CPUTIME_ID), w1 = now_ns(CLOCK_MONOTONIC);
  printf("%lld %lld\n", (long long)(c1 - c0), (long long)(w1 - w0));
  return 0;
}

static int timed(char **argv) {
  int64_t t0 = now_ns(CLOCK_MONOTONIC);
  pid_t pid = fork();
  if (pid < 0) die("fork");
  if (pid == 0) {
    execvp(argv[0], argv);
    _exit(127);
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) die("waitpid");
  printf("%lld %d\n", (long long)(now_ns(CLOCK_MONOTONIC) - t0), WIFEXITED(status) ? WEXITSTATUS(status) : 128);
  return 0;
}

int main(int argc, char **argv) {
  alarm(900);
  if (argc >= 4 && strcmp(argv[1], "echo") == 0) return echo(argv[2], atoi(argv[3]));
  if (argc >= 7 && strcmp(argv[1], "ping") == 0)
    return ping(argv[2], atoi(argv[3]), atol(argv[4]), strcmp(argv[5], "new") == 0, atol(argv[6]),
                argc >= 8 ? atol(argv[7]) : 0);
  if (argc >= 5 && strcmp(argv[1], "icmp") == 0) return icmp_ping(argv[2], atol(argv[3]), atol(argv[4]));
  if (argc >= 4 && strcmp(argv[1], "blast") == 0) return blast(atol(argv[2]), strcmp(argv[3], "new") == 0);
  if (argc >= 3 && strcmp(argv[1], "time") == 0) return timed(argv + 2);
  fprintf(stderr, "usage: probe echo ADDR PORT | ping ADDR PORT COUNT same|new WARMUP [GAP_US] | icmp ADDR COUNT GAP_US | blast COUNT same|new | time CMD ARGS...\n");
  return 2;
}
