// Emulated real hardware instead of virtio: each NIC model QEMU has for farms' DUTs gets its
// driver, a lease, pulls and runs a container; each disk controller carries the cache, which the
// pull really uses (the layers land on the disk, not in RAM). One boot per NIC, disks paired in.
// A driver asking for firmware the initramfs lacks is named on the console.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { demoImageSpec } from '../../qemu/demo-image.ts';
import { boot, type DiskModel, type NicModel } from '../../qemu/harness.ts';
import { buildImageLayout, pushLayout } from '../support/image.ts';
import { startRegistry, type TestRegistry } from '../support/registry.ts';
import { createBlankImage, listImageDirectory, partitionOffset } from '../integration/cache/disk-image.ts';

let registry: TestRegistry;
let work: string;
let reference: string;
let layerDigests: string[];

beforeAll(async () => {
  registry = await startRegistry();
  work = mkdtempSync(join(tmpdir(), 'ocinit-boot-hardware-'));
  const built = await buildImageLayout(join(work, 'layout'), 'demo', demoImageSpec());
  layerDigests = built.layers.map((layer) => layer.digest.replace('sha256:', ''));
  const pushed = await pushLayout(join(work, 'layout'), 'demo', registry, { name: 'ocinit/hardware' });
  reference = pushed.replace(registry.host, `10.0.2.2:${registry.port}`);
}, 120_000);

afterAll(async () => {
  await registry.stop();
  rmSync(work, { recursive: true, force: true });
});

interface Machine {
  nic: NicModel;
  /** The NIC's driver, as /proc/modules names it. */
  nicDriver: RegExp;
  /** The cache partition ocinit makes on the blank disk. */
  disk?: { model: DiskModel; device: string; driver: RegExp };
  /** A second NIC, unplugged: QEMU's i82551, whose e100 driver asks for firmware the initramfs lacks. */
  firmwareNic?: boolean;
}

const machines: Machine[] = [
  { nic: 'rtl8139', nicDriver: /8139(too|cp)/, disk: { model: 'nvme', device: '/dev/nvme0n1p1', driver: /\bnvme\b/ } },
  { nic: 'vmxnet3', nicDriver: /\bvmxnet3\b/, disk: { model: 'ahci', device: '/dev/sda1', driver: /\bahci\b/ } },
  { nic: 'usb', nicDriver: /\b(rndis_host|cdc_ether)\b/, disk: { model: 'usb', device: '/dev/sda1', driver: /\b(usb_storage|uas)\b/ } },
  { nic: 'e1000e', nicDriver: /\be1000e\b/, disk: { model: 'virtio-scsi', device: '/dev/sda1', driver: /\bvirtio_scsi\b/ } },
  { nic: 'e1000', nicDriver: /\be1000\b/, firmwareNic: true },
];

describe('emulated real hardware', () => {
  it.each(machines.map((machine) => [`${machine.nic} NIC${machine.disk ? ` with the cache on ${machine.disk.model}` : ''}${machine.firmwareNic === true ? ' beside an e100 lacking its firmware' : ''}`, machine] as const))(
    '%s: loads the drivers, pulls and runs a container',
    async (_name, machine) => {
      const disks = machine.disk === undefined ? [] : [join(work, `${machine.disk.model}.img`)];
      for (const disk of disks) createBlankImage(disk, 1024 ** 3);
      const result = await boot({
        nicModel: machine.nic,
        diskModel: machine.disk?.model,
        disks,
        timeoutSeconds: 240,
        extraArgs: machine.firmwareNic === true ? ['-device', 'i82551'] : [],
        append: [...(machine.disk ? ['b2c.cache_device=auto'] : []), `b2c.container="--tls-verify=false ${reference} sh -c 'echo ran on ${machine.nic}'"`],
      });
      expect(result.kernelPanic).toBe(false);
      const drivers = result.console.split('\n').filter((line) => line.includes('Drivers loaded')).join('\n');
      expect(drivers).toMatch(machine.nicDriver);
      expect(result.console).toMatch(/Network ready in [\d.]+ s: (eth|usb)\d\s/);
      expect(result.console).toContain(`ran on ${machine.nic}`);
      expect(result.status).toBe(0);
      if (machine.firmwareNic === true) {
        expect(result.console).toContain('firmware e100/d102e_ucode.bin is missing (asked for by e100 0000:');
      }
      if (machine.disk === undefined) return;
      expect(drivers).toMatch(machine.disk.driver);
      expect(result.console).toContain(`cache: ${machine.disk.device} mounted at /storage`);
      expect(result.console).not.toContain('stay in RAM');
      const blobs = listImageDirectory(disks[0] ?? '', partitionOffset(disks[0] ?? '', 1), '/store/blobs/sha256');
      expect(blobs).toEqual(expect.arrayContaining(layerDigests));
    },
    300_000,
  );
});
