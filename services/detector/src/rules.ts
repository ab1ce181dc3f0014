/** The outage rules live in rules/ (see rules/index.ts); this barrel keeps the './rules.js' imports working. */
export * from './rules/index.js';
