// A Debian root filesystem with systemd, made with debootstrap from the mirror apt already uses
// (never a host name written here), cached as a tar under build/: the switch_root tests boot it.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';

export interface AptSource {
  uri: string;
  suite: string;
}

/** The first `deb` source of apt's configuration (one-line or deb822 format) that names `suite`. */
export function aptSource(suite: string, etcApt = '/etc/apt'): AptSource {
  const texts: string[] = [];
  if (existsSync(join(etcApt, 'sources.list'))) texts.push(readFileSync(join(etcApt, 'sources.list'), 'utf8'));
  const listDir = join(etcApt, 'sources.list.d');
  if (existsSync(listDir)) for (const name of readdirSync(listDir).filter((file) => /\.(list|sources)$/.test(file)).sort()) texts.push(readFileSync(join(listDir, name), 'utf8'));
  for (const text of texts) {
    for (const line of text.split('\n')) {
      const match = /^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)/.exec(line.trim());
      if (match?.[1] !== undefined && match[2] === suite) return { uri: match[1], suite };
    }
    for (const stanza of text.split(/\n\s*\n/)) {
      const field = (name: string): string[] => new RegExp(`^${name}:\\s*(.*)$`, 'mi').exec(stanza)?.[1]?.trim().split(/\s+/) ?? [];
      const uri = field('URIs')[0];
      if (field('Types').includes('deb') && field('Suites').includes(suite) && uri !== undefined) return { uri, suite };
    }
  }
  throw new Error(`no deb source for ${suite} in ${etcApt}: debootstrap needs a Debian mirror`);
}

function hostSuite(): string {
  const codename = /^VERSION_CODENAME=(\S+)$/m.exec(readFileSync('/etc/os-release', 'utf8'))?.[1];
  if (codename === undefined) throw new Error('cannot tell the host Debian release from /etc/os-release');
  return codename;
}

/**
 * build/debian-systemd.tar: a minbase Debian (the host's release) with systemd as /sbin/init and udev
 * (without it systemd waits 90 s for the console's device).
 * Built once (a few minutes, needs the mirror), then reused.
 */
export function debianSystemdTar(buildDir: string, log: (line: string) => void = () => undefined): string {
  const tar = join(buildDir, 'debian-systemd.tar');
  if (existsSync(tar)) return tar;
  mkdirSync(buildDir, { recursive: true });
  const source = aptSource(hostSuite());
  const root = mkdtempSync(join(buildDir, 'debootstrap-'));
  try {
    log(`debootstrap ${source.suite} from ${source.uri} (once; cached as ${tar})`);
    execFileSync('debootstrap', ['--variant=minbase', '--include=systemd-sysv,udev', source.suite, root, source.uri], { stdio: ['ignore', 'ignore', 'inherit'] });
    rmSync(join(root, 'var/cache/apt/archives'), { recursive: true, force: true });
    execFileSync('tar', ['--numeric-owner', '--xattrs', '--sort=name', '-C', root, '-cf', `${tar}.tmp`, '.']);
    renameSync(`${tar}.tmp`, tar);
    return tar;
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  process.stdout.write(`${debianSystemdTar(process.argv[2] ?? 'build', (line) => process.stdout.write(`${line}\n`))}\n`);
}
