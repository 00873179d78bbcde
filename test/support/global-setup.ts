// Once per test run: a directory shared by every test file (provided as `ocinitRunDir`), and the
// teardown of what the files started there lazily, such as the RADOS gateway (s3-gateway.ts).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { stopSharedS3Gateway } from './s3-gateway.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    ocinitRunDir: string;
  }
}

export default function setup(project: TestProject): () => void {
  const runDir = mkdtempSync(join(tmpdir(), 'ocinit-run-'));
  project.provide('ocinitRunDir', runDir);
  return () => {
    stopSharedS3Gateway(runDir);
    rmSync(runDir, { recursive: true, force: true });
  };
}
