import { OcinitError } from '../log/errors.ts';
import { parseReference } from '../reference/reference.ts';
import { containerFlagNames, findContainerFlag, type ContainerFlag, type FlagContext } from './container-flags.ts';
import type { ContainerParameter, ContainerSpec } from './plan.ts';
import { splitShellWords } from './shell-words.ts';
import { didYouMean, type ValueContext } from './values.ts';

// Transports podman knows besides docker://: ocinit only pulls from registries.
const OTHER_TRANSPORT = /^(oci|oci-archive|docker-archive|docker-daemon|containers-storage|dir):[./]/;

/** A container with every flag at its default (boot2container's: privileged, host network, pull always). */
export function emptyContainerSpec(parameter: ContainerParameter, index: number, source: string): ContainerSpec {
  return {
    parameter,
    index,
    source,
    image: '',
    command: [],
    entrypoint: undefined,
    tty: false,
    interactive: false,
    env: [],
    envFiles: [],
    volumes: [],
    mounts: [],
    tmpfs: [],
    workdir: undefined,
    user: undefined,
    tlsVerify: true,
    dns: [],
    pull: 'always',
    network: 'host',
    pid: undefined,
    ipc: undefined,
    uts: undefined,
    privileged: true,
    capAdd: [],
    capDrop: [],
    devices: [],
    hostname: undefined,
    name: undefined,
    platform: undefined,
    creds: undefined,
    authfile: undefined,
    securityOpt: [],
    noNewPrivileges: false,
    ulimits: [],
    init: false,
    readOnly: false,
    shmSize: undefined,
    memory: undefined,
    cpus: undefined,
  };
}

/** "b2c.container #2": how messages name a container. */
export function containerLabel(spec: Pick<ContainerSpec, 'parameter' | 'index'>): string {
  return `${spec.parameter} #${spec.index}`;
}

/**
 * A podman-run argument string → ContainerSpec: flags (long `--flag=value`/`--flag value`, short
 * `-e K=V`, clustered `-ti`), then the image (`docker://` optional), then the command. Flags stop
 * at the image, like podman. Any problem is reported and the container is dropped (undefined).
 */
export function parseContainer(
  text: string,
  parameter: ContainerParameter,
  index: number,
  context: ValueContext,
  /** When given, the only flags (by long name) that mean something for this parameter; others are errors. */
  allowedFlags?: readonly string[],
): ContainerSpec | undefined {
  const label = containerLabel({ parameter, index });
  let failed = false;
  const fail = (message: string, hint?: string): undefined => {
    failed = true;
    context.problem(`${label}: ${message}`, hint);
    return undefined;
  };

  const split = splitShellWords(text, context.env);
  if (!split.ok) return fail(split.message, split.hint);
  for (const name of split.unset) {
    context.warning(
      `${label}: $${name} is not set in the launcher's environment, so it expands to nothing (as in boot2container's shell)`,
      `set it on the kernel command line (${name}=VALUE), or write '$${name}' in single quotes to leave it to the container's shell`,
    );
  }
  const words = split.words;
  if (words.length === 0) return fail('the container string is empty', 'write at least an image, e.g. docker://alpine:latest');

  const spec = emptyContainerSpec(parameter, index, text);
  const applyFlag = (flag: ContainerFlag, name: string, value: string): void => {
    const flagContext: FlagContext = { env: context.env, problem: (message, hint) => fail(`${name}: ${message}`, hint) };
    const longName = flag.names[0] ?? name;
    if (allowedFlags !== undefined && !allowedFlags.includes(longName)) fail(`${name} has no meaning for ${parameter}`, `${parameter} takes only ${allowedFlags.join(', ')}`);
    else flag.apply(spec, value, flagContext);
  };
  const unsupported = (name: string): undefined =>
    fail(
      `unsupported flag '${name}'`,
      [didYouMean(name, containerFlagNames()), 'ocinit refuses flags it would otherwise ignore; see docs/cmdline.md for the supported ones']
        .filter((part) => part !== undefined)
        .join(' '),
    );

  let i = 0;
  for (; i < words.length; i++) {
    const word = words[i] ?? '';
    if (word === '--') {
      i++;
      break;
    }
    if (!word.startsWith('-') || word === '-') break;

    if (word.startsWith('--')) {
      const equals = word.indexOf('=');
      const name = equals < 0 ? word : word.slice(0, equals);
      const inline = equals < 0 ? undefined : word.slice(equals + 1);
      const flag = findContainerFlag(name);
      if (flag === undefined) return unsupported(name);
      if (!flag.takesValue) {
        applyFlag(flag, name, inline ?? 'true');
        continue;
      }
      const value = inline ?? words[++i];
      if (value === undefined) return fail(`${name} needs a value`, `write ${name}=${flag.syntax}`);
      applyFlag(flag, name, value);
      continue;
    }

    // A cluster of short flags: -ti, -e K=V, -eK=V, -v a:/b.
    for (let j = 1; j < word.length; j++) {
      const name = `-${word.charAt(j)}`;
      const flag = findContainerFlag(name);
      if (flag === undefined) return unsupported(name);
      if (!flag.takesValue) {
        applyFlag(flag, name, 'true');
        continue;
      }
      const rest = word.slice(j + 1);
      const value = rest !== '' ? rest.replace(/^=/, '') : words[++i];
      if (value === undefined) return fail(`${name} needs a value`, `write ${name} ${flag.syntax}`);
      applyFlag(flag, name, value);
      break;
    }
  }

  const image = words[i];
  if (image === undefined) return fail('no image after the flags', 'the image comes after the flags, e.g. docker://alpine:latest');
  const reference = image.replace(/^docker:\/\//, '');
  if (OTHER_TRANSPORT.test(reference)) {
    return fail(`'${image}' is not a registry image`, 'ocinit pulls from registries only: write [docker://]REGISTRY/NAME[:TAG|@DIGEST]');
  }
  try {
    parseReference(reference);
  } catch (error) {
    const hint = error instanceof OcinitError ? error.hint : undefined;
    return fail(error instanceof Error ? error.message : String(error), hint);
  }
  spec.image = reference;
  spec.command = words.slice(i + 1);
  if (spec.creds !== undefined) spec.source = redactCredentials(text, spec.creds.username, spec.creds.password.reveal());
  return failed ? undefined : spec;
}

/** The source string with the --creds password replaced by ***, however it was quoted. */
function redactCredentials(text: string, username: string, password: string): string {
  if (password === '') return text;
  const written = `${username}:${password}`;
  if (text.includes(written)) return text.split(written).join(`${username}:***`);
  // Quoted in a way that split the word: show the flags without the source's spelling.
  return text.replace(/--creds(=|\s+)\S+(\s+\S+)*/, `--creds$1${username}:***`);
}
