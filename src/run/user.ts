import { OcinitError } from '../log/errors.ts';
import { readFileInRoot } from './root-path.ts';

export interface ProcessUser {
  uid: number;
  gid: number;
  additionalGids: number[];
  /** From the image's /etc/passwd; '/' when the user has no entry. */
  home: string;
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
 * image's own /etc/passwd and /etc/group, read without leaving the root filesystem.
 */
export function resolveUser(rootfs: string, user: string | undefined, context: { image: string; parameter: string }): ProcessUser {
  const text = user === undefined || user === '' ? 'root' : user;
  const [userPart = '', groupPart] = text.split(':', 2);
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
  let gid = entry?.gid ?? (uid === 0 ? 0 : uid);
  if (groupPart !== undefined && groupPart !== '') {
    if (NUMERIC.test(groupPart)) gid = Number(groupPart);
    else {
      const group = groups.find((item) => item.name === groupPart);
      if (group === undefined) throw new OcinitError(`group '${groupPart}' is not in the image's /etc/group`, { ...context, hint: 'give a numeric gid or a group the image defines' });
      gid = group.gid;
    }
  }
  // Supplementary groups come from /etc/group only when the group was not forced (like podman).
  const additionalGids =
    entry === undefined || groupPart !== undefined ? [] : groups.filter((group) => group.members.includes(entry.name) && group.gid !== gid).map((group) => group.gid);
  return { uid, gid, additionalGids, home: entry?.home ?? '/' };
}
