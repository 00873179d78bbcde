import type { Logger } from '../../log/logger.ts';

export type HttpMethod = 'GET' | 'HEAD' | 'POST' | 'PUT';

/** A response body as the layers and their callers use it (undici's BodyReadable is one). */
export interface ResponseBody extends AsyncIterable<Buffer> {
  dump(): Promise<void>;
  text(): Promise<string>;
  destroy(): void;
}

export interface RegistryResponse {
  status: number;
  headers: Record<string, string>;
  body: ResponseBody;
  /** The URL that answered, without its query. */
  url: string;
}

/** One request as it travels down the layers; `what` names it in every message ("fetching manifest v1"). */
export interface TransportRequest {
  method: HttpMethod;
  /** Absolute, except above the schemer: a path below `/v2/` or a URL the registry handed out. */
  url: string;
  headers: Record<string, string>;
  body?: Buffer | undefined;
  what: string;
  /** The auth scope (`repository:NAME:pull`); without one, no credentials are added. */
  scope?: string | undefined;
  /** false: a connection error is final at once (the schemer's HTTPS probe when HTTP may follow). */
  retryConnectionErrors?: boolean;
}

/** What every layer wraps and is: undici's interceptors and go-containerregistry's RoundTripper are the model. */
export type Send = (request: TransportRequest) => Promise<RegistryResponse>;

/** The facts layers share about the registry they talk to. */
export interface RegistryPeer {
  /** `host[:port]` of the registry API, as messages name it. */
  host: string;
  /** false: plain HTTP allowed and certificates not checked. */
  tlsVerify: boolean;
  log?: Logger | undefined;
}
