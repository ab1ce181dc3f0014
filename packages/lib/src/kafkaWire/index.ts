export * from './protocol.js';
export * from './producer.js';
export * from './fetch.js';
