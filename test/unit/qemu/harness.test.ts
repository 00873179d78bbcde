// The QEMU arguments qemu/run builds for each emulated NIC and disk model.
import { describe, expect, it } from 'vitest';
import { EXIT_NO_STATUS, EXIT_NOT_STARTED, EXIT_TIMEOUT, exitCodeOf, notStartedLine, qemuArguments } from '../../../qemu/harness.ts';

/** The values of every `-device` option, in order. */
function devices(args: string[]): string[] {
  return args.flatMap((arg, index) => (args[index - 1] === '-device' ? [arg] : []));
}

describe('qemuArguments', () => {
  it('gives a virtio NIC and virtio disks by default', () => {
    const args = qemuArguments({ disks: ['a.img', 'b.qcow2'] }, 'tcg');
    expect(devices(args)).toEqual(['virtio-net-pci,netdev=net0']);
    expect(args).toContain('file=b.qcow2,format=qcow2,if=virtio,index=1');
  });

  it.each([
    ['e1000', 'e1000,netdev=net0'],
    ['e1000e', 'e1000e,netdev=net0'],
    ['rtl8139', 'rtl8139,netdev=net0'],
    ['vmxnet3', 'vmxnet3,netdev=net0'],
  ] as const)('puts the %s NIC model on the user network', (nicModel, device) => {
    expect(devices(qemuArguments({ nicModel, mac: '52:54:00:00:00:01' }, 'tcg'))).toEqual([`${device},mac=52:54:00:00:00:01`]);
  });

  it('adds one xHCI controller for a USB NIC and a USB disk together', () => {
    const args = qemuArguments({ nicModel: 'usb', diskModel: 'usb', disks: ['a.img'] }, 'tcg');
    expect(devices(args)).toEqual(['qemu-xhci,id=xhci', 'usb-net,bus=xhci.0,netdev=net0', 'usb-storage,drive=disk0,bus=xhci.0']);
    expect(args).toContain('file=a.img,format=raw,if=none,id=disk0');
  });

  it('adds no xHCI controller for a USB NIC model without a network', () => {
    expect(devices(qemuArguments({ nicModel: 'usb', net: { kind: 'none' } }, 'tcg'))).toEqual([]);
  });

  it.each([
    ['nvme', ['nvme,drive=disk0,serial=ocinit0', 'nvme,drive=disk1,serial=ocinit1']],
    ['ahci', ['ahci,id=ahci', 'ide-hd,drive=disk0,bus=ahci.0', 'ide-hd,drive=disk1,bus=ahci.1']],
    ['virtio-scsi', ['virtio-scsi-pci,id=scsi', 'scsi-hd,drive=disk0,bus=scsi.0', 'scsi-hd,drive=disk1,bus=scsi.0']],
  ] as const)('puts each disk on the %s controller', (diskModel, expected) => {
    const args = qemuArguments({ diskModel, disks: ['a.img', 'b.img'], net: { kind: 'none' } }, 'tcg');
    expect(devices(args)).toEqual(expected);
  });

  it('refuses more disks than an AHCI controller has ports', () => {
    expect(() => qemuArguments({ diskModel: 'ahci', disks: ['1', '2', '3', '4', '5', '6', '7'] }, 'tcg')).toThrow(/6 ports/);
  });
});

describe('qemuArguments for arm64', () => {
  it("boots QEMU's virt machine with a Cortex-A57 under TCG and the console on its PL011 UART", () => {
    const args = qemuArguments({ arch: 'arm64' }, 'tcg');
    expect(args.slice(0, 2)).toEqual(['-M', 'virt']);
    expect(args[args.indexOf('-cpu') + 1]).toBe('cortex-a57');
    expect(args[args.indexOf('-kernel') + 1]).toMatch(/\/build\/arm64\/vmlinuz$/);
    expect(args[args.indexOf('-initrd') + 1]).toMatch(/\/build\/arm64\/initrd\.cpio\.zst$/);
    expect(args[args.indexOf('-append') + 1]).toMatch(/^console=ttyAMA0 panic=-1 /);
  });

  it('keeps x86_64 on ttyS0 with the images in build/', () => {
    const args = qemuArguments({}, 'tcg');
    expect(args).not.toContain('-M');
    expect(args[args.indexOf('-kernel') + 1]).toMatch(/\/build\/vmlinuz$/);
    expect(args[args.indexOf('-append') + 1]).toMatch(/^console=ttyS0 /);
  });

  it('refuses a PXE boot, which only the x86_64 iPXE ROM does', () => {
    expect(() => qemuArguments({ arch: 'arm64', pxe: true }, 'tcg')).toThrow(/iPXE/);
  });
});

describe('exitCodeOf', () => {
  const red = (text: string): string => `[3.210]: \u001b[31m${text}\u001b[0m\r\n`;

  it('is the last status line\'s number, truncated to a byte as a process exit code is', () => {
    expect(exitCodeOf('[1.0]: Execution is over, pipeline status: 3\r\n', false)).toBe(3);
    expect(exitCodeOf('[1.0]: Execution is over, pipeline status: 256\r\n', false)).toBe(0);
  });

  it(`is ${EXIT_NOT_STARTED} with the launcher's not-started line, whose stage and reason it reads without the colour codes`, () => {
    const transcript = red('ocinit: pipeline not started: network: no DHCP lease on eth0 in 2 s');
    expect(exitCodeOf(transcript, false)).toBe(EXIT_NOT_STARTED);
    expect(notStartedLine(transcript)).toEqual({ stage: 'network', reason: 'no DHCP lease on eth0 in 2 s' });
  });

  it(`is 0 with no pipeline, ${EXIT_NO_STATUS} with nothing the launcher ends with, ${EXIT_TIMEOUT} on a timeout whatever was printed`, () => {
    expect(exitCodeOf('[1.0]: ocinit: no pipeline: the command line names no b2c.container and no b2c.post_container\n', false)).toBe(0);
    expect(exitCodeOf('Kernel panic - not syncing\n', false)).toBe(EXIT_NO_STATUS);
    expect(exitCodeOf('[1.0]: Execution is over, pipeline status: 0\n', true)).toBe(EXIT_TIMEOUT);
  });
});
