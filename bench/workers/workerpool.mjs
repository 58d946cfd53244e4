// workerpool worker for bench/overhead.mjs: the same task functions as bench/tasks.mjs, registered
// by name (`pool.exec('noop' | 'cpu', [input])`).
import workerpool from 'workerpool';
import { noop, cpu } from '../tasks.mjs';

workerpool.worker({ noop, cpu });
