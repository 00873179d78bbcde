// boot2container's pipeline bookkeeping: the status, who failed, the previous container and the
// shutdown mode, as every container sees them in its B2C_PIPELINE_* variables.
import type { ContainerSpec, EnvEntry } from '../cmdline/plan.ts';

/** A container that called reboot(2) inside its PID namespace ends as if killed by SIGHUP. */
export const EXIT_REBOOT_REQUEST = 129;
/** ... and poweroff as if killed by SIGINT. */
export const EXIT_POWEROFF_REQUEST = 130;
export const EXIT_TIMEOUT = 124;
/** podman's code for "the container could not be started" (bad image, user, mount ...). */
export const EXIT_NOT_STARTED = 125;

export type ShutdownMode = 'poweroff' | 'reboot';

export class PipelineState {
  status = 0;
  failedBy = '';
  previousContainer = '';
  previousExitCode: number | undefined;
  shutdownMode: ShutdownMode = 'poweroff';

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

  /**
   * Records a finished b2c.container or b2c.post_container. A reboot/poweroff request sets the
   * shutdown mode and, unlike boot2container, is not a failure. Post containers never change the status.
   */
  record(container: ContainerSpec, exitCode: number): void {
    this.previousContainer = container.source;
    this.previousExitCode = exitCode;
    if (exitCode === EXIT_REBOOT_REQUEST) this.shutdownMode = 'reboot';
    else if (exitCode === EXIT_POWEROFF_REQUEST) this.shutdownMode = 'poweroff';
    else if (exitCode !== 0 && this.status === 0 && container.parameter === 'b2c.container') {
      this.status = exitCode;
      this.failedBy = container.source;
    }
  }

  /** A failure of the pipeline itself (timeout between containers, images that could not be pulled). */
  fail(status: number, by: string): void {
    if (this.status !== 0) return;
    this.status = status;
    this.failedBy = by;
  }
}
