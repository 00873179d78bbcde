import { describe, expect, it } from 'vitest';
import { OcinitError } from '../../../src/log/errors.ts';
import { manifestReference, parseReference, taggedReference } from '../../../src/reference/reference.ts';

const SHA256 = `sha256:${'a'.repeat(64)}`;
const SHA512 = `sha512:${'b'.repeat(128)}`;

describe('parseReference', () => {
  it.each([
    ['alpine', 'docker.io', 'registry-1.docker.io', 'library/alpine', 'latest', undefined, 'docker.io/library/alpine:latest'],
    ['docker://alpine:3.20', 'docker.io', 'registry-1.docker.io', 'library/alpine', '3.20', undefined, 'docker.io/library/alpine:3.20'],
    ['user/app', 'docker.io', 'registry-1.docker.io', 'user/app', 'latest', undefined, 'docker.io/user/app:latest'],
    ['index.docker.io/library/debian:12', 'docker.io', 'registry-1.docker.io', 'library/debian', '12', undefined, 'docker.io/library/debian:12'],
    ['registry.example.com/a/b/c:v1', 'registry.example.com', 'registry.example.com', 'a/b/c', 'v1', undefined, 'registry.example.com/a/b/c:v1'],
    ['127.0.0.1:5000/x:tag', '127.0.0.1:5000', '127.0.0.1:5000', 'x', 'tag', undefined, '127.0.0.1:5000/x:tag'],
    ['localhost/x', 'localhost', 'localhost', 'x', 'latest', undefined, 'localhost/x:latest'],
    ['localhost:5000/x', 'localhost:5000', 'localhost:5000', 'x', 'latest', undefined, 'localhost:5000/x:latest'],
    ['[::1]:5000/ns/x:1', '[::1]:5000', '[::1]:5000', 'ns/x', '1', undefined, '[::1]:5000/ns/x:1'],
    [`alpine@${SHA256}`, 'docker.io', 'registry-1.docker.io', 'library/alpine', undefined, SHA256, `docker.io/library/alpine@${SHA256}`],
    [`host:1/x:3@${SHA512}`, 'host:1', 'host:1', 'x', '3', SHA512, `host:1/x:3@${SHA512}`],
    ['a.b/c__d/e-f.g:T_1.x', 'a.b', 'a.b', 'c__d/e-f.g', 'T_1.x', undefined, 'a.b/c__d/e-f.g:T_1.x'],
  ])('%s', (text, registry, apiHost, repository, tag, digest, canonical) => {
    const reference = parseReference(text);
    expect(reference).toEqual({ registry, apiHost, repository, tag, digest, canonical });
  });

  it('fetches by digest when both tag and digest are given', () => {
    expect(manifestReference(parseReference(`x/y:1@${SHA256}`))).toBe(SHA256);
    expect(manifestReference(parseReference('x/y:1'))).toBe('1');
  });

  it.each([
    ['', 'empty reference'],
    ['Alpine', 'must be lowercase'],
    ['alpine:', 'invalid tag'],
    ['alpine:-x', 'invalid tag'],
    [`alpine:${'t'.repeat(129)}`, 'invalid tag'],
    ['alpine@sha256:abc', 'invalid digest'],
    [`alpine@sha256:${'A'.repeat(64)}`, 'invalid digest'],
    [`alpine@md5:${'a'.repeat(32)}`, 'invalid digest'],
    [`alpine@sha256:${'a'.repeat(64)}/../../x`, 'invalid digest'],
    [`alpine@sha512:${'a'.repeat(64)}`, 'invalid digest'],
    ['a//b', 'empty path component'],
    ['host:5000/', 'empty path component'],
    ['a/../b', "invalid repository component '..'"],
    ['x y', 'whitespace'],
    ['host:99999/x', 'out of range'],
    ['host:port/x', 'invalid port'],
    ['[::1/x', 'IPv6'],
    ['-host.com/x', 'invalid registry host'],
    ['x__-y', 'invalid repository component'],
    [`r.io/${'a'.repeat(260)}`, 'longer than 255'],
  ])('refuses %j with a reason', (text, reason) => {
    expect(() => parseReference(text)).toThrow(OcinitError);
    expect(() => parseReference(text)).toThrow(reason);
  });
});

describe('taggedReference', () => {
  it('names the same repository at another tag, the digest dropped', () => {
    const pinned = parseReference(`host:5000/ci/job:v1@${SHA256}`);
    const tagged = taggedReference(pinned, 'sha256-abc.sig');
    expect(tagged).toEqual({ ...parseReference('host:5000/ci/job:sha256-abc.sig'), apiHost: pinned.apiHost });
    expect(tagged.digest).toBeUndefined();
    expect(manifestReference(tagged)).toBe('sha256-abc.sig');
  });

  it('refuses a tag the grammar refuses', () => {
    expect(() => taggedReference(parseReference('alpine'), 'a/b')).toThrow("invalid tag 'a/b'");
  });
});
