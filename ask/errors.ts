/** A request the pipeline cannot serve as asked and the client can fix (no probe trained, no attention taps, nothing to answer from). */
export class PlanningError extends Error {}
