/*
 * ocinit-dm: opens a file as a read-only dm-verity device with the kernel's loop and device-mapper
 * ioctls. Debian's dmsetup does the same with libdevmapper, libudev and libselinux (1.5 MiB) for
 * the one table ocinit loads. Built statically by `make initrd`.
 *
 *   ocinit-dm verity NAME FILE TABLE   prints "/dev/dm-N /dev/loopM"; TABLE is the verity target's parameters
 *                                      with FILE's place written as @ (the loop device replaces it)
 *   ocinit-dm remove NAME
 *
 * The loop device is read-only and autoclear: it goes away with the dm device that holds it.
 * Exit status 1 for any failure, the reason on stderr.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/dm-ioctl.h>
#include <linux/loop.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#define TABLE_MAX 4096

static int fail(const char *format, ...) {
  va_list args;
  va_start(args, format);
  vfprintf(stderr, format, args);
  va_end(args);
  fputc('\n', stderr);
  return 1;
}

static void init_header(struct dm_ioctl *io, size_t size, const char *name) {
  memset(io, 0, size);
  io->version[0] = DM_VERSION_MAJOR;
  io->version[1] = 0;
  io->version[2] = 0;
  io->data_size = (uint32_t)size;
  io->data_start = sizeof *io;
  strncpy(io->name, name, sizeof io->name - 1);
}

static int control(void) {
  int fd = open("/dev/mapper/control", O_RDWR | O_CLOEXEC);
  if (fd >= 0) return fd;
  /* devtmpfs makes the node only once dm-mod is loaded; make it where dmsetup expects it. */
  mkdir("/dev/mapper", 0755);
  if (mknod("/dev/mapper/control", S_IFCHR | 0600, makedev(10, 236)) != 0 && errno != EEXIST) return -1;
  return open("/dev/mapper/control", O_RDWR | O_CLOEXEC);
}

/* A read-only, autoclear loop device over FILE; returns its fd and writes its path. */
static int loop_open(const char *file, char *path, size_t path_size) {
  int backing = open(file, O_RDONLY | O_CLOEXEC);
  if (backing < 0) return fail("cannot open %s: %s", file, strerror(errno)), -1;
  int loop_control = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
  if (loop_control < 0) return fail("cannot open /dev/loop-control: %s", strerror(errno)), -1;
  for (int attempt = 0; attempt < 16; attempt++) {
    int number = ioctl(loop_control, LOOP_CTL_GET_FREE);
    if (number < 0) return fail("no free loop device: %s", strerror(errno)), -1;
    snprintf(path, path_size, "/dev/loop%d", number);
    int loop = open(path, O_RDONLY | O_CLOEXEC);
    if (loop < 0) return fail("cannot open %s: %s", path, strerror(errno)), -1;
    struct loop_config config;
    memset(&config, 0, sizeof config);
    config.fd = (uint32_t)backing;
    config.info.lo_flags = LO_FLAGS_READ_ONLY | LO_FLAGS_AUTOCLEAR;
    strncpy((char *)config.info.lo_file_name, file, LO_NAME_SIZE - 1);
    if (ioctl(loop, LOOP_CONFIGURE, &config) == 0) {
      close(loop_control);
      close(backing);
      return loop;
    }
    int error = errno;
    close(loop);
    if (error != EBUSY) return fail("cannot attach %s to %s: %s", file, path, strerror(error)), -1;
    /* Another process took it between GET_FREE and CONFIGURE: ask again. */
  }
  return fail("no free loop device after 16 attempts"), -1;
}

static int remove_device(int fd, const char *name) {
  struct dm_ioctl io;
  init_header(&io, sizeof io, name);
  return ioctl(fd, DM_DEV_REMOVE, &io);
}

static int verity(const char *name, const char *file, const char *table_template) {
  int fd = control();
  if (fd < 0) return fail("cannot open /dev/mapper/control: %s (is dm-mod loaded?)", strerror(errno));
  char loop_path[64];
  int loop = loop_open(file, loop_path, sizeof loop_path);
  if (loop < 0) return 1;
  char table[TABLE_MAX];
  size_t used = 0;
  for (const char *c = table_template; *c != '\0'; c++) {
    const char *piece = *c == '@' ? loop_path : c;
    size_t length = *c == '@' ? strlen(loop_path) : 1;
    if (used + length >= sizeof table) return fail("table too long");
    memcpy(table + used, piece, length);
    used += length;
  }
  table[used] = '\0';
  /* The table needs the data size in 512-byte sectors: the number of data blocks times 8. */
  unsigned long long blocks = 0, block_size = 0;
  if (sscanf(table, "%*u %*s %*s %llu %*u %llu", &block_size, &blocks) != 2 || block_size == 0) return fail("cannot read the block size and count in '%s'", table);

  struct dm_ioctl create;
  init_header(&create, sizeof create, name);
  if (ioctl(fd, DM_DEV_CREATE, &create) != 0) return fail("cannot create device-mapper device %s: %s", name, strerror(errno));

  size_t size = sizeof(struct dm_ioctl) + sizeof(struct dm_target_spec) + used + 1 + 8;
  struct dm_ioctl *load = calloc(1, size);
  if (load == NULL) return fail("out of memory");
  init_header(load, size, name);
  load->target_count = 1;
  load->flags = DM_READONLY_FLAG;
  struct dm_target_spec *target = (struct dm_target_spec *)((char *)load + sizeof *load);
  target->sector_start = 0;
  target->length = blocks * (block_size / 512);
  strncpy(target->target_type, "verity", sizeof target->target_type - 1);
  memcpy((char *)(target + 1), table, used + 1);
  if (ioctl(fd, DM_TABLE_LOAD, load) != 0) {
    int error = errno;
    remove_device(fd, name);
    return fail("the kernel refused the verity table '%s': %s (dmesg says why)", table, strerror(error));
  }
  struct dm_ioctl resume;
  init_header(&resume, sizeof resume, name);
  if (ioctl(fd, DM_DEV_SUSPEND, &resume) != 0) {
    int error = errno;
    remove_device(fd, name);
    return fail("cannot activate %s: %s", name, strerror(error));
  }
  close(loop);
  printf("/dev/dm-%u %s\n", minor(resume.dev), loop_path);
  return 0;
}

int main(int argc, char **argv) {
  if (argc == 5 && strcmp(argv[1], "verity") == 0) return verity(argv[2], argv[3], argv[4]);
  if (argc == 3 && strcmp(argv[1], "remove") == 0) {
    int fd = control();
    if (fd < 0) return fail("cannot open /dev/mapper/control: %s", strerror(errno));
    if (remove_device(fd, argv[2]) != 0) return fail("cannot remove %s: %s", argv[2], strerror(errno));
    return 0;
  }
  return fail("usage: ocinit-dm verity NAME FILE TABLE | ocinit-dm remove NAME");
}
