import type { Feature, FeatureId } from './support.ts';
import type { Secret } from '../log/secret.ts';
import type { ProxyConfig } from '../net/proxy-config.ts';
import type { MirrorEntry } from '../oci/mirrors.ts';

/**
 * The typed result of reading the kernel command line: the only input the later boot phases get.
 * Every default is applied by the parameter table (`parameters.ts`), so a Plan is always complete.
 */
export interface Plan {
  /** b2c.container, b2c.run: run in order, attached to the console. */
  containers: ContainerSpec[];
  /** b2c.service, b2c.run_service: started detached before the first container, stopped at the end. */
  services: ContainerSpec[];
  /** b2c.post_container: run after the pipeline, even when it failed. */
  postContainers: ContainerSpec[];
  /** b2c.service_output (ours): services' output in a file under /run (b2c's detached services), or on the console with a prefix. */
  serviceOutput: 'file' | 'console';
  pipefail: boolean;
  /** b2c.switch_root (ours): after a successful pipeline, hand PID 1 to this image's init. */
  switchRoot: ContainerSpec | undefined;
  /** b2c.container_timeout (ours): each b2c.container and b2c.post_container is stopped after this long (status 124). */
  containerTimeoutSeconds: number | undefined;
  /** b2c.pipeline_timeout (ours): the services and containers together; post containers still run. */
  pipelineTimeoutSeconds: number | undefined;
  shutdown: ShutdownSettings;
  cacheDevice: CacheDevice;
  /** How the cache device is found, checked and kept (ocinit's b2c.cache_* parameters). */
  cache: CacheSettings;
  swap: SwapSpec | undefined;
  ntpPeer: NtpPeer;
  /** b2c.insmods, in order. */
  modules: string[];
  /** b2c.iface: when non-empty, only these interfaces are configured. */
  interfaces: InterfaceSpec[];
  /** ip=: when present, no DHCP of our own. */
  ip: IpConfig | undefined;
  /** b2c.dhcp_timeout: how long DHCP may take once a link has carrier. */
  dhcpTimeoutSeconds: number;
  /** Default 'boot2container'. */
  hostname: string;
  keymap: string | undefined;
  extraArgsUrl: string | undefined;
  /** b2c.proxy: the proxy for each scheme, for every HTTP client (registries, mirrors, extra arguments, S3). */
  proxy: ProxyConfig | undefined;
  /** b2c.registry_mirror (ours): registries.conf-style mirrors, in order per prefix. */
  registryMirrors: MirrorEntry[];
  /**
   * b2c.signatures (ours): `policy` applies the initramfs's built-in policy as it is; `required` also
   * refuses what it accepts unsigned. The command line can only narrow the built-in policy.
   */
  signatures: 'policy' | 'required';
  /** b2c.tpm (ours): measure the command line and each image into a PCR when a TPM exists, always, or never. */
  tpm: 'auto' | 'required' | 'off';
  /** b2c.tpm_pcr (ours): the PCR measured into. */
  tpmPcr: number;
  volumes: VolumeSpec[];
  filesystems: FilesystemSpec[];
  minio: MinioAlias[];
  /** b2c.storage: extra read-only image stores (filesystem names), in order. */
  additionalImageStores: string[];
  /** b2c.nbd: network block devices to attach. */
  nbd: NbdSpec[];
  /** b2c.image_format (ours): images run from their unpacked tree, or from an EROFS image on dm-verity. */
  imageFormat: 'tree' | 'erofs';
  /** b2c.debug_crash (ours): makes the launcher throw / SIGKILL itself after parsing, to test crash handling. */
  debugCrash: 'exception' | 'kill' | undefined;
}

export interface ShutdownSettings {
  poweroffDelaySeconds: number;
  /** Default 'poweroff -f'. */
  shutdownCommand: string;
  /** Default 'reboot -f'. */
  rebootCommand: string;
}

