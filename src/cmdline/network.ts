import { proxyForEveryScheme, type ProxyConfig } from '../net/proxy-config.ts';
import type { InterfaceSpec, IpConfig } from './plan.ts';
import { isCidr, isHostName, isHttpUrl, isIpAddress, protectUrlCredentials, splitNamedOptions, type ValueContext } from './values.ts';

const INTERFACE_NAME = /^[A-Za-z0-9_.:@-]{1,15}$/;

/** `NAME[,address=CIDR]...[,gateway=IP][,nameserver=IP]...[,route=NET:VIA]...[,forward][,auto|dhcp]`. */
export function parseInterface(text: string, context: ValueContext): InterfaceSpec | undefined {
  const { name, items } = splitNamedOptions(text);
  if (!INTERFACE_NAME.test(name)) {
    context.problem(`'${name}' is not a network interface name`, 'start with the name, e.g. b2c.iface=eth0,dhcp');
    return undefined;
  }
  const spec: InterfaceSpec = { name, mode: 'static', addresses: [], nameservers: [], routes: [], forward: false };
  let valid = true;
  const bad = (message: string, hint: string): void => {
    valid = false;
    context.problem(`${name}: ${message}`, hint);
  };
  for (const { key, value = '' } of items) {
    if (key === 'address') {
      if (isCidr(value)) spec.addresses.push(value);
      else bad(`address=${value} is not an address with a prefix length`, 'e.g. address=10.42.0.2/24');
    } else if (key === 'gateway') {
      if (isIpAddress(value)) spec.gateway = value;
      else bad(`gateway=${value} is not an IP address`, 'e.g. gateway=10.42.0.1');
    } else if (key === 'nameserver') {
      if (isIpAddress(value)) spec.nameservers.push(value);
      else bad(`nameserver=${value} is not an IP address`, 'e.g. nameserver=10.42.0.1');
    } else if (key === 'route') {
      const route = parseRoute(value);
      if (route !== undefined) spec.routes.push(route);
      else bad(`route=${value} is not NETWORK:GATEWAY`, 'e.g. route=10.0.0.0/8:10.42.0.1, or [fd00::/8]:[fd00::1] for IPv6');
    } else if (key === 'forward') {
      spec.forward = true;
    } else if (key === 'auto' || key === 'dhcp') {
      spec.mode = 'dhcp';
    } else {
      bad(`unknown option '${key}'`, 'known options: address=, gateway=, nameserver=, route=, forward, auto, dhcp');
    }
  }
  return valid ? spec : undefined;
}

function parseRoute(text: string): { destination: string; via: string } | undefined {
  const bracketed = /^\[([^\]]+)\]:\[([^\]]+)\]$/.exec(text);
  const [destination = '', via = ''] = bracketed !== null ? bracketed.slice(1) : text.split(/:(.*)/s);
  const destinationValid = destination === 'default' || isCidr(destination) || isIpAddress(destination);
  return destinationValid && isIpAddress(via) ? { destination, via } : undefined;
}

const DHCP_MODES = new Set(['on', 'any', 'dhcp', 'bootp', 'rarp', 'both', 'dhcp6', 'auto6']);
const OFF_MODES = new Set(['off', 'none', '']);

/**
 * The kernel's `ip=` (Documentation/admin-guide/nfs/nfsroot.rst):
 * `client:server:gw:netmask:hostname:device:autoconf:dns0:dns1:ntp0`, or just `dhcp`, `on`, `any`, `off`.
 */
