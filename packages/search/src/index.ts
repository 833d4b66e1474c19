export { eventLine, parseEventLog, type SearchEvent, type TrainEvent } from './events.js';
