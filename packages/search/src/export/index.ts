export { buildArtifact, exportModel, EXPORT_PRODUCER, ExportError, type ExportAdqOptions, type ExportOptions } from './export-model.js';
