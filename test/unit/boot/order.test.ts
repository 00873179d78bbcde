import { describe, expect, it } from 'vitest';
import { storageAfterNetwork } from '../../../src/boot/order.ts';
import { parseCommandLine } from '../../../src/cmdline/index.ts';
import { nbdConnectArgs, nbdModuleArgs } from '../../../src/system/nbd.ts';

const plan = (line: string) => {
  const result = parseCommandLine(line, { env: {} });
  expect(result.problems).toEqual([]);
  return result.plan;
};

describe('when the storage opens', () => {
  it('before the network, unless the cache or swap may sit on a network block device', () => {
    expect(storageAfterNetwork(plan('b2c.cache_device=auto b2c.swap=/dev/sda3'))).toBe(false);
    expect(storageAfterNetwork(plan('b2c.nbd=/dev/nbd0,host=h'))).toBe(true);
    // The devices themselves may come from the extra arguments.
    expect(storageAfterNetwork(plan('b2c.cache_device=/dev/nbd0'))).toBe(true);
    expect(storageAfterNetwork(plan('b2c.cache_device=/dev/nbd0p1'))).toBe(true);
    expect(storageAfterNetwork(plan('b2c.swap=/dev/nbd1'))).toBe(true);
    expect(storageAfterNetwork(plan('b2c.filesystem=c,src=/dev/nbd2 b2c.cache_device=c'))).toBe(true);
    expect(storageAfterNetwork(plan('b2c.filesystem=c,src=/dev/sdb1 b2c.cache_device=c'))).toBe(false);
  });
});

describe('ocinit-nbd and the nbd module', () => {
  it('attach the default export at the port (10809 unless given), with the connections asked for (1 by default)', () => {
    const [first, second] = plan('b2c.nbd=nbd0,host=10.42.0.1 b2c.nbd=/dev/nbd20,host=gw,port=10810,connections=4').nbd;
    if (first === undefined || second === undefined) throw new Error('two devices expected');
    expect(nbdConnectArgs(first, '10.42.0.1')).toEqual(['/usr/sbin/ocinit-nbd', 'connect', '10.42.0.1', '10809', '/dev/nbd0', '1']);
    expect(nbdConnectArgs(second, 'fd00::1')).toEqual(['/usr/sbin/ocinit-nbd', 'connect', 'fd00::1', '10810', '/dev/nbd20', '4']);
    // nbd20 needs more than the module's 16 devices; partitions so a whole disk can hold B2C_CACHE.
    expect(nbdModuleArgs([first, second])).toEqual(['modprobe', 'nbd', 'nbds_max=21', 'max_part=16']);
    expect(nbdModuleArgs([first])).toEqual(['modprobe', 'nbd', 'nbds_max=16', 'max_part=16']);
  });
});
