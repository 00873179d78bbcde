import { describe, expect, it } from 'vitest';
import { Logger } from '../../../src/log/logger.ts';
import { BootMeasurement } from '../../../src/tpm/boot.ts';

const image = { reference: 'registry.lab/app:1', topDigest: `sha256:${'1'.repeat(64)}`, manifestDigest: `sha256:${'1'.repeat(64)}`, verdict: 'unsigned: no policy' };

function measurement(mode: 'auto' | 'required' | 'off', device: string): { measurement: BootMeasurement; text: () => string } {
  let text = '';
  const log = new Logger({ sink: (chunk) => (text += chunk), color: false });
  return { measurement: new BootMeasurement({ mode, pcr: 15, cmdline: 'b2c.container=x', log, device, logFile: '/nonexistent/log.json' }), text: () => text };
}

describe('b2c.tpm without a TPM', () => {
  it('required refuses the image; auto says nothing is measured and goes on; off does nothing', async () => {
    await expect(measurement('required', '/nonexistent/tpmrm0').measurement.measureImage(image)).rejects.toThrow(/b2c.tpm=required, but there is no TPM \(\/nonexistent\/tpmrm0\)/);
    const auto = measurement('auto', '/nonexistent/tpmrm0');
    await auto.measurement.measureImage(image);
    expect(auto.text()).toContain('tpm: no /nonexistent/tpmrm0; nothing is measured');
    const off = measurement('off', '/nonexistent/tpmrm0');
    await off.measurement.measureImage(image);
    expect(off.text()).toBe('');
    // The summary carries no tpm record when nothing was measured.
    expect(await auto.measurement.record()).toBeUndefined();
    expect(await off.measurement.record()).toBeUndefined();
  });

  it('a device that is not a TPM: auto goes on unmeasured in red, required refuses', async () => {
    const auto = measurement('auto', '/dev/null');
    await auto.measurement.measureImage(image);
    expect(auto.text()).toMatch(/tpm: TPM answered TPM2_GetCapability with 0 bytes; going on without measuring/);
    await expect(measurement('required', '/dev/null').measurement.measureImage(image)).rejects.toThrow(/TPM2_GetCapability with 0 bytes/);
    expect(await auto.measurement.record()).toBeUndefined();
  });
});
