// A TCP forwarder on 127.0.0.1: a stand-in for a server that goes away mid-job. stop() closes the
// listener and cuts every connection, so later connections are refused, as from a stopped gateway.
// Bytes pass untouched (an HTTP proxy would rewrite Host and break SigV4 signatures).
import { connect, createServer, type Socket } from 'node:net';

export interface TcpForward {
  port: number;
  stop(): Promise<void>;
}

export interface ForwardOptions {
  /** Cut the connection when a chunk from the client matches (e.g. a request line naming a key). */
  dropWhen?: (chunk: Buffer) => boolean;
}

export function forwardTcp(targetPort: number, options: ForwardOptions = {}): Promise<TcpForward> {
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = connect(targetPort, '127.0.0.1');
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.on('data', (chunk: Buffer) => {
      if (options.dropWhen?.(chunk) === true) {
        client.destroy();
        upstream.destroy();
      } else upstream.write(chunk);
    });
    upstream.pipe(client);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      resolve({
        port,
        stop: () =>
          new Promise<void>((done) => {
            for (const socket of sockets) socket.destroy();
            server.close(() => done());
          }),
      });
    });
  });
}
