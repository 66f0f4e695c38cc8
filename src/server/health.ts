// grpc.health.v1.Health: Check and Watch. The overall status ("" service) and the
// Authorization service share one state: SERVING once ready, NOT_SERVING while starting or
// draining.
import * as grpc from '@grpc/grpc-js';
import { AUTHORIZATION_SERVICE, HEALTH_SERVICE } from './proto.js';

export type ServingStatus = 'SERVING' | 'NOT_SERVING';

interface HealthRequest {
  service: string;
}
interface HealthResponse {
  status: ServingStatus | 'SERVICE_UNKNOWN' | 'UNKNOWN';
}

const KNOWN_SERVICES = new Set(['', AUTHORIZATION_SERVICE, HEALTH_SERVICE]);

export class HealthService {
  private status: ServingStatus = 'NOT_SERVING';
  private readonly watchers = new Set<grpc.ServerWritableStream<HealthRequest, HealthResponse>>();

  get servingStatus(): ServingStatus {
    return this.status;
  }

  setStatus(status: ServingStatus): void {
    if (status === this.status) return;
    this.status = status;
    for (const call of this.watchers) {
      if (KNOWN_SERVICES.has(call.request.service)) call.write({ status });
    }
  }

  /** Ends every Watch stream (they would otherwise hold a graceful shutdown open). */
  endWatches(): void {
    for (const call of this.watchers) call.end();
    this.watchers.clear();
  }

  readonly implementation: grpc.UntypedServiceImplementation = {
    Check: (call: grpc.ServerUnaryCall<HealthRequest, HealthResponse>, callback: grpc.sendUnaryData<HealthResponse>) => {
      const service = call.request?.service ?? '';
      if (!KNOWN_SERVICES.has(service)) {
        callback({ code: grpc.status.NOT_FOUND, details: `unknown service ${JSON.stringify(service)}` });
        return;
      }
      callback(null, { status: this.status });
    },
    Watch: (call: grpc.ServerWritableStream<HealthRequest, HealthResponse>) => {
      const service = call.request?.service ?? '';
      call.write({ status: KNOWN_SERVICES.has(service) ? this.status : 'SERVICE_UNKNOWN' });
      this.watchers.add(call);
      const remove = () => this.watchers.delete(call);
      call.on('cancelled', remove);
      call.on('close', remove);
      call.on('error', remove);
    },
  };
}