export type CacheDevice =
  | { kind: 'none' }
  | { kind: 'auto' }
  | { kind: 'reset' }
  | { kind: 'device'; path: string }
  | { kind: 'filesystem'; name: string };

export interface CacheSettings {
  /** b2c.cache_auto: `wipe` takes the first suitable disk (boot2container); `empty` only a blank one. */
  auto: 'wipe' | 'empty';
  /** b2c.cache_wait: how long to wait for the cache device to appear. */
  waitSeconds: number;
  /** b2c.cache_verify: re-hash every cached blob at mount. */
  verify: boolean;
  /** b2c.cache_offline: when a cached image may run although the registry cannot be reached. */
  offline: 'digest' | 'always' | 'never';
  /** b2c.cache_min_free: collect unused images when free space falls below this. */
  minFree: { bytes: number } | { percent: number };
}

export type SwapSpec = { size: number /* bytes */; swappiness?: number } | { device: string };

export type NtpPeer = { kind: 'none' } | { kind: 'auto' } | { kind: 'host'; host: string };

export interface InterfaceSpec {
  name: string;
  mode: 'static' | 'dhcp';
  /** CIDR, e.g. 10.0.0.2/24 or fd00::2/64. */
  addresses: string[];
  gateway?: string;
  nameservers: string[];
  routes: { destination: string; via: string }[];
  forward: boolean;
}

export type IpConfig =
  | { kind: 'off' }
  | { kind: 'dhcp'; device?: string }
  | {
      kind: 'static';
      client: string;
      server?: string;
      gateway?: string;
      netmask: string;
      hostname?: string;
      device?: string;
      nameservers: string[];
    };

/** Where a container string came from, so later phases can name it in messages. */
export type ContainerParameter = 'b2c.container' | 'b2c.service' | 'b2c.post_container' | 'b2c.switch_root';

export type PullPolicy = 'always' | 'missing' | 'never' | 'newer';

export interface EnvEntry {
  name: string;
  value: string;
}

/**
 * `-v SRC:DST[:OPTIONS]`. A SRC starting with / or . is a host path (bind), otherwise a named volume
 * (declared by b2c.volume or created empty); `-v DST` alone is an anonymous volume (source '').
 */
export interface VolumeMount {
  source: string;
  kind: 'named' | 'bind' | 'anonymous';
  destination: string;
  /** Options after the second colon, split on commas: ro, rw, z, Z, rbind, nocopy, ... */
  options: string[];
  readOnly: boolean;
}

/** `--mount type=bind|volume|tmpfs,...`. */
export type MountSpec =
  | { type: 'bind'; source: string; destination: string; readOnly: boolean; options: Record<string, string> }
  | { type: 'volume'; source: string; destination: string; readOnly: boolean; options: Record<string, string> }
  | { type: 'tmpfs'; destination: string; size?: number; mode?: number; options: Record<string, string> };

/** `--device HOST[:CONTAINER][:PERMISSIONS]`. */
export interface DeviceSpec {
  hostPath: string;
  containerPath: string;
  /** Any of r, w, m; default 'rwm'. */
  permissions: string;
}

/** `--ulimit NAME=SOFT[:HARD]`; -1 means unlimited. */
export interface UlimitSpec {
  name: string;
  soft: number;
  hard: number;
}

/** `--tmpfs DST[:OPTIONS]`. */
export interface TmpfsSpec {
  destination: string;
  options: string[];
}

