export * from '../../../tools/testing/penalty-helpers.js';
