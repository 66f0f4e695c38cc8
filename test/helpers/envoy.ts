// The real Envoy binary for tests: lives in bench/lib (shared with bench/envoy-cost.ts).
export * from '../../bench/lib/envoy-process.js';
