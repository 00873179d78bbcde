import { classfulPrefix, netmaskToPrefix } from './ipv4.ts';
import type { InterfaceSpec, NetworkPlan } from './types.ts';

/**
 * What the network phase must do, decided from the Plan alone:
 * - `off`: `ip=off`/`ip=none`, no network at all;
 * - `explicit`: configure exactly these interfaces (`b2c.iface`, or `ip=` naming a device);
 * - `race`: DHCP on every candidate interface at once, the first lease wins (the default, `ip=dhcp`);
 * - `static-first-carrier`: `ip=` static without a device: the first candidate with a carrier gets it.
 */
export type NetworkIntent =
  | { kind: 'off'; parameter: string }
  | { kind: 'explicit'; parameter: string; specs: InterfaceSpec[] }
  | { kind: 'race'; parameter: string | undefined }
  | { kind: 'static-first-carrier'; parameter: string; spec: Omit<InterfaceSpec, 'name'> };

export function networkIntent(plan: Pick<NetworkPlan, 'interfaces' | 'ip'>): NetworkIntent {
  if (plan.interfaces.length > 0) return { kind: 'explicit', parameter: 'b2c.iface', specs: [...plan.interfaces] };
  const ip = plan.ip;
  if (ip === undefined) return { kind: 'race', parameter: undefined };
  switch (ip.kind) {
    case 'off':
      return { kind: 'off', parameter: 'ip' };
    case 'dhcp':
      return ip.device === undefined
        ? { kind: 'race', parameter: 'ip' }
        : { kind: 'explicit', parameter: 'ip', specs: [dhcpSpec(ip.device)] };
    case 'static': {
      const prefix = (ip.netmask === '' ? undefined : netmaskToPrefix(ip.netmask)) ?? classfulPrefix(ip.client);
      const spec: Omit<InterfaceSpec, 'name'> = {
        mode: 'static',
        addresses: [`${ip.client}/${prefix}`],
        gateway: ip.gateway,
        nameservers: [...ip.nameservers],
        routes: [],
        forward: false,
      };
      return ip.device === undefined
        ? { kind: 'static-first-carrier', parameter: 'ip', spec }
        : { kind: 'explicit', parameter: 'ip', specs: [{ name: ip.device, ...spec }] };
    }
  }
}

function dhcpSpec(name: string): InterfaceSpec {
  return { name, mode: 'dhcp', addresses: [], nameservers: [], routes: [], forward: false };
}
