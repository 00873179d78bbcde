// The few S3 XML answers ocinit reads (ListObjectsV2, InitiateMultipartUpload, Error), read with
// plain patterns: their elements are flat text, never nested in a way these patterns would misread.

function decodeEntities(text: string): string {
  return text.replace(/&(#x[0-9a-fA-F]+|#\d+|amp|lt|gt|quot|apos);/g, (_, entity: string) => {
    if (entity === 'amp') return '&';
    if (entity === 'lt') return '<';
    if (entity === 'gt') return '>';
    if (entity === 'quot') return '"';
    if (entity === 'apos') return "'";
    const code = entity.startsWith('#x') ? Number.parseInt(entity.slice(2), 16) : Number.parseInt(entity.slice(1), 10);
    return String.fromCodePoint(code);
  });
}

export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (character) => `&#${character.charCodeAt(0)};`);
}

/** The text of the first `<name>` element in `xml`, entities decoded. */
export function element(xml: string, name: string): string | undefined {
  const match = new RegExp(`<${name}>([\\s\\S]*?)</${name}>`).exec(xml);
  return match?.[1] === undefined ? undefined : decodeEntities(match[1]);
}

function blocks(xml: string, name: string): string[] {
  return [...xml.matchAll(new RegExp(`<${name}>([\\s\\S]*?)</${name}>`, 'g'))].map((match) => match[1] ?? '');
}

export interface ListedObject {
  key: string;
  size: number;
  /** Without the quotes. Multipart uploads have `MD5-OF-PARTS-N` ETags. */
  etag: string;
  lastModified: Date;
}

export interface ListPage {
  objects: ListedObject[];
  nextContinuationToken: string | undefined;
}

export function parseListPage(xml: string): ListPage {
  const objects = blocks(xml, 'Contents').map((block) => ({
    key: element(block, 'Key') ?? '',
    size: Number(element(block, 'Size') ?? '0'),
    etag: (element(block, 'ETag') ?? '').replace(/"/g, ''),
    lastModified: new Date(element(block, 'LastModified') ?? 0),
  }));
  const truncated = element(xml, 'IsTruncated') === 'true';
  return { objects, nextContinuationToken: truncated ? element(xml, 'NextContinuationToken') : undefined };
}

export interface ServerError {
  code: string | undefined;
  message: string | undefined;
}

export function parseError(xml: string): ServerError {
  return { code: element(xml, 'Code'), message: element(xml, 'Message') };
}
