// Test bootstraps: live in bench/lib (shared with bench/envoy-cost.ts).
export * from '../../bench/lib/envoy-config.js';
