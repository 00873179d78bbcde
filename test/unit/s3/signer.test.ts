// The signer against AWS's published Signature Version 4 examples: the S3 API reference's
// "Examples: Signature Calculations" (examplebucket, 2013-05-24) and the general SigV4 test suite.
import { describe, expect, test } from 'vitest';
import { Secret } from '../../../src/log/secret.ts';
import { EMPTY_SHA256, encodeKeyPath, signatureParts, signedHeaders, uriEncode } from '../../../src/s3/signer.ts';

const s3Example = { accessKey: new Secret('AKIAIOSFODNN7EXAMPLE'), secretKey: new Secret('wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY'), region: 'us-east-1' };
const may24 = new Date('2013-05-24T00:00:00Z');

describe('AWS S3 signature examples', () => {
  test('GET Object with a Range', () => {
    const parts = signatureParts(
      {
        method: 'GET',
        url: 'https://examplebucket.s3.amazonaws.com/test.txt',
        headers: { range: 'bytes=0-9', 'x-amz-content-sha256': EMPTY_SHA256, 'x-amz-date': '20130524T000000Z' },
        payloadHash: EMPTY_SHA256,
        date: may24,
      },
      s3Example,
    );
    expect(parts.canonicalRequest).toBe(
      ['GET', '/test.txt', '', 'host:examplebucket.s3.amazonaws.com', 'range:bytes=0-9', `x-amz-content-sha256:${EMPTY_SHA256}`, 'x-amz-date:20130524T000000Z', '', 'host;range;x-amz-content-sha256;x-amz-date', EMPTY_SHA256].join('\n'),
    );
    expect(parts.stringToSign).toBe('AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972');
    expect(parts.signature).toBe('f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41');
    expect(parts.authorization).toBe(
      'AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41',
    );
  });

  test('PUT Object with a $ in the key and a storage class', () => {
    const payload = '44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072';
    const parts = signatureParts(
      {
        method: 'PUT',
        url: `https://examplebucket.s3.amazonaws.com/${encodeKeyPath('test$file.text')}`,
        headers: { date: 'Fri, 24 May 2013 00:00:00 GMT', 'x-amz-content-sha256': payload, 'x-amz-date': '20130524T000000Z', 'x-amz-storage-class': 'REDUCED_REDUNDANCY' },
        payloadHash: payload,
        date: may24,
      },
      s3Example,
    );
    expect(parts.canonicalRequest.split('\n').slice(0, 2)).toEqual(['PUT', '/test%24file.text']);
    expect(parts.signature).toBe('98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd');
  });

  test('GET Bucket lifecycle: a query parameter without a value', () => {
    const parts = signatureParts(
      { method: 'GET', url: 'https://examplebucket.s3.amazonaws.com/?lifecycle', headers: { 'x-amz-content-sha256': EMPTY_SHA256, 'x-amz-date': '20130524T000000Z' }, payloadHash: EMPTY_SHA256, date: may24 },
      s3Example,
    );
    expect(parts.canonicalRequest.split('\n')[2]).toBe('lifecycle=');
    expect(parts.signature).toBe('fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543');
  });

  test('GET Bucket (list objects): query parameters sorted', () => {
    const parts = signatureParts(
      { method: 'GET', url: 'https://examplebucket.s3.amazonaws.com/?max-keys=2&prefix=J', headers: { 'x-amz-content-sha256': EMPTY_SHA256, 'x-amz-date': '20130524T000000Z' }, payloadHash: EMPTY_SHA256, date: may24 },
      s3Example,
    );
    expect(parts.canonicalRequest.split('\n')[2]).toBe('max-keys=2&prefix=J');
    expect(parts.signature).toBe('34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7');
  });
});

describe('SigV4 test suite (service "service", 2015-08-30)', () => {
  const suite = { accessKey: new Secret('AKIDEXAMPLE'), secretKey: new Secret('wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY'), region: 'us-east-1', service: 'service' };
  test('get-vanilla-query-order-key-case', () => {
    const parts = signatureParts(
      { method: 'GET', url: 'https://example.amazonaws.com/?Param2=value2&Param1=value1', headers: { host: 'example.amazonaws.com', 'x-amz-date': '20150830T123600Z' }, payloadHash: EMPTY_SHA256, date: new Date('2015-08-30T12:36:00Z') },
      suite,
    );
    expect(parts.canonicalRequest.split('\n')[2]).toBe('Param1=value1&Param2=value2');
    expect(parts.signature).toBe('b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500');
  });
});

describe('helpers', () => {
  test('keys keep their slashes and encode everything outside the unreserved set', () => {
    expect(encodeKeyPath('results/run 1/a+b(c)*!.txt')).toBe('results/run%201/a%2Bb%28c%29%2A%21.txt');
    expect(uriEncode('~-_.')).toBe('~-_.');
  });

  test('signedHeaders adds the date, the payload hash and an Authorization naming the access key only', () => {
    const headers = signedHeaders({ method: 'GET', url: 'http://127.0.0.1:9000/bucket/key', payloadHash: EMPTY_SHA256, date: may24 }, s3Example);
    expect(headers['x-amz-date']).toBe('20130524T000000Z');
    expect(headers['x-amz-content-sha256']).toBe(EMPTY_SHA256);
    expect(headers.authorization).toMatch(/^AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE\/20130524\/us-east-1\/s3\/aws4_request,SignedHeaders=host;x-amz-content-sha256;x-amz-date,Signature=[0-9a-f]{64}$/);
    expect(JSON.stringify(headers)).not.toContain('wJalrXUtnFEMI');
  });
});
