// poolifier worker for bench/overhead.mjs: the same task functions as bench/tasks.mjs, registered
// by name on a ThreadWorker (`pool.execute(input, 'noop' | 'cpu')`).
import { ThreadWorker } from 'poolifier';
import { noop, cpu } from '../tasks.mjs';

export default new ThreadWorker({ noop, cpu });
