import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';

/** One PutEvents entry as received. */
export interface ReceivedEntry {
  readonly Source: string;
  readonly DetailType: string;
  readonly Detail: string;
  readonly EventBusName?: string;
}

/** What the stand-in answers a PutEvents request with. */
export type PutEventsBehaviour =
  | { readonly kind: 'accept' }
  /** Entries whose DetailType matches get an ErrorCode (FailedEntryCount counts them). */
  | { readonly kind: 'fail-entries'; readonly detailType: string }
  /** The whole request fails with HTTP 400 AccessDeniedException (not retried by the SDK). */
  | { readonly kind: 'deny' };

/**
 * A stand-in for EventBridge on 127.0.0.1 speaking the PutEvents JSON protocol (there is no local
 * EventBridge to run): it records every request's entries and answers as `behaviour` says.
 */
export interface EventBridgeStandIn {
  readonly url: string;
  /** The entries of each PutEvents request, in arrival order. */
  readonly requests: ReceivedEntry[][];
  behaviour: PutEventsBehaviour;
  /** A client pointed at the stand-in. */
  client(): EventBridgeClient;
  close(): Promise<void>;
}

export async function startEventBridgeStandIn(): Promise<EventBridgeStandIn> {
  const requests: ReceivedEntry[][] = [];
  let nextId = 1;
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      const reply = (status: number, payload: object) => {
        res.writeHead(status, { 'content-type': 'application/x-amz-json-1.1' });
        res.end(JSON.stringify(payload));
      };
      if (req.headers['x-amz-target'] !== 'AWSEvents.PutEvents') return reply(400, { __type: 'UnknownOperationException', message: String(req.headers['x-amz-target']) });
      const entries = (JSON.parse(body) as { Entries: ReceivedEntry[] }).Entries;
      requests.push(entries);
      const behaviour = standIn.behaviour;
      if (behaviour.kind === 'deny') return reply(400, { __type: 'AccessDeniedException', message: 'not authorized to perform events:PutEvents' });
      const results = entries.map((e) => (behaviour.kind === 'fail-entries' && e.DetailType === behaviour.detailType
        ? { ErrorCode: 'InternalFailure', ErrorMessage: 'the entry could not be processed' }
        : { EventId: `event-${nextId++}` }));
      return reply(200, { FailedEntryCount: results.filter((r) => 'ErrorCode' in r).length, Entries: results });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const standIn: EventBridgeStandIn = {
    url,
    requests,
    behaviour: { kind: 'accept' },
    client: () => new EventBridgeClient({ endpoint: url, region: 'eu-west-1', credentials: { accessKeyId: 'TEST', secretAccessKey: 'TEST' } }),
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
  return standIn;
}
