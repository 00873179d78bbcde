import { describe, expect, it } from 'vitest';
import { modulesForAliases, parseModulesAlias } from '../../../src/boot/modalias.ts';

const ALIASES = `# Aliases extracted from modules themselves.
alias pci:v00001AF4d00001000sv*sd*bc*sc*i* virtio_pci_placeholder
alias pci:v00001AF4d*sv*sd*bc*sc*i* virtio_pci
alias virtio:d00000001v* virtio_net
alias virtio:d00000002v* virtio_blk
alias pci:v00008086d0000100Esv*sd*bc*sc*i* e1000
alias usb:v*p*d*dc*dsc*dp*ic08isc06ip50in* usb_storage
alias acpi*:PNP0[Aa]03:* pci_root_placeholder
`;

describe('modalias matching', () => {
  const rules = parseModulesAlias(ALIASES);

  it('finds the bus driver for a virtio PCI device, then the NIC driver once the virtio device appears', () => {
    expect(modulesForAliases(rules, ['pci:v00001AF4d00001041sv00001AF4sd00001100bc02sc00i00'])).toEqual(['virtio_pci']);
    expect(modulesForAliases(rules, ['virtio:d00000001v00001AF4'])).toEqual(['virtio_net']);
  });

  it('matches each module once, whatever the number of devices', () => {
    const devices = ['pci:v00008086d0000100Esv00001AF4sd00001100bc02sc00i00', 'pci:v00008086d0000100Esv00001AF4sd00001100bc02sc00i00'];
    expect(modulesForAliases(rules, devices)).toEqual(['e1000']);
  });

  it('understands character classes and leaves unknown hardware alone', () => {
    expect(modulesForAliases(rules, ['acpi:PNP0a03:'])).toEqual(['pci_root_placeholder']);
    expect(modulesForAliases(rules, ['pci:v000010ECd00008168sv0sd0bc02sc00i00'])).toEqual([]);
  });

  it('treats regex metacharacters in patterns literally', () => {
    const dotted = parseModulesAlias('alias of:Nfoo.bar* dotted\n');
    expect(modulesForAliases(dotted, ['of:Nfooxbar'])).toEqual([]);
    expect(modulesForAliases(dotted, ['of:Nfoo.bar1'])).toEqual(['dotted']);
  });
});
