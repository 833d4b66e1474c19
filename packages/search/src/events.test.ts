import { describe, expect, it } from 'vitest';
import { eventLine, parseEventLog, type SearchEvent } from './events.js';

const events: SearchEvent[] = [
  { status: 'start', space: 'rfdn', backend: 'wasm', epochs: 2, stepsPerEpoch: 10, seed: 1 },
  { status: 'step', epoch: 0, step: 1, wLoss: 0.1 },
];

describe('event log', () => {
  it('round-trips events through JSONL', () => {
    expect(parseEventLog(events.map(eventLine).join(''))).toEqual(events);
  });

  it('drops a torn last line left by a killed run', () => {
    const text = events.map(eventLine).join('') + '{"status":"ep';
    expect(parseEventLog(text)).toEqual(events);
  });

  it('reports damage elsewhere with the line number', () => {
    const text = eventLine(events[0]!) + 'garbage\n' + eventLine(events[1]!);
    expect(() => parseEventLog(text, 'search.jsonl')).toThrow('search.jsonl: line 2 is not valid JSON');
    expect(() => parseEventLog('{"epoch":1}\n')).toThrow('line 1 is not an event');
  });
});
