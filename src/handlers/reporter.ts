import { entriesOf, eventsOf, sendEvents, type EventSender, type RepositoryEvent, type RunKind } from './events';
import { emfLine, metricsOf, repositoryDimension } from './metrics';
import type { Report } from '../engine/engine';
import type { FormatName } from '../engine/format';

/** Where a repository's run reports go. */
export interface ReporterOptions {
  readonly format: FormatName;
  /** The repository's key prefix ('' or ending in '/'): the events' `repository`. */
  readonly prefix: string;
  /** The bucket: the events' `bucket`. @default - not said */
  readonly bucket?: string;
  /** The metrics' `Repository` dimension. @default - the prefix ('/' for the root) */
  readonly repositoryName?: string;
  /** Log lines (the EMF metric lines, errors of PutEvents). */
  readonly log: (line: string) => void;
  /** EventBridge: the client events are sent with. @default - no events are sent */
  readonly eventBridge?: EventSender;
  /** The bus name or ARN. @default - the account's default bus */
  readonly eventBusName?: string;
  /** Receives every event too (the local pipeline's sink). */
  readonly onEvent?: (event: RepositoryEvent) => void;
  /** The clock of the metric timestamps. @default () => new Date() */
  readonly now?: () => Date;
}

/** Reports one engine run: the metric line, then the events. Never throws for a failed PutEvents. */
export type RunReporter = (report: Report, run: RunKind) => Promise<void>;

/** A reporter for one repository: EMF metric line, EventBridge events and the `onEvent` sink. */
export function createReporter(options: ReporterOptions): RunReporter {
  const now = options.now ?? (() => new Date());
  const repository = repositoryDimension(options.prefix, options.repositoryName);
  return async (report, run) => {
    options.log(emfLine(metricsOf(report), { repository, format: options.format, run, now: now() }));
    const events = eventsOf(report, run, { repository: options.prefix, format: options.format, bucket: options.bucket });
    for (const event of events) {
      try {
        options.onEvent?.(event);
      } catch (e) {
        options.log(JSON.stringify({ level: 'error', events: 'onEvent failed', error: (e as Error)?.message ?? String(e) }));
      }
    }
    if (options.eventBridge && events.length > 0) await sendEvents(options.eventBridge, entriesOf(events, options.eventBusName), options.log);
  };
}
