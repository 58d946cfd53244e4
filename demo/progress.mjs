// The demo's terminal progress: one status line per contender, never wider than 80 columns (or
// the terminal, if narrower). On a terminal the line is redrawn in place (log-update); when the
// output is a file or a pipe, it is printed at most once a second, and each final line once.
import { createLogUpdate } from 'log-update';

const COLUMNS = 80;

/** Cuts `line` to `width` characters (an ellipsis marks the cut). */
export function fit(line, width) {
  return line.length <= width ? line : `${line.slice(0, width - 1)}…`;
}

/** A progress display on `stream`: `show(line)` while a contender runs, `done(line)` when it ends. */
export function createProgress(stream = process.stdout) {
  // One column short of the width: a line that fills the last column makes some terminals wrap.
  const width = () => Math.min(COLUMNS, stream.columns || COLUMNS) - 1;
  if (stream.isTTY) {
    const update = createLogUpdate(stream);
    return {
      show: (line) => update(fit(line, width())),
      done: (line) => {
        update(fit(line, width()));
        update.done();
      },
    };
  }
  let shownAt = -Infinity;
  return {
    show: (line) => {
      const now = performance.now();
      if (now - shownAt < 1000) return;
      shownAt = now;
      stream.write(`${fit(line, width())}\n`);
    },
    done: (line) => {
      shownAt = -Infinity;
      stream.write(`${fit(line, width())}\n`);
    },
  };
}
