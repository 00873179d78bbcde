import { describe, expect, it } from 'vitest';
import { RegistryTransport } from '../../../src/oci/transport.ts';

describe('RegistryTransport.external (foreign layer URLs)', () => {
  it('refuses plain HTTP and non-HTTP URLs while TLS is verified, before any connection', async () => {
    const transport = new RegistryTransport({ host: '127.0.0.1:9' });
    await expect(transport.external('http://cdn.example/layer', 'test', 0)).rejects.toThrow('refusing http: layer URL http://cdn.example');
    await expect(transport.external('file:///etc/passwd', 'test', 0)).rejects.toThrow('refusing file: layer URL');
    await expect(transport.external('not a url', 'test', 0)).rejects.toThrow('invalid layer URL');
    await transport.close();
  });
});
