import { describe, expect, it } from 'vitest';
import { absentDrivers, describeAbsentDriver, parseAbsentAliases } from '../../../src/boot/absent-drivers.ts';

const ABSENT = `alias pci:v000010ECd00008139sv*sd*bc*sc*i* 8139cp
alias pci:v000010ECd00008139sv*sd*bc*sc*i* 8139too
alias pci:v000015ADd000007B0sv*sd*bc*sc*i* vmxnet3
alias usb:v0BDAp8153d[0-2]*dc*dsc*dp*ic*isc*ip*in* r8152
alias usb:v*p*d*dc*dsc*dp*ic02isc06ip00in* cdc_ether
`;

describe('devices whose module the initramfs left out', () => {
  it('names the module each such device needs, matching modules.alias globs', () => {
    const present = [
      'pci:v000010ECd00008139sv00001AF4sd00001100bc02sc00i00',
      'pci:v00008086d00001237sv00001AF4sd00001100bc06sc00i00',
      'usb:v0BDAp8153d3000dc00dsc00dp00icFFiscFFip00in00',
      'usb:v0BDAp8153d2000dc00dsc00dp00icFFiscFFip00in00',
      'usb:v0525pA4A2d0000dc02dsc00dp00ic02isc06ip00in00',
    ];
    expect(absentDrivers(present, parseAbsentAliases(ABSENT))).toEqual([
      { modalias: present[0], modules: ['8139cp', '8139too'] },
      { modalias: present[3], modules: ['r8152'] },
      { modalias: present[4], modules: ['cdc_ether'] },
    ]);
  });

  it('says what to rebuild', () => {
    expect(describeAbsentDriver({ modalias: 'pci:v000010ECd00008139sv00001AF4sd00001100bc02sc00i00', modules: ['8139cp', '8139too'] })).toMatch(
      /needs kernel module 8139cp or 8139too, which this initramfs does not carry; build it with make initrd DRIVERS=all/,
    );
  });

  it('finds nothing when nothing was left out', () => {
    expect(absentDrivers(['pci:v000010ECd00008139sv00001AF4sd00001100bc02sc00i00'], parseAbsentAliases(''))).toEqual([]);
  });
});
