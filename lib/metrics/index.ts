/** Metrics: one instrument registry per container, exported as CloudWatch EMF and Prometheus remote write. */
export { EmfExporter, type Snapshot } from './emf';
export { LATENCY_BUCKETS, PipelineMetrics, type RecordStage } from './instruments';
export { type FlushReport, type MetricsConfig, MetricsPublisher, parseMetricsConfig } from './publisher';
export { encodeWriteRequest, type PushResult, RemoteWriteExporter, type RemoteWriteOptions } from './remote-write';
export { sigv4Signer } from './sigv4';
