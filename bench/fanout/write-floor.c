/*
 * The write() floor of the fan-out bench (docs/benchmarks.md): the least CPU and delay any
 * server can spend on delivering one block to N loopback TCP listeners on this machine. No HTTP
 * or WebSocket framing, no server logic: one plain write() per listener per block.
 *
 *   write-floor writer <port|0> <N> <blockBytes> <intervalMs> <holdMs>   (taskset -c 0)
 *   write-floor reader <port> <N> <blockBytes> <timeoutMs>               (taskset -c 1)
 *
 * The writer prints "listening <port>" once it listens, then accepts N connections and waits
 * for the reader's go byte; each prints one JSON object on stdout when done.
 * Build: gcc -O2 -o write-floor write-floor.c
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <fcntl.h>
#include <unistd.h>

/* A block starts with the stamp (ns) and the pass number; the rest is filler. */
#define HEADER_BYTES 16
/* 10 µs buckets up to 10 s: millions of samples per run, too many to keep and sort. */
#define BUCKET_NS 10000ULL
#define BUCKETS 1000000

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static double cpu_seconds(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
         (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static long peak_rss_kb(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss;
}

static void die(const char *what) {
  fprintf(stderr, "write-floor: %s: %s\n", what, strerror(errno));
  exit(1);
}

/* N = 10000 needs 10000 sockets in each process; the soft limit is often 1024. */
static void raise_fd_limit(void) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
}

static void set_nonblocking(int fd) {
  if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0) die("fcntl");
}

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

/* Nearest rank on a sorted array, in ms. */
static double rank_ms(const uint64_t *sorted, size_t n, double p) {
  if (n == 0) return 0;
  size_t r = (size_t)((p / 100.0) * n + 0.999999);
  if (r < 1) r = 1;
  if (r > n) r = n;
  return sorted[r - 1] / 1e6;
}

static int writer(int port, int n, int block_bytes, int interval_ms, int hold_ms) {
  int lfd = socket(AF_INET, SOCK_STREAM, 0);
  if (lfd < 0) die("socket");
  int one = 1;
  setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(port)};
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(lfd, (struct sockaddr *)&addr, sizeof addr) < 0) die("bind");
  if (listen(lfd, 4096) < 0) die("listen");
  socklen_t len = sizeof addr;
  getsockname(lfd, (struct sockaddr *)&addr, &len);
  printf("listening %d\n", ntohs(addr.sin_port));
  fflush(stdout);

  int *fds = calloc(n, sizeof *fds);
  uint64_t join_start = 0;
  for (int i = 0; i < n; i++) {
    fds[i] = accept(lfd, NULL, NULL);
    if (fds[i] < 0) die("accept");
    if (i == 0) join_start = now_ns();
    /* Node's HTTP server and ws both disable Nagle: so does the floor. */
    setsockopt(fds[i], IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  uint64_t join_ns = now_ns() - join_start;
  /* The reader sends one byte on its first connection once every socket is in its epoll set,
   * so the first block's delay does not include the reader's own set-up. */
  char go;
  if (read(fds[0], &go, 1) != 1) die("read go byte");
  for (int i = 0; i < n; i++) set_nonblocking(fds[i]);

  char *block = calloc(1, block_bytes);
  memset(block + HEADER_BYTES, 'x', block_bytes - HEADER_BYTES);
  int passes_max = hold_ms / interval_ms;
  uint64_t *pass_ns = calloc(passes_max + 1, sizeof *pass_ns);
  long writes = 0, failures = 0, dropped = 0;
  int passes = 0;
  double cpu0 = cpu_seconds();
  uint64_t start = now_ns();
  for (; passes < passes_max; passes++) {
    /* The block "arrives" on a fixed real-time schedule; a writer still busy with the last
     * pass starts late, and that lateness is delay a listener sees, so the stamp is the
     * scheduled time rather than the (later) actual start. */
    uint64_t due = start + (uint64_t)passes * interval_ms * 1000000ULL;
    struct timespec ts = {.tv_sec = due / 1000000000ULL, .tv_nsec = due % 1000000000ULL};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR) {
    }
    uint64_t t0 = now_ns();
    memcpy(block, &due, 8);
    uint32_t seq = (uint32_t)passes;
    memcpy(block + 8, &seq, 4);
    for (int i = 0; i < n; i++) {
      if (fds[i] < 0) continue;
      ssize_t w = write(fds[i], block, block_bytes);
      writes++;
      if (w == block_bytes) continue;
      /* EAGAIN or a short write means the listener's socket is full: a real server would
       * queue or drop it; the floor drops it, since its stream is now cut mid-block. */
      failures++;
      dropped++;
      close(fds[i]);
      fds[i] = -1;
    }
    pass_ns[passes] = now_ns() - t0;
  }
  uint64_t wall = now_ns() - start;
  double cpu = cpu_seconds() - cpu0;
  for (int i = 0; i < n; i++)
    if (fds[i] >= 0) close(fds[i]);
  qsort(pass_ns, passes, sizeof *pass_ns, cmp_u64);
  printf("{\"role\":\"writer\",\"listeners\":%d,\"joinMs\":%.1f,\"passes\":%d,\"writes\":%ld,"
         "\"failures\":%ld,\"dropped\":%ld,\"cpuSeconds\":%.4f,\"cpuUsPerWrite\":%.3f,"
         "\"cpuPct\":%.1f,\"passP50Ms\":%.3f,\"passP99Ms\":%.3f,\"passMaxMs\":%.3f,"
         "\"peakRssKb\":%ld}\n",
         n, join_ns / 1e6, passes, writes, failures, dropped, cpu,
         writes ? cpu * 1e6 / writes : 0, wall ? 100.0 * cpu / (wall / 1e9) : 0,
         rank_ms(pass_ns, passes, 50), rank_ms(pass_ns, passes, 99),
         passes ? pass_ns[passes - 1] / 1e6 : 0, peak_rss_kb());
  return 0;
}

