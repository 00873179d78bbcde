import { OcinitError } from '../log/errors.ts';
import { readFileInRoot } from './root-path.ts';

export interface ProcessUser {
  uid: number;
  gid: number;
  additionalGids: number[];
  /** From the image's /etc/passwd; the working directory when the user has no entry. */
  home: string;
  /** podman's entries for ids the image lacks (so that `whoami` and `id -gn` work), to append to its files. */
  additions: { passwd?: string; group?: string };
}

interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

interface GroupEntry {
  name: string;
  gid: number;
  members: string[];
}

const NUMERIC = /^\d+$/;

function colonRecords(text: string | undefined): string[][] {
  if (text === undefined) return [];
  return text
    .split('\n')
    .filter((line) => line.trim() !== '' && !line.startsWith('#'))
    .map((line) => line.split(':'));
}

export function parsePasswd(text: string | undefined): PasswdEntry[] {
  return colonRecords(text).flatMap(([name, , uid, gid, , home]) =>
    name !== undefined && uid !== undefined && gid !== undefined && NUMERIC.test(uid) && NUMERIC.test(gid)
      ? [{ name, uid: Number(uid), gid: Number(gid), home: home === undefined || home === '' ? '/' : home }]
      : [],
  );
}

export function parseGroup(text: string | undefined): GroupEntry[] {
  return colonRecords(text).flatMap(([name, , gid, members]) =>
    name !== undefined && gid !== undefined && NUMERIC.test(gid)
      ? [{ name, gid: Number(gid), members: (members ?? '').split(',').filter((member) => member !== '') }]
      : [],
  );
}

/**
 * Resolves podman's `-u`/image `User` forms (`name`, `uid`, `name:group`, `uid:gid`) through the
 * image's own /etc/passwd and /etc/group, read without leaving the root filesystem. As podman 4.3:
 * a uid the image does not know gets group 0, `workdir` as its home and a `container user` entry;
 * a gid it does not know gets a group entry; the primary group is among the supplementary ones
 * when a user was given.
 */
export function resolveUser(rootfs: string, user: string | undefined, workdir: string, context: { image: string; parameter: string }): ProcessUser {
  const text = user === undefined || user === '' ? 'root' : user;
  const [userPart = '', groupText] = text.split(':', 2);
  const groupPart = groupText === '' ? undefined : groupText;
  const passwd = parsePasswd(readFileInRoot(rootfs, '/etc/passwd'));
  const groups = parseGroup(readFileInRoot(rootfs, '/etc/group'));
  const entry = NUMERIC.test(userPart) ? passwd.find((item) => item.uid === Number(userPart)) : passwd.find((item) => item.name === userPart);
  let uid: number;
  if (NUMERIC.test(userPart)) uid = Number(userPart);
  else if (entry !== undefined) uid = entry.uid;
  else if (userPart === 'root') uid = 0;
  else
    throw new OcinitError(`user '${userPart}' is not in the image's /etc/passwd`, {
      ...context,
      hint: 'give a numeric uid (-u 1000:1000) or a user the image defines',
    });
  let gid = entry?.gid ?? 0;
  if (groupPart !== undefined) {
    if (NUMERIC.test(groupPart)) gid = Number(groupPart);
    else {
      const group = groups.find((item) => item.name === groupPart);
      if (group === undefined) throw new OcinitError(`group '${groupPart}' is not in the image's /etc/group`, { ...context, hint: 'give a numeric gid or a group the image defines' });
      gid = group.gid;
    }
  }
  const name = entry?.name ?? String(uid);
  const home = entry?.home ?? workdir;
  const additions: ProcessUser['additions'] = {};
  if (entry === undefined && NUMERIC.test(userPart)) additions.passwd = `${uid}:*:${uid}:${gid}:container user:${home}:/bin/sh\n`;
  // podman looks the uid up as a group when neither the user nor a group is given (its quirk, kept).
  const groupToCheck = groupPart === undefined ? (entry === undefined && NUMERIC.test(userPart) ? uid : undefined) : NUMERIC.test(groupPart) ? gid : undefined;
  if (groupToCheck !== undefined && !groups.some((group) => group.gid === groupToCheck)) additions.group = `${groupToCheck}:x:${groupToCheck}:${name}\n`;
  // Supplementary groups come from /etc/group only when the group was not forced; with no user at
  // all (neither -u nor the image's User) podman sets none.
  const memberOf = entry === undefined || groupPart !== undefined ? [] : groups.filter((group) => group.members.includes(entry.name)).map((group) => group.gid);
  const additionalGids = text === user ? [...new Set([gid, ...memberOf])] : [];
  return { uid, gid, additionalGids, home, additions };
}
