// qemu/lab boot NAME [options] [-- KERNEL ARGS...]: boots a DUT on the lab's taps, from inside the
// lab's namespace (qemu/lab runs this under `ip netns exec`). Exits like qemu/run.
//   --nic TAP          a NIC on this tap (repeatable, in order: the first is eth0); default tap0
//   --pxe              netboot: no -kernel/-initrd, the NIC's iPXE ROM boots what the lab serves
//                      (qemu/lab pxe NAME KERNEL INITRD ARGS... publishes it)
//   --rtc BASE         start the guest clock at BASE (e.g. 2020-01-01), to see NTP set it
//   --kernel, --initrd, --timeout, --accel, --mem: as for qemu/run
import { parseArgs } from 'node:util';
import { boot, EXIT_USAGE, type Accel, type BootOptions } from './harness.ts';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    nic: { type: 'string', multiple: true },
    pxe: { type: 'boolean', default: false },
    rtc: { type: 'string' },
    kernel: { type: 'string' },
    initrd: { type: 'string' },
    timeout: { type: 'string' },
    accel: { type: 'string' },
    mem: { type: 'string' },
  },
});

const nics = values.nic ?? ['tap0'];
const [first, ...others] = nics;
if (first === undefined) process.exit(EXIT_USAGE);
const accelOption = (values.accel ?? 'auto') as Accel;
const extraArgs: string[] = [];
others.forEach((tap, index) => {
  const id = `lab${index + 1}`;
  extraArgs.push('-netdev', `tap,id=${id},ifname=${tap},script=no,downscript=no`, '-device', `virtio-net-pci,netdev=${id},mac=52:54:00:12:35:${(index + 1).toString(16).padStart(2, '0')}`);
});
if (values.rtc !== undefined) extraArgs.push('-rtc', `base=${values.rtc}`);

const options: BootOptions = {
  kernel: values.kernel,
  initrd: values.initrd,
  append: positionals,
  net: { kind: 'tap', ifname: first },
  timeoutSeconds: values.timeout === undefined ? undefined : Number(values.timeout),
  memMiB: values.mem === undefined ? undefined : Number(values.mem),
  accel: accelOption,
  extraArgs,
  pxe: values.pxe,
  onOutput: (chunk) => process.stdout.write(chunk),
};

process.exitCode = (await boot(options)).exitCode;
