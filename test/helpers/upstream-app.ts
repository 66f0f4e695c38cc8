// The upstream app behind Envoy: lives in bench/lib (shared with bench/envoy-cost.ts).
export * from '../../bench/lib/upstream-app.js';
