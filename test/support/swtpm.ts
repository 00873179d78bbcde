// Debian's swtpm (a software TPM 2.0, libtpms) on loopback: its data port takes raw TPM commands,
// as /dev/tpmrm0 does in a guest. For host tests of src/tpm; QEMU boots use its unix socket.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TpmTransport } from '../../src/tpm/measure.ts';
import { freePort } from './registry.ts';

export interface TestTpm {
  transport: TpmTransport;
  stop(): Promise<void>;
}

async function connectWhenReady(port: number): Promise<Socket> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await new Promise<Socket>((resolve, reject) => {
        const socket = connect(port, '127.0.0.1', () => resolve(socket));
        socket.once('error', reject);
      });
    } catch (error) {
      if (attempt > 100) throw error;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

/** One command at a time: a response is complete when its header's size has arrived. */
function socketTransport(socket: Socket): TpmTransport {
  return {
    transmit: (command) =>
      new Promise<Buffer>((resolve, reject) => {
        let received = Buffer.alloc(0);
        const onData = (chunk: Buffer): void => {
          received = Buffer.concat([received, chunk]);
          if (received.length >= 6 && received.length >= received.readUInt32BE(2)) {
            socket.off('data', onData);
            socket.off('error', reject);
            resolve(received);
          }
        };
        socket.on('data', onData);
        socket.once('error', reject);
        socket.write(command);
      }),
  };
}

export async function startSwtpm(): Promise<TestTpm> {
  const state = mkdtempSync(join(tmpdir(), 'ocinit-swtpm-'));
  const port = await freePort();
  const ctrl = await freePort();
  const child = spawn('swtpm', ['socket', '--tpm2', '--tpmstate', `dir=${state}`, '--server', `type=tcp,port=${port},bindaddr=127.0.0.1`, '--ctrl', `type=tcp,port=${ctrl},bindaddr=127.0.0.1`, '--flags', 'not-need-init,startup-clear'], { stdio: 'ignore' });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const socket = await connectWhenReady(port);
  return {
    transport: socketTransport(socket),
    async stop() {
      socket.destroy();
      child.kill();
      await exited;
      rmSync(state, { recursive: true, force: true });
    },
  };
}

export interface QemuTpm {
  /** QEMU arguments attaching the TPM as a TIS device (tpm_tis is built into Debian's amd64 kernel). */
  qemuArgs: string[];
  stop(): Promise<void>;
}

/** swtpm on a unix control socket for one QEMU boot (it ends when QEMU disconnects). */
export async function startSwtpmForQemu(): Promise<QemuTpm> {
  const state = mkdtempSync(join(tmpdir(), 'ocinit-swtpm-qemu-'));
  const socket = join(state, 'swtpm.sock');
  const child = spawn('swtpm', ['socket', '--tpm2', '--terminate', '--tpmstate', `dir=${state}`, '--ctrl', `type=unixio,path=${socket}`], { stdio: 'ignore' });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  for (let attempt = 0; !existsSync(socket); attempt++) {
    if (attempt > 100) throw new Error('swtpm did not create its socket');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return {
    qemuArgs: ['-chardev', `socket,id=chrtpm,path=${socket}`, '-tpmdev', 'emulator,id=tpm0,chardev=chrtpm', '-device', 'tpm-tis,tpmdev=tpm0'],
    async stop() {
      child.kill();
      await exited;
      rmSync(state, { recursive: true, force: true });
    },
  };
}
