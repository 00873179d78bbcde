import { netmaskToPrefix, parseCidr, isIpv4 } from './ipv4.ts';
import type { Lease, RouteSpec } from './types.ts';

/** Prefix of the lines our udhcpc script prints (initrd/rootfs/usr/share/ocinit/udhcpc.script), which applies the lease before reporting it. */
export const LEASE_LINE_PREFIX = 'ocinit-lease ';

/**
 * Reads the last lease the udhcpc script reported in `output` (udhcpc's stdout).
 * Returns undefined when no usable lease is there; malformed optional fields are dropped, not fatal.
 */
export function parseLeaseOutput(output: string): Lease | undefined {
  let fields: Map<string, string> | undefined;
  for (const line of output.split('\n')) {
    if (line === `${LEASE_LINE_PREFIX}begin`) fields = new Map();
    else if (line.startsWith(LEASE_LINE_PREFIX) && fields !== undefined) {
      const body = line.slice(LEASE_LINE_PREFIX.length);
      const equals = body.indexOf('=');
      if (equals > 0) fields.set(body.slice(0, equals), body.slice(equals + 1).trim());
    }
  }
  return fields === undefined ? undefined : leaseFromFields(fields);
}

function words(value: string | undefined): string[] {
  return value === undefined ? [] : value.split(/\s+/).filter((word) => word.length > 0);
}

function positiveInteger(value: string | undefined): number | undefined {
  if (value === undefined || !/^\d+$/.test(value)) return undefined;
  const number = Number(value);
  return number > 0 ? number : undefined;
}

/** Option 121 as udhcpc prints it: `DEST/LEN ROUTER DEST/LEN ROUTER ...`. */
function classlessRoutes(value: string | undefined): RouteSpec[] {
  const items = words(value);
  const routes: RouteSpec[] = [];
  for (let index = 0; index + 1 < items.length; index += 2) {
    const destination = items[index] ?? '';
    const via = items[index + 1] ?? '';
    if (parseCidr(destination) !== undefined && isIpv4(via)) routes.push({ destination, via });
  }
  return routes;
}

function appliedState(value: string | undefined): Lease['applied'] {
  if (value === '1') return 'yes';
  if (value === '0') return 'no';
  return 'failed';
}

function leaseFromFields(fields: Map<string, string>): Lease | undefined {
  const address = fields.get('ip');
  const name = fields.get('interface');
  if (address === undefined || name === undefined || !isIpv4(address)) return undefined;
  const prefixLength = netmaskToPrefix(fields.get('subnet') ?? '') ?? 32;
  const domain = fields.get('domain');
  const domains = [...words(domain), ...words(fields.get('search'))].filter((item, index, all) => all.indexOf(item) === index);
  const mtu = positiveInteger(fields.get('mtu'));
  return {
    interface: name,
    address,
    prefixLength,
    routers: words(fields.get('router')).filter(isIpv4),
    nameservers: words(fields.get('dns')),
    domains,
    mtu: mtu !== undefined && mtu >= 576 ? mtu : undefined,
    routes: classlessRoutes(fields.get('staticroutes')),
    leaseSeconds: positiveInteger(fields.get('lease')),
    server: fields.get('serverid'),
    applied: appliedState(fields.get('applied')),
  };
}
