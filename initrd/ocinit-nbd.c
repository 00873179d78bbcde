/*
 * ocinit-nbd: attaches a network block device with the kernel's ioctl interface. Debian's
 * nbd-client does the same but brings GnuTLS and libnl (2.2 MiB of zstd in the initramfs) for
 * features b2c.nbd does not have (TLS, netlink). Built statically by `make initrd`.
 *
 *   ocinit-nbd connect HOST PORT DEVICE CONNECTIONS   the server's default export ("")
 *   ocinit-nbd disconnect DEVICE
 *
 * connect negotiates the fixed newstyle handshake on each connection, hands the sockets to the
 * kernel, and leaves a child in NBD_DO_IT (it serves the device until disconnect); it returns once
 * the device has its size, after opening it once so that its partitions are scanned.
 */
#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/nbd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_CONNECTIONS 64
#define NBD_OPT_EXPORT_NAME 1
#define NBD_FLAG_FIXED_NEWSTYLE 1
#define NBD_FLAG_NO_ZEROES 2

static int fail(const char *format, ...) {
  va_list args;
  va_start(args, format);
  vfprintf(stderr, format, args);
  va_end(args);
  fputc('\n', stderr);
  return 1;
}

static int read_all(int fd, void *buffer, size_t size) {
  for (size_t done = 0; done < size;) {
    ssize_t got = read(fd, (char *)buffer + done, size - done);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) return -1;
    done += (size_t)got;
  }
  return 0;
}

static int write_all(int fd, const void *buffer, size_t size) {
  for (size_t done = 0; done < size;) {
    ssize_t put = write(fd, (const char *)buffer + done, size - done);
    if (put < 0 && errno == EINTR) continue;
    if (put <= 0) return -1;
    done += (size_t)put;
  }
  return 0;
}