struct conn {
  int fd;
  int offset;       /* bytes of the current block read so far */
  uint32_t next;    /* pass number expected next */
  char header[HEADER_BYTES];
};

static int reader(int port, int n, int block_bytes, int timeout_ms) {
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(port)};
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  struct conn *conns = calloc(n, sizeof *conns);
  int ep = epoll_create1(0);
  if (ep < 0) die("epoll_create1");
  for (int i = 0; i < n; i++) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) die("socket");
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0) die("connect");
    set_nonblocking(fd);
    conns[i].fd = fd;
    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) die("epoll_ctl");
  }
  if (write(conns[0].fd, "g", 1) != 1) die("write go byte");

  uint32_t *hist = calloc(BUCKETS + 1, sizeof *hist);
  uint64_t samples = 0, max_ns = 0, blocks = 0, seq_gaps = 0, reads = 0;
  int open = n;
  char *scratch = malloc(block_bytes);
  struct epoll_event events[256];
  double cpu0 = cpu_seconds();
  uint64_t start = now_ns(), deadline = start + (uint64_t)timeout_ms * 1000000ULL;
  while (open > 0 && now_ns() < deadline) {
    int k = epoll_wait(ep, events, 256, 100);
    if (k < 0 && errno != EINTR) die("epoll_wait");
    for (int e = 0; e < k; e++) {
      struct conn *c = &conns[events[e].data.u32];
      /* Drain the socket, one block at a time, so each block's last byte is timed when it is
       * read — as the bench's own listeners do. */
      for (;;) {
        ssize_t r = read(c->fd, scratch, block_bytes - c->offset);
        reads++;
        if (r < 0 && errno == EAGAIN) break;
        if (r <= 0) { /* the writer closed: the hold is over, or it dropped this listener */
          close(c->fd);
          c->fd = -1;
          open--;
          break;
        }
        if (c->offset < HEADER_BYTES) {
          int take = HEADER_BYTES - c->offset < r ? HEADER_BYTES - c->offset : (int)r;
          memcpy(c->header + c->offset, scratch, take);
        }
        c->offset += (int)r;
        if (c->offset < block_bytes) continue;
        uint64_t arrived = now_ns(), stamp;
        uint32_t seq;
        memcpy(&stamp, c->header, 8);
        memcpy(&seq, c->header + 8, 4);
        if (seq != c->next) seq_gaps++;
        c->next = seq + 1;
        c->offset = 0;
        blocks++;
        uint64_t d = arrived > stamp ? arrived - stamp : 0;
        uint64_t b = d / BUCKET_NS;
        hist[b < BUCKETS ? b : BUCKETS]++;
        samples++;
        if (d > max_ns) max_ns = d;
      }
    }
  }
  double cpu = cpu_seconds() - cpu0, wall = (now_ns() - start) / 1e9;
  /* Percentiles as the upper edge of their bucket, like bench/fanout/delay-histogram.ts. */
  double pct[2] = {50, 99}, out[2] = {0, 0};
  for (int p = 0; p < 2; p++) {
    uint64_t rank = (uint64_t)((pct[p] / 100.0) * samples + 0.999999), seen = 0;
    if (rank < 1) rank = 1;
    for (int i = 0; i <= BUCKETS && samples; i++) {
      seen += hist[i];
      if (seen >= rank) {
        double edge = i == BUCKETS ? max_ns / 1e6 : (i + 1) * BUCKET_NS / 1e6;
        out[p] = edge < max_ns / 1e6 ? edge : max_ns / 1e6;
        break;
      }
    }
  }
  printf("{\"role\":\"reader\",\"listeners\":%d,\"blocks\":%llu,\"seqGaps\":%llu,"
         "\"stillOpen\":%d,\"samples\":%llu,\"p50Ms\":%.3f,\"p99Ms\":%.3f,\"maxMs\":%.3f,"
         "\"cpuSeconds\":%.4f,\"cpuPct\":%.1f,\"reads\":%llu}\n",
         n, (unsigned long long)blocks, (unsigned long long)seq_gaps, open,
         (unsigned long long)samples, out[0], out[1], max_ns / 1e6, cpu,
         wall > 0 ? 100.0 * cpu / wall : 0, (unsigned long long)reads);
  return 0;
}

int main(int argc, char **argv) {
  raise_fd_limit();
  /* The stamp and pass number must fit in a block; every block size the bench uses does. */
  if (argc >= 6 && (atoi(argv[3]) < 1 || atoi(argv[4]) < HEADER_BYTES || atoi(argv[5]) < 1)) {
    fprintf(stderr, "write-floor: N, blockBytes (>= %d) and the interval/timeout must be > 0\n",
            HEADER_BYTES);
    return 2;
  }
  if (argc == 7 && strcmp(argv[1], "writer") == 0)
    return writer(atoi(argv[2]), atoi(argv[3]), atoi(argv[4]), atoi(argv[5]), atoi(argv[6]));
  if (argc == 6 && strcmp(argv[1], "reader") == 0)
    return reader(atoi(argv[2]), atoi(argv[3]), atoi(argv[4]), atoi(argv[5]));
  fprintf(stderr, "usage: write-floor writer <port|0> <N> <blockBytes> <intervalMs> <holdMs>\n"
                  "       write-floor reader <port> <N> <blockBytes> <timeoutMs>\n");
  return 2;
}
