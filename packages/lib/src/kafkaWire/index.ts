export * from './protocol.js';
export * from './producer.js';
export * from './transaction.js';
export * from './transactionBatch.js';
export * from './fetch.js';
export * from './rawTopicConsumer.js';
