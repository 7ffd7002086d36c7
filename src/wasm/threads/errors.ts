// The typed error of the thread pool: a worker that failed, died or did not finish in time.
import { MlaError } from "../../errors.js";

/**
 * A thread of the pool failed: a kernel call threw or trapped in a worker (`field` names the
 * worker, `value` its message), a worker did not start, or a step did not finish within the
 * pool's timeout (a worker died or hangs; the pool is then broken and must be recreated), or the
 * pool was used after terminate(). The outputs of the failed call are not written.
 */
export class ThreadError extends MlaError {}
