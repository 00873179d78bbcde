import type { RouteSpec } from './types.ts';

/** `ip` argument lists (without the leading `ip`) that busybox ip and iproute2 both accept. */
export type IpArgs = readonly string[];

export function linkUpArgs(name: string): IpArgs {
  return ['link', 'set', 'dev', name, 'up'];
}

function routeArgs(name: string, route: RouteSpec): IpArgs {
  return ['route', 'replace', route.destination, 'via', route.via, 'dev', name];
}

function defaultRouteArgs(name: string, gateway: string): IpArgs {
  return ['route', 'replace', 'default', 'via', gateway, 'dev', name];
}

/** Static configuration: addresses, then the default route, then the extra routes (they may need the address's subnet). */
export function staticArgs(spec: { name: string; addresses: readonly string[]; gateway?: string | undefined; routes: readonly RouteSpec[] }): IpArgs[] {
  return [
    linkUpArgs(spec.name),
    ...spec.addresses.map((cidr): IpArgs => ['addr', 'replace', cidr, 'dev', spec.name]),
    ...(spec.gateway === undefined ? [] : [defaultRouteArgs(spec.name, spec.gateway)]),
    ...spec.routes.map((route) => routeArgs(spec.name, route)),
  ];
}
