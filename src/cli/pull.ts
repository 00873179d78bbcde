import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { describeError } from '../log/errors.ts';
import { Logger, log } from '../log/logger.ts';
import { parseCredentials, parsePlatform, pullAndUnpack, type LayerProgress, type MirrorConfig, type PullOptions, type UnpackLimits, parseReference } from '../oci/index.ts';
import { MIRROR_SYNTAX, mergeMirrorConfigs, mirrorConfigOf, parseMirrorEntry, type MirrorEntry } from '../oci/mirrors.ts';
import { parseRegistriesConf } from '../oci/registries-conf.ts';
import { proxyForEveryScheme } from '../net/proxy-config.ts';
import { ContentStore } from '../store/index.ts';
import { loadPolicy } from '../policy/load.ts';
import { NO_POLICY_VERDICT, PolicyVerifier } from '../policy/verifier.ts';
import type { CliCommand } from './command.ts';

export const REGISTRY_FLAGS =
  `[--policy POLICY.json] [--tls-verify=false] [--platform OS/ARCH[/VARIANT]] [--creds USER:PASSWORD] [--authfile FILE] [--ca-file FILE] [--proxy URL] [--mirror ${MIRROR_SYNTAX}]... [--registries-conf FILE] [--store DIR]`;
const USAGE = `usage: ocinit pull ${REGISTRY_FLAGS} [--max-size BYTES] [--max-entries N] IMAGE DIR`;

export interface RegistryArguments {
  options: Omit<PullOptions, 'store'>;
  storeDir: string;
  limits: UnpackLimits;
  positional: string[];
}

function defaultStoreDir(): string {
  return process.env.OCINIT_STORE ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'ocinit');
}

/** Parses the registry flags shared by `pull` and `inspect`; returns an error message for bad usage. */
export function parseRegistryArguments(args: readonly string[]): RegistryArguments | string {
  const parsed: RegistryArguments = { options: {}, storeDir: defaultStoreDir(), limits: {}, positional: [] };
  const mirrorEntries: MirrorEntry[] = [];
  let fileMirrors: MirrorConfig = {};
  for (let index = 0; index < args.length; index++) {
    const arg = args[index] ?? '';
    if (!arg.startsWith('--')) {
      parsed.positional.push(arg);
      continue;
    }
    const equals = arg.indexOf('=');
    const name = equals < 0 ? arg : arg.slice(0, equals);
    const inline = equals < 0 ? undefined : arg.slice(equals + 1);
    if (name === '--tls-verify') {
      if (inline !== undefined && inline !== 'true' && inline !== 'false') return '--tls-verify takes true or false';
      parsed.options.tlsVerify = inline !== 'false';
      continue;
    }
    const value = inline ?? args[++index];
    if (value === undefined) return `${name} needs a value`;
    switch (name) {
      case '--platform':
        parsed.options.platform = parsePlatform(value);
        break;
      case '--creds':
        parsed.options.credentials = parseCredentials(value);
        break;
      case '--authfile':
        parsed.options.authfile = value;
        break;
      case '--ca-file':
        parsed.options.caFile = value;
        break;
      case '--proxy':
        if (!URL.canParse(value)) return `--proxy: '${value}' is not a URL (e.g. http://127.0.0.1:3128)`;
        parsed.options.proxy = proxyForEveryScheme(value);
        break;
      case '--store':
        parsed.storeDir = value;
        break;
      case '--policy':
        parsed.options.verifier = new PolicyVerifier(loadPolicy(value));
        break;
      case '--mirror': {
        const entry = parseMirrorEntry(value);
        if (typeof entry === 'string') return `--mirror: ${entry}`;
        mirrorEntries.push(entry);
        break;
      }
      case '--registries-conf': {
        let text: string;
        try {
          text = readFileSync(value, 'utf8');
        } catch (error) {
          return `--registries-conf: cannot read ${value}: ${(error as Error).message}`;
        }
        const config = parseRegistriesConf(text);
        if (typeof config === 'string') return `--registries-conf ${value}: ${config}`;
        fileMirrors = config;
        break;
      }
      case '--max-size':
      case '--max-entries': {
        const number = Number(value);
        if (!Number.isSafeInteger(number) || number <= 0) return `${name} takes a positive integer`;
        if (name === '--max-size') parsed.limits.maxBytes = number;
        else parsed.limits.maxEntries = number;
        break;
      }
      default:
        return `unknown option '${name}'`;
    }
  }
  // `--mirror`s come after the file's mirrors for the same prefix, whatever the order of the flags.
  const mirrors = mergeMirrorConfigs(fileMirrors, mirrorConfigOf(mirrorEntries));
  if (Object.keys(mirrors).length > 0) parsed.options.mirrors = mirrors;
  return parsed;
}

