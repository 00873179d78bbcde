// boot2container's pipeline bookkeeping: the status, who failed, the previous container and the
// shutdown mode, as every container sees them in its B2C_PIPELINE_* variables.
import type { ContainerSpec, EnvEntry } from '../cmdline/plan.ts';

/** A container that called reboot(2) inside its PID namespace ends as if killed by SIGHUP. */
export const EXIT_REBOOT_REQUEST = 129;
/** ... and poweroff as if killed by SIGINT. */
export const EXIT_POWEROFF_REQUEST = 130;
export const EXIT_TIMEOUT = 124;
/**
 * boot2container's status for a container it could not create: its `start_container` returns 1
 * when the image cannot be pulled or `podman create` fails five times, and when a hook fails.
 */
export const EXIT_CANNOT_CREATE = 1;
/** podman's code for "the container could not be started": b2c.switch_root's failure (ours). */
export const EXIT_NOT_STARTED = 125;

/** b2c's B2C_PIPELINE_SHUTDOWN_MODE: `default` until a container asks for a reboot or a power-off. */
export type ShutdownMode = 'default' | 'poweroff' | 'reboot';

export class PipelineState {
  status = 0;
  failedBy = '';
  previousContainer = '';
  previousExitCode: number | undefined;
  shutdownMode: ShutdownMode = 'default';
  /** ocinit's own reading: a b2c.container failed for another reason than a reboot or power-off request. */
  failedOtherwise = false;

  /** The B2C_PIPELINE_* variables for the next container. */
  environment(): EnvEntry[] {
    return [
      { name: 'B2C_PIPELINE_STATUS', value: String(this.status) },
      { name: 'B2C_PIPELINE_FAILED_BY', value: this.failedBy },
      { name: 'B2C_PIPELINE_PREV_CONTAINER', value: this.previousContainer },
      { name: 'B2C_PIPELINE_PREV_CONTAINER_EXIT_CODE', value: this.previousExitCode === undefined ? '' : String(this.previousExitCode) },
      { name: 'B2C_PIPELINE_SHUTDOWN_MODE', value: this.shutdownMode },
    ];
  }

  /** How the machine ends: b2c's `default` is a power-off. */
  get end(): 'poweroff' | 'reboot' {
    return this.shutdownMode === 'reboot' ? 'reboot' : 'poweroff';
  }

  /**
   * Records a finished b2c.container or b2c.post_container, as b2c's start_containers does: the
   * first non-zero exit code of a b2c.container is the status, 129/130 included (they also set the
   * shutdown mode); post containers never change the status. `status` is what the turn counts as
   * when it differs from the exit code (a failing container_end hook: 1).
   */
  record(container: ContainerSpec, exitCode: number, status = exitCode): void {
    this.previousContainer = container.source;
    this.previousExitCode = exitCode;
    if (exitCode === EXIT_REBOOT_REQUEST) this.shutdownMode = 'reboot';
    else if (exitCode === EXIT_POWEROFF_REQUEST) this.shutdownMode = 'poweroff';
    if (status === 0 || container.parameter !== 'b2c.container') return;
    if (status !== EXIT_REBOOT_REQUEST && status !== EXIT_POWEROFF_REQUEST) this.failedOtherwise = true;
    if (this.status === 0) {
      this.status = status;
      this.failedBy = container.source;
    }
  }

  /** A failure of the pipeline itself (hooks, volume set-up, timeout between containers). */
  fail(status: number, by: string): void {
    this.failedOtherwise = true;
    if (this.status !== 0) return;
    this.status = status;
    this.failedBy = by;
  }
}
