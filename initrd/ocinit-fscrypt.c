/*
 * ocinit-fscrypt: the three fscrypt ioctls ocinit needs (Node has no ioctl), with fscryptctl's
 * command names and defaults so that directories boot2container encrypted with fscryptctl open
 * here and the other way round. Built statically by `make initrd` (initrd/binaries.txt).
 *
 *   ocinit-fscrypt add_key PATH            raw key on stdin; prints the key identifier (hex)
 *   ocinit-fscrypt set_policy KEY_ID DIR   v2 policy: AES-256-XTS contents, AES-256-CTS names, padding 32
 *   ocinit-fscrypt get_policy DIR          prints "none", or "v2 KEY_ID", or "v1"
 *
 * Exit status: 0 done; 2 the directory cannot take the policy (not empty, or another policy);
 * 3 the file system has no encryption support; 1 anything else. Errors go to stderr.
 */
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <linux/fscrypt.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

/* The kernel accepts 16 to 64 bytes (FSCRYPT_MAX_KEY_SIZE); older headers lack the minimum. */
#define MIN_KEY_SIZE 16

static int fail(int status, const char *format, ...) {
  va_list args;
  va_start(args, format);
  vfprintf(stderr, format, args);
  va_end(args);
  fputc('\n', stderr);
  return status;
}

static int open_dir(const char *path) {
  int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) fprintf(stderr, "%s: %s\n", path, strerror(errno));
  return fd;
}

static void print_hex(const unsigned char *bytes, size_t size) {
  for (size_t i = 0; i < size; i++) printf("%02x", bytes[i]);
  printf("\n");
}

static int parse_hex(const char *text, unsigned char *out, size_t size) {
  if (strlen(text) != size * 2) return -1;
  for (size_t i = 0; i < size; i++) {
    unsigned int byte;
    if (sscanf(text + 2 * i, "%2x", &byte) != 1) return -1;
    out[i] = (unsigned char)byte;
  }
  return 0;
}

static int add_key(const char *path) {
  struct {
    struct fscrypt_add_key_arg arg;
    unsigned char raw[FSCRYPT_MAX_KEY_SIZE];
  } request;
  memset(&request, 0, sizeof request);
  size_t size = 0;
  for (;;) {
    ssize_t got = read(STDIN_FILENO, request.raw + size, sizeof request.raw - size);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) return fail(1, "reading the key: %s", strerror(errno));
    if (got == 0) break;
    size += (size_t)got;
    if (size == sizeof request.raw) break;
  }
  char extra;
  if (size == sizeof request.raw && read(STDIN_FILENO, &extra, 1) > 0) return fail(1, "the key is longer than %d bytes", FSCRYPT_MAX_KEY_SIZE);
  if (size < MIN_KEY_SIZE) return fail(1, "the key is %zu bytes, at least %d are needed", size, MIN_KEY_SIZE);
  request.arg.key_spec.type = FSCRYPT_KEY_SPEC_TYPE_IDENTIFIER;
  request.arg.raw_size = (__u32)size;
  int fd = open_dir(path);
  if (fd < 0) return 1;
  int result = ioctl(fd, FS_IOC_ADD_ENCRYPTION_KEY, &request.arg);
  int error = errno;
  memset(request.raw, 0, sizeof request.raw);
  close(fd);
  if (result != 0) return fail(error == EOPNOTSUPP ? 3 : 1, "adding the key on %s: %s", path, strerror(error));
  print_hex(request.arg.key_spec.u.identifier, FSCRYPT_KEY_IDENTIFIER_SIZE);
  return 0;
}

static int set_policy(const char *key_id, const char *dir) {
  struct fscrypt_policy_v2 policy;
  memset(&policy, 0, sizeof policy);
  policy.version = FSCRYPT_POLICY_V2;
  policy.contents_encryption_mode = FSCRYPT_MODE_AES_256_XTS;
  policy.filenames_encryption_mode = FSCRYPT_MODE_AES_256_CTS;
  policy.flags = FSCRYPT_POLICY_FLAGS_PAD_32;
  if (parse_hex(key_id, policy.master_key_identifier, FSCRYPT_KEY_IDENTIFIER_SIZE) != 0) return fail(1, "'%s' is not a key identifier", key_id);
  int fd = open_dir(dir);
  if (fd < 0) return 1;
  int result = ioctl(fd, FS_IOC_SET_ENCRYPTION_POLICY, &policy);
  int error = errno;
  close(fd);
  if (result == 0) return 0;
  fprintf(stderr, "setting the policy of %s: %s\n", dir, strerror(error));
  if (error == EEXIST || error == ENOTEMPTY) return 2;
  return error == EOPNOTSUPP ? 3 : 1;
}

static int get_policy(const char *dir) {
  struct fscrypt_get_policy_ex_arg arg;
  memset(&arg, 0, sizeof arg);
  arg.policy_size = sizeof arg.policy;
  int fd = open_dir(dir);
  if (fd < 0) return 1;
  int result = ioctl(fd, FS_IOC_GET_ENCRYPTION_POLICY_EX, &arg);
  int error = errno;
  close(fd);
  if (result != 0) {
    if (error == ENODATA) {
      printf("none\n");
      return 0;
    }
    fprintf(stderr, "reading the policy of %s: %s\n", dir, strerror(error));
    return error == EOPNOTSUPP || error == ENOTTY ? 3 : 1;
  }
  if (arg.policy.version != FSCRYPT_POLICY_V2) {
    printf("v1\n");
    return 0;
  }
  printf("v2 ");
  print_hex(arg.policy.v2.master_key_identifier, FSCRYPT_KEY_IDENTIFIER_SIZE);
  return 0;
}

int main(int argc, char **argv) {
  if (argc == 3 && strcmp(argv[1], "add_key") == 0) return add_key(argv[2]);
  if (argc == 4 && strcmp(argv[1], "set_policy") == 0) return set_policy(argv[2], argv[3]);
  if (argc == 3 && strcmp(argv[1], "get_policy") == 0) return get_policy(argv[2]);
  fprintf(stderr, "usage: ocinit-fscrypt add_key PATH < KEY | set_policy KEY_ID DIR | get_policy DIR\n");
  return 1;
}
