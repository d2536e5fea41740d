export * from './networking';
