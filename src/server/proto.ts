// Loads the vendored Envoy ext_authz and gRPC health protocol definitions.
// The loader options below define the JS shape of every message the server reads and
// writes (see check-mapper.ts and check-service.ts); clients in tests use the same ones.
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { PROTO_DIR } from '../config/paths.js';

export const AUTHORIZATION_SERVICE = 'envoy.service.auth.v3.Authorization';
export const HEALTH_SERVICE = 'grpc.health.v1.Health';

export const PROTO_FILES = ['envoy/service/auth/v3/external_auth.proto', 'grpc/health/v1/health.proto'];

export const LOADER_OPTIONS: protoLoader.Options = {
  keepCase: true,
  longs: Number,
  enums: String,
  bytes: Buffer,
  defaults: true,
  oneofs: true,
  includeDirs: [PROTO_DIR],
};

export interface LoadedProtos {
  packageDefinition: protoLoader.PackageDefinition;
  authorization: grpc.ServiceDefinition;
  health: grpc.ServiceDefinition;
}

let cached: LoadedProtos | null = null;

/** Loads (once per process) and returns the service definitions. */
export function loadProtos(): LoadedProtos {
  if (cached) return cached;
  const packageDefinition = protoLoader.loadSync(PROTO_FILES, LOADER_OPTIONS);
  const authorization = packageDefinition[AUTHORIZATION_SERVICE];
  const health = packageDefinition[HEALTH_SERVICE];
  if (!isService(authorization) || !isService(health)) {
    throw new Error(`proto definitions in ${PROTO_DIR} lack ${AUTHORIZATION_SERVICE} or ${HEALTH_SERVICE}`);
  }
  cached = { packageDefinition, authorization, health };
  return cached;
}

function isService(def: unknown): def is grpc.ServiceDefinition {
  return typeof def === 'object' && def !== null && !('format' in def) && Object.keys(def).length > 0;
}

/** google.rpc.Code values used by the server. */
export const RpcCode = {
  OK: 0,
  INVALID_ARGUMENT: 3,
  NOT_FOUND: 5,
  PERMISSION_DENIED: 7,
  UNAVAILABLE: 14,
  INTERNAL: 13,
} as const;
