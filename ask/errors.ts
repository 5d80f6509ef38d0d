import { DomainError } from '../infra/errors.js';

/** A request the pipeline cannot serve as asked and the client can fix (no probe trained, no attention taps, nothing to answer from). */
export class PlanningError extends DomainError {
  constructor(message: string) {
    super('invalid', message);
  }
}