export interface ContainerSpec {
  /** Which parameter declared it (aliases are reported under their canonical name). */
  parameter: ContainerParameter;
  /** 1-based rank among the containers of the same parameter, for messages ("b2c.container #2"). */
  index: number;
  /** The value as written on the command line, with any credential replaced by ***. */
  source: string;
  /** Image reference without the optional docker:// prefix. */
  image: string;
  /** Words after the image: the command and its arguments (empty: the image's default). */
  command: string[];
  /** --entrypoint, as a word list (a JSON array or one string). */
  entrypoint: string[] | undefined;
  tty: boolean;
  interactive: boolean;
  env: EnvEntry[];
  /** --env-file paths, read at run time (they live in the initramfs or a volume). */
  envFiles: string[];
  volumes: VolumeMount[];
  mounts: MountSpec[];
  tmpfs: TmpfsSpec[];
  workdir: string | undefined;
  user: string | undefined;
  /** Default true. */
  tlsVerify: boolean;
  /** --dns servers; ['none'] disables /etc/resolv.conf handling. */
  dns: string[];
  /** Default 'always', like boot2container. */
  pull: PullPolicy;
  /** Namespaces: b2c runs containers on the host network by default. */
  network: string;
  pid: string | undefined;
  ipc: string | undefined;
  uts: string | undefined;
  /** Default true: b2c runs every container privileged; --privileged=false drops it. */
  privileged: boolean;
  capAdd: string[];
  capDrop: string[];
  devices: DeviceSpec[];
  hostname: string | undefined;
  name: string | undefined;
  platform: string | undefined;
  creds: { username: string; password: Secret } | undefined;
  authfile: string | undefined;
  /** As written, for the plan printout; the ones that act are typed (noNewPrivileges). */
  securityOpt: string[];
  noNewPrivileges: boolean;
  ulimits: UlimitSpec[];
  init: boolean;
  /** --read-only: the root is mounted read-only; /tmp, /var/tmp and /run are noexec tmpfs. */
  readOnly: boolean;
  /** Bytes. */
  shmSize: number | undefined;
  /** Bytes. */
  memory: number | undefined;
  cpus: number | undefined;
}

export type HookCondition = 'pipeline_start' | 'container_start' | 'container_end' | 'pipeline_end' | 'changes';

/** `ALIAS/BUCKET[/PATH]` on a b2c.minio alias. */
export interface MirrorTarget {
  alias: string;
  bucket: string;
  path: string;
}

export interface VolumeSpec {
  name: string;
  /** b2c.filesystem backing the volume; default: a directory on the cache. */
  filesystem: string | undefined;
  /** mirror= sets both pull_from and push_to. */
  pullFrom: MirrorTarget | undefined;
  pushTo: MirrorTarget | undefined;
  pullOn: HookCondition[];
  pushOn: HookCondition[];
  /** Default 'never'. */
  expiration: 'never' | 'pipeline_end';
  overwrite: boolean;
  remove: boolean;
  exclude: string[];
  /** S3 SSE-C key for the volume's objects: the base64 of 32 bytes (`encrypt_key=`). */
  encryptKey: Secret | undefined;
  preserve: boolean;
  fscryptKey: Secret | undefined;
  fscryptResetKey: boolean;
}

export interface FilesystemSpec {
  name: string;
  source: string;
  type: string | undefined;
  options: string[];
}

export interface MinioAlias {
  alias: string;
  url: string;
  accessKey: Secret;
  secretKey: Secret;
}

export interface NbdSpec {
  device: string;
  host: string;
  port: number | undefined;
  connections: number | undefined;
}

/** One thing wrong (or suspicious) on a command line. */
export interface Problem {
  parameter: string;
  /** Index of the token in the line, 0-based; -1 when no single token is to blame. */
  position: number;
  message: string;
  hint?: string;
  /** Set when the token is in the extra arguments (b2c.extra_args_url) rather than the kernel command line. */
  origin?: 'extra_args';
}

export interface ParseResult {
  plan: Plan;
  /** Errors: the boot must not run anything. */
  problems: Problem[];
  /** E.g. unknown b2c.* parameters. */
  warnings: Problem[];
}

export interface ParseOptions {
  /** The launcher's environment, for `--env NAME` without a value. */
  env?: Record<string, string | undefined>;
  /** What the build can honour (src/cmdline/support.ts); tests of the syntax alone may pass every feature. */
  features?: Readonly<Record<FeatureId, Feature>>;
}

export interface MergeResult extends ParseResult {
  /** Parameters that can no longer take effect once the network is up. */
  tooLate: Problem[];
}