/* HOST is an IP address: the caller resolves names (a static binary cannot use glibc's NSS). */
static int dial(const char *host, const char *port) {
  struct sockaddr_storage address;
  memset(&address, 0, sizeof address);
  struct sockaddr_in *v4 = (struct sockaddr_in *)&address;
  struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&address;
  socklen_t length;
  int number = atoi(port);
  if (number < 1 || number > 65535) return fail("'%s' is not a port", port), -1;
  if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons((uint16_t)number);
    length = sizeof *v4;
  } else if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons((uint16_t)number);
    length = sizeof *v6;
  } else {
    return fail("'%s' is not an IP address", host), -1;
  }
  int fd = socket(address.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0 || connect(fd, (struct sockaddr *)&address, length) != 0) {
    fail("connecting to %s:%s: %s", host, port, strerror(errno));
    if (fd >= 0) close(fd);
    return -1;
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

/* The fixed newstyle handshake, asking for the default export: its size and transmission flags. */
static int negotiate(int fd, uint64_t *size, uint16_t *flags) {
  char magic[16];
  uint16_t server_flags;
  if (read_all(fd, magic, sizeof magic) != 0 || memcmp(magic, "NBDMAGICIHAVEOPT", 16) != 0) return fail("the server does not speak the NBD newstyle protocol");
  if (read_all(fd, &server_flags, sizeof server_flags) != 0) return fail("the server closed the connection");
  server_flags = be16toh(server_flags);
  if (!(server_flags & NBD_FLAG_FIXED_NEWSTYLE)) return fail("the server does not speak the fixed newstyle protocol");
  uint32_t client_flags = htobe32(NBD_FLAG_FIXED_NEWSTYLE | (server_flags & NBD_FLAG_NO_ZEROES));
  struct __attribute__((packed)) {
    char magic[8];
    uint32_t option;
    uint32_t length;
  } request = {{'I', 'H', 'A', 'V', 'E', 'O', 'P', 'T'}, htobe32(NBD_OPT_EXPORT_NAME), 0};
  if (write_all(fd, &client_flags, sizeof client_flags) != 0 || write_all(fd, &request, sizeof request) != 0) return fail("sending the export request failed");
  struct __attribute__((packed)) {
    uint64_t size;
    uint16_t flags;
  } reply;
  if (read_all(fd, &reply, sizeof reply) != 0) return fail("the server has no default export (it closed the connection)");
  char zeroes[124];
  if (!(server_flags & NBD_FLAG_NO_ZEROES) && read_all(fd, zeroes, sizeof zeroes) != 0) return fail("the server closed the connection");
  *size = be64toh(reply.size);
  *flags = be16toh(reply.flags);
  return 0;
}

static long long device_size(const char *device) {
  char path[128];
  snprintf(path, sizeof path, "/sys/block/%s/size", strrchr(device, '/') == NULL ? device : strrchr(device, '/') + 1);
  FILE *file = fopen(path, "r");
  long long sectors = 0;
  if (file != NULL) {
    if (fscanf(file, "%lld", &sectors) != 1) sectors = 0;
    fclose(file);
  }
  return sectors;
}

static int attach(const char *host, const char *port, const char *device, int connections) {
  if (connections < 1 || connections > MAX_CONNECTIONS) return fail("connections must be 1 to %d", MAX_CONNECTIONS);
  int nbd = open(device, O_RDWR | O_CLOEXEC);
  if (nbd < 0) return fail("%s: %s (is the nbd module loaded?)", device, strerror(errno));
  uint64_t size = 0;
  uint16_t flags = 0;
  for (int i = 0; i < connections; i++) {
    int fd = dial(host, port);
    if (fd < 0) return 1;
    if (negotiate(fd, &size, &flags) != 0) return 1;
    if (ioctl(nbd, NBD_SET_SOCK, fd) != 0) return fail("%s: NBD_SET_SOCK: %s (already attached?)", device, strerror(errno));
  }
  // 512-byte blocks, nbd-client's default: any file system's block size then fits.
  if (ioctl(nbd, NBD_SET_BLKSIZE, 512UL) != 0 || ioctl(nbd, NBD_SET_SIZE_BLOCKS, (unsigned long)(size / 512)) != 0 ||
      ioctl(nbd, NBD_SET_FLAGS, (unsigned long)flags) != 0)
    return fail("%s: setting the size and flags: %s", device, strerror(errno));
  pid_t child = fork();
  if (child < 0) return fail("fork: %s", strerror(errno));
  if (child == 0) {
    // The server of the device until it is disconnected: away from the caller's pipes and session.
    setsid();
    int null = open("/dev/null", O_RDWR);
    dup2(null, 0), dup2(null, 1), dup2(null, 2);
    ioctl(nbd, NBD_DO_IT);
    ioctl(nbd, NBD_CLEAR_QUE);
    ioctl(nbd, NBD_CLEAR_SOCK);
    _exit(0);
  }
  for (int tries = 0; tries < 200 && device_size(device) == 0; tries++) usleep(50 * 1000);
  if (device_size(device) == 0) return fail("%s did not come up", device);
  close(nbd);
  // Opening the device rescans its partitions (max_part): a B2C_CACHE partition then appears.
  int scan = open(device, O_RDONLY | O_CLOEXEC);
  if (scan >= 0) close(scan);
  printf("%s: %llu bytes from %s:%s over %d connection(s)\n", device, (unsigned long long)size, host, port, connections);
  return 0;
}

static int detach(const char *device) {
  int nbd = open(device, O_RDWR | O_CLOEXEC);
  if (nbd < 0) return fail("%s: %s", device, strerror(errno));
  int status = ioctl(nbd, NBD_DISCONNECT);
  int error = errno;
  ioctl(nbd, NBD_CLEAR_SOCK);
  close(nbd);
  return status == 0 ? 0 : fail("%s: NBD_DISCONNECT: %s", device, strerror(error));
}

int main(int argc, char **argv) {
  if (argc == 6 && strcmp(argv[1], "connect") == 0) return attach(argv[2], argv[3], argv[4], atoi(argv[5]));
  if (argc == 3 && strcmp(argv[1], "disconnect") == 0) return detach(argv[2]);
  fprintf(stderr, "usage: ocinit-nbd connect HOST PORT DEVICE CONNECTIONS | disconnect DEVICE\n");
  return 1;
}