export function parseIp(text: string, context: ValueContext): IpConfig | undefined {
  if (OFF_MODES.has(text)) return { kind: 'off' };
  if (DHCP_MODES.has(text)) return { kind: 'dhcp' };
  const fields = text.split(':');
  if (fields.length > 10) {
    context.problem(`'${text}' has more than 10 fields`, 'ip=CLIENT:SERVER:GATEWAY:NETMASK:HOSTNAME:DEVICE:AUTOCONF:DNS0:DNS1:NTP0');
    return undefined;
  }
  const [client = '', server = '', gateway = '', netmask = '', hostname = '', device = '', autoconf = '', dns0 = '', dns1 = ''] =
    fields;
  let valid = true;
  const check = (ok: boolean, message: string): void => {
    if (ok) return;
    valid = false;
    context.problem(message, 'ip=CLIENT:SERVER:GATEWAY:NETMASK:HOSTNAME:DEVICE:AUTOCONF:DNS0:DNS1, e.g. ip=10.0.0.2::10.0.0.1:255.255.255.0::eth0:off');
  };
  check(client === '' || isIPv4(client), `client '${client}' is not an IPv4 address`);
  check(server === '' || isIPv4(server), `server '${server}' is not an IPv4 address`);
  check(gateway === '' || isIPv4(gateway), `gateway '${gateway}' is not an IPv4 address`);
  check(netmask === '' || isNetmask(netmask), `netmask '${netmask}' is not a dotted IPv4 netmask`);
  check(hostname === '' || isHostName(hostname), `hostname '${hostname}' is not a valid host name`);
  check(device === '' || INTERFACE_NAME.test(device), `device '${device}' is not an interface name`);
  check(OFF_MODES.has(autoconf) || DHCP_MODES.has(autoconf), `autoconf '${autoconf}' is not off, none, on, any, dhcp, bootp or rarp`);
  check(dns0 === '' || isIPv4(dns0), `dns0 '${dns0}' is not an IPv4 address`);
  check(dns1 === '' || isIPv4(dns1), `dns1 '${dns1}' is not an IPv4 address`);
  if (!valid) return undefined;

  const withDevice = device === '' ? {} : { device };
  // An omitted autoconf field means "any" to the kernel; an explicit off without an address is off.
  if (DHCP_MODES.has(autoconf)) return { kind: 'dhcp', ...withDevice };
  if (client === '') return autoconf === '' ? { kind: 'dhcp', ...withDevice } : { kind: 'off' };
  return {
    kind: 'static',
    client,
    ...(server === '' ? {} : { server }),
    ...(gateway === '' ? {} : { gateway }),
    netmask: netmask === '' ? classfulNetmask(client) : netmask,
    ...(hostname === '' ? {} : { hostname }),
    ...withDevice,
    nameservers: [dns0, dns1].filter((dns) => dns !== ''),
  };
}

function isIPv4(text: string): boolean {
  return /^\d{1,3}(\.\d{1,3}){3}$/.test(text) && isIpAddress(text);
}

function isNetmask(text: string): boolean {
  if (!isIPv4(text)) return false;
  const bits = text
    .split('.')
    .map((octet) => Number(octet).toString(2).padStart(8, '0'))
    .join('');
  return /^1*0*$/.test(bits);
}

/** What the kernel assumes when ip= gives no netmask. */
function classfulNetmask(address: string): string {
  const first = Number(address.split('.')[0]);
  if (first < 128) return '255.0.0.0';
  if (first < 192) return '255.255.0.0';
  return '255.255.255.0';
}

const PROXY_SCHEMES = ['http', 'https', 'all', 'ftp'] as const;

/**
 * `URL` (every scheme) or `SCHEME=URL[,SCHEME=URL...]`, the form CI-tron writes (`https=URL` is
 * https_proxy). `ftp=` is accepted from such templates with a warning: ocinit fetches nothing over FTP.
 */
export function parseProxy(text: string, context: ValueContext): ProxyConfig | undefined {
  protectUrlCredentials(text);
  if (isHttpUrl(text)) return proxyForEveryScheme(text);
  let config: { http: string | undefined; https: string | undefined } = { http: undefined, https: undefined };
  for (const pair of text.split(',')) {
    const equals = pair.indexOf('=');
    const scheme = PROXY_SCHEMES.find((candidate) => candidate === pair.slice(0, equals));
    const url = pair.slice(equals + 1);
    if (equals < 0 || scheme === undefined || !isHttpUrl(url)) {
      context.problem(`'${pair}' is not a proxy URL nor SCHEME=URL`, 'e.g. b2c.proxy=http://10.42.0.1:3128 or b2c.proxy="https=http://10.42.0.1:3128"');
      return undefined;
    }
    if (scheme === 'ftp') context.warning(`'${pair}': ocinit fetches nothing over FTP, so this proxy is never used`);
    else if (scheme === 'all') config = proxyForEveryScheme(url);
    else config = { ...config, [scheme]: url };
  }
  return config;
}
