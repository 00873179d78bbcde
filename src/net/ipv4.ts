/** IPv4 address arithmetic needed to turn `ip=` and DHCP leases into `ip` commands. */

const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

export function parseIpv4(text: string): number | undefined {
  const match = IPV4.exec(text.trim());
  if (match === null) return undefined;
  let value = 0;
  for (const part of match.slice(1)) {
    const octet = Number(part);
    if (octet > 255) return undefined;
    value = value * 256 + octet;
  }
  return value;
}

export function isIpv4(text: string): boolean {
  return parseIpv4(text) !== undefined;
}

/** `255.255.255.0` → 24; undefined for a malformed or non-contiguous mask. */
export function netmaskToPrefix(netmask: string): number | undefined {
  const value = parseIpv4(netmask);
  if (value === undefined) return undefined;
  const bits = value.toString(2).padStart(32, '0');
  const prefix = bits.indexOf('0') === -1 ? 32 : bits.indexOf('0');
  return bits.slice(prefix).includes('1') ? undefined : prefix;
}

/** The kernel's `ip=` rule when no netmask is given: the address's historical class decides. */
export function classfulPrefix(address: string): number {
  const first = Math.floor((parseIpv4(address) ?? 0) / 2 ** 24);
  if (first < 128) return 8;
  if (first < 192) return 16;
  return 24;
}

/** Splits `10.0.0.5/24`; undefined when it isn't an IPv4 CIDR. */
export function parseCidr(text: string): { address: string; prefixLength: number } | undefined {
  const [address, prefix, ...rest] = text.split('/');
  if (address === undefined || prefix === undefined || rest.length > 0 || !isIpv4(address)) return undefined;
  if (!/^\d{1,2}$/.test(prefix) || Number(prefix) > 32) return undefined;
  return { address, prefixLength: Number(prefix) };
}
