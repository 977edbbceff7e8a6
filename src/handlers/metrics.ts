import { METRICS_DIMENSION, METRICS_NAMESPACE, MetricName } from './contract';
import type { RunKind } from './events';
import type { Report } from '../engine/engine';
import type { FormatName } from '../engine/format';

/**
 * The indexer's CloudWatch metrics as Embedded Metric Format log lines: one JSON line per engine
 * run that CloudWatch Logs turns into data points (namespace `PackageRepositories`, dimension
 * `Repository`), with no API call and no extra permission.
 * @see https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html
 */

/** The counts of one run. */
export interface RunMetrics {
  readonly [MetricName.REJECTED_PACKAGES]: number;
  readonly [MetricName.INDEXED_PACKAGES]: number;
  readonly [MetricName.PUBLISHED_INDEXES]: number;
}

/** What a report counts for: rejections, packages added to an index, indexes published. */
export function metricsOf(report: Report): RunMetrics {
  return {
    [MetricName.REJECTED_PACKAGES]: report.rejected.length,
    [MetricName.INDEXED_PACKAGES]: report.units.reduce((sum, u) => sum + u.added.length, 0),
    [MetricName.PUBLISHED_INDEXES]: report.units.filter((u) => u.published).length,
  };
}

/** The `Repository` dimension for a repository under `prefix`: its configured name, else the prefix ('/' for the root). */
export function repositoryDimension(prefix: string, name?: string): string {
  return name || prefix || '/';
}

/** What an EMF line says besides the counts. */
export interface EmfContext {
  /** The `Repository` dimension's value. */
  readonly repository: string;
  readonly format: FormatName;
  readonly run: RunKind;
  readonly now: Date;
}

/**
 * One EMF line: the three metrics (unit Count) under the `Repository` dimension, plus `format` and
 * `run` as searchable properties (not dimensions).
 */
export function emfLine(metrics: RunMetrics, context: EmfContext): string {
  return JSON.stringify({
    _aws: {
      Timestamp: context.now.getTime(),
      CloudWatchMetrics: [{
        Namespace: METRICS_NAMESPACE,
        Dimensions: [[METRICS_DIMENSION]],
        Metrics: Object.keys(metrics).map((name) => ({ Name: name, Unit: 'Count' })),
      }],
    },
    [METRICS_DIMENSION]: context.repository,
    ...metrics,
    format: context.format,
    run: context.run,
  });
}