interface TerminalProgress {
  update(progress: LayerProgress): void;
  /** Call before other output: the next redraw starts below it instead of overwriting it. */
  interrupt(): void;
  finish(): void;
}

/** One status line per layer download (bytes, rate), redrawn in place on a terminal. */
function terminalProgress(stream: NodeJS.WriteStream): TerminalProgress {
  const layers = new Map<string, { received: number; total: number; started: number; finished: number | undefined }>();
  let lastDraw = 0;
  let drawnLines = 0;
  const draw = (force: boolean): void => {
    const now = performance.now();
    if (!force && now - lastDraw < 100) return;
    lastDraw = now;
    const lines = [...layers].map(([digest, layer]) => {
      const seconds = Math.max(((layer.finished ?? now) - layer.started) / 1000, 0.001);
      const rate = layer.received / 1e6 / seconds;
      return `${digest.slice(7, 19)} ${(layer.received / 1e6).toFixed(1).padStart(7)} / ${(layer.total / 1e6).toFixed(1)} MB ${rate.toFixed(1).padStart(6)} MB/s${layer.finished === undefined ? '' : ' done'}`;
    });
    stream.write(`${drawnLines > 0 ? `\x1b[${drawnLines}F` : ''}${lines.map((line) => `\x1b[2K${line}\n`).join('')}`);
    drawnLines = lines.length;
  };
  return {
    update(progress) {
      const layer = layers.get(progress.digest) ?? { received: 0, total: progress.total, started: performance.now(), finished: undefined };
      layer.received = progress.received;
      if (progress.done) layer.finished = performance.now();
      layers.set(progress.digest, layer);
      draw(progress.done);
    },
    interrupt() {
      drawnLines = 0;
    },
    finish: () => draw(true),
  };
}

/**
 * The registry options and exactly `count` positional words of a subcommand, or the usage exit
 * code (2) after telling the operator what was wrong.
 */
export function commandArguments(command: string, argv: string[], count: number, expected: string, usage: string): RegistryArguments | number {
  let problem: string;
  try {
    const args = parseRegistryArguments(argv);
    if (typeof args === 'string') problem = args;
    else if (args.positional.length === count) return args;
    else problem = expected;
  } catch (error) {
    problem = describeError(error);
  }
  process.stderr.write(`ocinit ${command}: ${problem}\n${usage}\n`);
  return 2;
}

/** `ocinit pull`: pull, verify and unpack an image into a directory. */
export const pullCommand: CliCommand = {
  name: 'pull',
  summary: 'pull an image, verify every byte and unpack it into a directory',
  usage: USAGE,
  async run(argv) {
    const args = commandArguments('pull', argv, 2, 'expected IMAGE and DIR', USAGE);
    if (typeof args === 'number') return args;
    const [image = '', target = ''] = args.positional;
    const store = new ContentStore(args.storeDir);
    const progress = process.stderr.isTTY ? terminalProgress(process.stderr) : undefined;
    const logger =
      progress === undefined
        ? log
        : new Logger({
            sink: (text) => {
              progress.interrupt();
              process.stderr.write(text);
            },
          });
    try {
      const started = performance.now();
      const pulled = await pullAndUnpack(parseReference(image), target, { ...args.options, store, log: logger, onProgress: progress === undefined ? undefined : (update) => progress.update(update), limits: args.limits });
      progress?.finish();
      logger.info(
        `${pulled.reference.canonical} (${pulled.manifestDigest}, ${(pulled.verdict ?? NO_POLICY_VERDICT).text}) unpacked into ${target}: ${pulled.blobsDownloaded} blobs, ${(pulled.bytesDownloaded / 1e6).toFixed(1)} MB downloaded, ${((performance.now() - started) / 1000).toFixed(2)} s in all`,
      );
      return 0;
    } catch (error) {
      logger.error(`ocinit pull: ${describeError(error)}`);
      return 1;
    }
  },
};
