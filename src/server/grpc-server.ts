// The gRPC server: envoy.service.auth.v3.Authorization and grpc.health.v1.Health on one
// listen address (host:port or unix:/path).
import * as grpc from '@grpc/grpc-js';
import { parseListenAddress } from '../config/config.js';
import type { CheckService } from './check-service.js';
import type { HealthService } from './health.js';
import { ListenError, removeSocketFile, removeStaleSocket } from './listen.js';
import { loadProtos } from './proto.js';
import { checkRequestDeserializer, protoLoaderMetadataDecoder } from './check-decoder.js';
import { encodeCheckResponse } from './check-response-encoder.js';

export { ListenError };

/** Largest CheckRequest accepted (Envoy's with_request_body max_request_bytes + headers). */
export const MAX_RECEIVE_MESSAGE_BYTES = 32 * 1024 * 1024;

export interface GrpcServerHandle {
  readonly server: grpc.Server;
  /** The address actually bound (port 0 replaced by the real port). */
  readonly address: string;
  /**
   * Stops accepting calls and waits for in-flight ones; after timeoutMs, cancels what is left.
   * Resolves 'graceful' or 'forced'.
   */
  shutdown(timeoutMs: number): Promise<'graceful' | 'forced'>;
}

export async function startGrpcServer(
  listen: string,
  services: { check: CheckService; health: HealthService },
): Promise<GrpcServerHandle> {
  const parsed = parseListenAddress(listen);
  if (typeof parsed === 'string') throw new ListenError(`cannot listen on ${listen}: ${parsed}`);
  if (parsed.kind === 'unix') await removeStaleSocket(parsed.path);

  const protos = loadProtos();
  const server = new grpc.Server({
    'grpc.max_receive_message_length': MAX_RECEIVE_MESSAGE_BYTES,
  });
  // Check requests are decoded straight into the engine's request form (check-decoder.ts) and
  // responses encoded straight from the service's objects (check-response-encoder.ts).
  server.addService(directCheckService(protos.authorization), { Check: services.check.decodedHandler });
  server.addService(protos.health, services.health.implementation);

  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(listen, grpc.ServerCredentials.createInsecure(), (err, boundPort) => {
      if (err) reject(new ListenError(`cannot listen on ${listen}: ${err.message}`));
      else resolve(boundPort);
    });
  });
  const address =
    parsed.kind === 'unix'
      ? listen
      : `${parsed.host.includes(':') ? `[${parsed.host}]` : parsed.host}:${port}`;

  let shuttingDown: Promise<'graceful' | 'forced'> | null = null;
  const shutdown = (timeoutMs: number): Promise<'graceful' | 'forced'> => {
    shuttingDown ??= new Promise((resolve) => {
      let settled = false;
      const finish = (how: 'graceful' | 'forced') => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (parsed.kind === 'unix') removeSocketFile(parsed.path);
        resolve(how);
      };
      const timer = setTimeout(() => {
        server.forceShutdown();
        finish('forced');
      }, timeoutMs);
      server.tryShutdown(() => finish('graceful'));
    });
    return shuttingDown;
  };
  return { server, address, shutdown };
}

/** The Authorization service definition with Check's request deserializer replaced by check-decoder.ts and its response serializer by check-response-encoder.ts. */
export function directCheckService(authorization: grpc.ServiceDefinition): grpc.ServiceDefinition {
  const check = authorization['Check'];
  if (!check) throw new Error('Authorization service definition has no Check method');
  const metadata = protoLoaderMetadataDecoder((bytes) => check.requestDeserialize(bytes));
  return { ...authorization, Check: { ...check, requestDeserialize: checkRequestDeserializer(metadata), responseSerialize: encodeCheckResponse } };
}
