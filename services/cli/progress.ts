import { MultiBar, Presets, SingleBar, type Options } from 'cli-progress';

/** On a terminal the bar redraws in place; elsewhere (a pipe, a CI log) a plain line is printed this often. */
export const PLAIN_PROGRESS_INTERVAL_MS = 5000;

function options(ttyFormat: string, plainFormat: string): Options {
  const tty = process.stderr.isTTY === true;
  return {
    stream: process.stderr,
    format: tty ? ttyFormat : plainFormat,
    hideCursor: tty,
    noTTYOutput: true,
    notTTYSchedule: PLAIN_PROGRESS_INTERVAL_MS,
  };
}

/** Progress on stderr: a bar on a terminal, a line every few seconds when stderr is not a terminal. */
export function progressBar(ttyFormat: string, plainFormat: string): SingleBar {
  return new SingleBar(options(ttyFormat, plainFormat), Presets.shades_classic);
}

export function progressBars(ttyFormat: string, plainFormat: string): MultiBar {
  return new MultiBar({ ...options(ttyFormat, plainFormat), clearOnComplete: false }, Presets.shades_classic);
}
