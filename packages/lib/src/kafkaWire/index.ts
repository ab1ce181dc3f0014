export * from './protocol.js';
export * from './producer.js';
